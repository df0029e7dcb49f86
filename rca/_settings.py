"""Settings from RCA_* environment variables; every one has a default that runs the embedded setup."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RCA_", extra="ignore")

    database_url: str = "sqlite:///var/rca.db"
    # Auth is on unless switched off explicitly (the demo does, on loopback only).
    auth_disabled: bool = False
    max_body_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    max_batch_items: int = Field(default=10_000, ge=1)
    host: str = "127.0.0.1"
    port: int = 8080
    token_cache_seconds: float = Field(default=30.0, ge=0)
    lag_window_seconds: int = Field(default=300, ge=1)
