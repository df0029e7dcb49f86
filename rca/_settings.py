"""Settings from RCA_* environment variables; every one has a default that runs the embedded setup."""

from __future__ import annotations

import os
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from detectors import DetectSettings


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RCA_", extra="ignore")

    database_url: str = "sqlite:///var/rca.db"
    # Auth is on unless switched off explicitly (the demo does, on loopback only).
    auth_disabled: bool = False
    # Ingestion bodies (events, OpenLineage, gate records); every other route's body is held to max_request_bytes.
    max_body_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    max_request_bytes: int = Field(default=1024 * 1024, ge=1024)
    max_batch_items: int = Field(default=10_000, ge=1)
    host: str = "127.0.0.1"
    port: int = 8080
    # After SIGTERM, `rca serve` lets requests in flight finish for this long, then cancels them and exits: a client
    # that stalls mid-body cannot hold a rollout (or an orchestrator's SIGKILL) past it.
    shutdown_grace_s: int = Field(default=20, ge=1)
    # `rca serve` as this many worker processes on one port (PostgreSQL only): each runs the API and the in-process
    # loops, sharing the work with the others as replicas do (leases, the outbox, the ingest lock).
    workers: int = Field(default=1, ge=1, le=64)
    token_cache_seconds: float = Field(default=30.0, ge=0)
    lag_window_seconds: int = Field(default=300, ge=1)
    # Embedded Chroma for chat's semantic search (RCA_CHROMA_URL selects a server instead).
    chroma_path: str = "var/chroma"
    # Detectors inside `rca serve`: every this many seconds (0: only on POST /v1/detect or `rca detect`).
    detect_interval_s: float = Field(default=60.0, ge=0)
    # Detector passes read and compute in a worker process, so that write load on the API does not slow them.
    detect_in_worker: bool = True
    # On PostgreSQL, passes lease shards of the datasets in the database, so that several `rca serve` replicas (and
    # `rca detect` runs) share them: each dataset evaluated once a pass, each incident opened and announced once.
    detect_leases: bool = True
    # Evidence older than this many days is dropped (`rca db prune`, and hourly inside `rca serve`); 0 keeps it all.
    retention_days: int = Field(default=0, ge=0)
    stale_threshold_s: float = Field(default=120.0, gt=0)
    stale_window_s: float = Field(default=300.0, gt=0)
    stale_action: Literal["tag", "pause"] = "tag"
    # Evidence older than this on arrival is a backfill: counted apart (rca_ingest_backfill_events_total), never
    # in the lag that raises rca_ingestion_lag_alert or tags incidents stale.
    backfill_after_s: float = Field(default=6 * 3600.0, gt=0)
    contract_recovery_minutes: int = Field(default=60, ge=1)
    # GET /metrics takes a reader token unless this is true (a scraper inside a trusted network).
    metrics_public: bool = False
    # The dataset URN of an OpenLineage dataset: {name}, {namespace}, {namespace_path} (evidence/_openlineage_parts.py).
    openlineage_dataset_urn: str = "ds://{name}"
    # The producer URN of an OpenLineage job, same placeholders: the namespace keeps two schedulers' jobs apart.
    openlineage_job_urn: str = "job://{namespace_path}/{name}"
    # The contract gate as a Kafka consumer inside `rca serve` (off unless a bootstrap address is set); the same
    # settings are the defaults of `rca gate consume`. librdkafka's own settings: RCA_KAFKA_CONFIG (a properties
    # file) and RCA_LIBRDKAFKA_* (rca/_kafka_config.py).
    kafka_bootstrap: str | None = None
    kafka_group: str = "rca-gate"
    kafka_topics: str = ""  # comma-separated names, or regular expressions starting with ^
    kafka_config: str | None = None
    kafka_max_value_bytes: int = Field(default=1024 * 1024, ge=1024)
    # A Confluent Schema Registry: the gate (API and consumer) decodes Avro, Protobuf and JSON Schema frames with
    # the writer's schema. Client settings: RCA_SCHEMA_REGISTRY_<SETTING> (rca/_registry.py).
    schema_registry_url: str | None = None

    # The copilot's model (copilot/_langchain.py: RCA_LLM_*, RCA_PROMPTS_DIR) and its guard (copilot/_guard.py);
    # chat's semantic search (evidence/_vector.py: RCA_CHROMA_URL, RCA_EMBEDDER_*); the Slack bot's signing secret
    # (rca/_slack.py mounts the bot when it is set). Read here only; the copilot and the index get them as RCA_*
    # names (`model_environment`) and say there what a wrong value should be.
    llm_class: str | None = None
    llm_model: str | None = None
    llm_base_url: str | None = None
    llm_api_key: str | None = None
    llm_timeout: str | None = None
    llm_kwargs: str | None = None
    llm_prompt: str | None = None
    llm_chat_timeout: str | None = None
    llm_cooldown_s: str | None = None
    prompts_dir: str | None = None
    chroma_url: str | None = None
    embedder: str | None = None
    embedder_model: str | None = None
    embedder_dim: str | None = None
    embedder_api_key: str | None = None
    embedder_base_url: str | None = None
    slack_signing_secret: str | None = None
    # `rca login` profiles (rca/_client.py): RCA_CONFIG_DIR holds profiles.yml (else $XDG_CONFIG_HOME/rca, else
    # ~/.config/rca); RCA_PROFILE picks a saved profile (else the file's `current`).
    config_dir: str | None = None
    xdg_config_home: str | None = Field(default=None, validation_alias="XDG_CONFIG_HOME")
    profile: str | None = None

    def model_environment(self) -> dict[str, str]:
        """The model, guard and semantic-search settings that are set, by their RCA_* names."""
        return {f"RCA_{name.upper()}": value for name in _MODEL_SETTINGS if (value := getattr(self, name)) is not None}

    def families(self) -> dict[str, str]:
        """The open-ended RCA_* families, by name: librdkafka's RCA_LIBRDKAFKA_<SETTING> (rca/_kafka_config.py) and
        the schema registry client's RCA_SCHEMA_REGISTRY_<SETTING> (rca/_registry.py). Read here, the one place
        that reads the environment; each reader keeps the prefix it owns."""
        return {name: value for name, value in os.environ.items() if name.startswith(_FAMILIES)}

    def detect_settings(self) -> DetectSettings:
        return DetectSettings(stale_threshold_s=self.stale_threshold_s, stale_window_s=self.stale_window_s,
                              stale_action=self.stale_action, backfill_after_s=self.backfill_after_s,
                              contract_recovery_minutes=self.contract_recovery_minutes)


_FAMILIES = ("RCA_LIBRDKAFKA_", "RCA_SCHEMA_REGISTRY_")
_MODEL_SETTINGS = ("llm_class", "llm_model", "llm_base_url", "llm_api_key", "llm_timeout", "llm_kwargs", "llm_prompt",
                   "llm_chat_timeout", "llm_cooldown_s", "prompts_dir", "chroma_url", "embedder", "embedder_model",
                   "embedder_dim", "embedder_api_key", "embedder_base_url")
