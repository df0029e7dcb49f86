"""Tables of the evidence store. The same models serve SQLite and PostgreSQL; Alembic migrations create them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Dialect,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.types import TypeDecorator

# Constraint names are fixed so that migrations read the same on every database.
metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class UTCDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out, on SQLite (which keeps no offset) as on PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value.isoformat()} cannot be stored: evidence times carry an offset")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


URN = String(512)

evidence = Table(
    "evidence",
    metadata,
    Column("evidence_id", String(32), primary_key=True),  # stable hash of (source, source_ref): the idempotency key
    Column("source", URN, nullable=False),
    Column("source_ref", String(512), nullable=False),
    Column("type", String(40), nullable=False),
    Column("dataset_urn", URN),
    Column("producer_urn", URN),
    Column("schema_id", String(128)),
    Column("sequence", BigInteger),
    Column("event_time", UTCDateTime(), nullable=False),
    Column("ingest_time", UTCDateTime(), nullable=False),
    Column("deploy_ref", String(512)),
    Column("reason_code", String(40)),
    Column("field", String(512)),
    Column("run_id", String(512)),
    Column("traceparent", String(64)),
    Column("payload", Text, nullable=False),  # the event as received, JSON
    # The detectors' questions: a dataset's evidence in a window, a producer's events of one type, lag.
    Index(None, "dataset_urn", "event_time"),
    Index(None, "producer_urn", "type", "event_time"),
    Index(None, "type", "event_time"),
    Index(None, "ingest_time"),
    Index(None, "event_time", "evidence_id"),  # GET /v1/evidence pages in this order (migration 0011)
)

gate_counters = Table(
    "gate_counters",
    metadata,
    Column("dataset_urn", URN, primary_key=True),
    Column("producer_urn", URN, primary_key=True),
    Column("schema_id", String(128), primary_key=True),
    Column("reason_code", String(40), primary_key=True),
    Column("field", String(512), primary_key=True),
    Column("bucket", UTCDateTime(), primary_key=True),
    Column("count", BigInteger, nullable=False),
    Column("first_time", UTCDateTime(), nullable=False),
    Column("first_ref", String(512), nullable=False),
    Column("last_time", UTCDateTime(), nullable=False),
    Column("last_ref", String(512), nullable=False),
    Column("samples", Text, nullable=False),  # JSON list of source refs
    Index(None, "dataset_urn", "bucket"),
)

# Detector passes shared by several processes on one PostgreSQL (detectors/_leases.py): a pass takes shards of the
# datasets with SELECT ... FOR UPDATE SKIP LOCKED, and its row locks are its leases (a dead process's go with its
# connection); `passed_at` is the clock of the last pass that finished the shard, so none evaluates it twice.
detector_shards = Table(
    "detector_shards",
    metadata,
    Column("shard", Integer, primary_key=True, autoincrement=False),
    Column("passed_at", UTCDateTime()),
    Column("passed_by", String(128)),
)

# One row: a number that triggers (migration 0013) raise on every write to `configs`, so that a detector process
# keeping the active configuration asks this row whether it changed instead of reading every config.
config_version = Table(
    "config_version",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("version", BigInteger, nullable=False),
)

# Operator-owned configuration: freshness policies, contracts, resolution rules, lineage edges.
configs = Table(
    "configs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(16), nullable=False),
    Column("key", String(1024), nullable=False),  # the natural key, so a re-submitted spec updates in place
    Column("spec", Text, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    UniqueConstraint("kind", "key"),
)

tokens = Table(
    "tokens",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(128), nullable=False),
    Column("role", String(16), nullable=False),  # writer | reader | admin
    Column("producers", Text, nullable=False),  # JSON list of URN glob patterns (writers)
    Column("datasets", Text, nullable=False),  # JSON list of dataset URN glob patterns a writer may speak for
    Column("secret_sha256", String(64), nullable=False, unique=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("revoked_at", UTCDateTime()),
)

# The SDK kill switch (GET /v1/control/{producer}): a row per producer or per domain.
controls = Table(
    "controls",
    metadata,
    Column("scope", String(16), primary_key=True),  # producer | domain
    Column("name", URN, primary_key=True),
    Column("domain", String(128)),
    Column("enabled", Boolean, nullable=False),
    Column("killed", Boolean, nullable=False),
    Column("ring", Integer, nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
)

# A producer's flag per environment (staging, prod, ...): what a rollout ring turned on where. An SDK that says its
# environment (GET /v1/control/{producer}?env=) obeys its environment's row on top of the switches above.
control_environments = Table(
    "control_environments",
    metadata,
    Column("producer", URN, primary_key=True),
    Column("environment", String(64), primary_key=True),
    Column("enabled", Boolean, nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
)


# /healthz writes here: a database that cannot take a one-row write (read-only, disk full, down) is not healthy.
service_health = Table(
    "service_health",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("checked_at", UTCDateTime(), nullable=False),
)


def row_dict(row: Any) -> dict[str, Any]:
    return dict(row._mapping)


# Kafka records are deduplicated by offset: a few processed-offset ranges per partition, not a row per record.
gate_offsets = Table(
    "gate_offsets",
    metadata,
    Column("topic", String(255), primary_key=True),
    Column("partition", Integer, primary_key=True),
    Column("ranges", Text, nullable=False),  # JSON [[first, last], ...], sorted, disjoint
)

# Drift: a new schema on a mapped topic, or a record two rules claim, opens a change request.
change_requests = Table(
    "change_requests",
    metadata,
    Column("id", String(32), primary_key=True),  # stable: hash of (topic, schema id, reason)
    Column("topic", String(255), nullable=False),
    Column("schema_id", String(128), nullable=False),
    Column("reason_code", String(40), nullable=False),
    Column("status", String(16), nullable=False),  # open | approved | rejected
    Column("proposal", Text, nullable=False),  # JSON: the resolution rule it proposes
    Column("detail", Text, nullable=False),  # JSON: candidates, header hints
    Column("first_seen_time", UTCDateTime(), nullable=False),
    Column("first_seen_ref", String(512), nullable=False),
    Column("last_seen_time", UTCDateTime(), nullable=False),
    Column("held", Integer, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("decided_at", UTCDateTime()),
    Column("decided_by", String(128)),
    Column("decision_note", Text),
    Index(None, "topic", "schema_id"),
)

# Records held back from attribution until a human approves a rule for them (never attributed silently).
held_records = Table(
    "held_records",
    metadata,
    Column("change_request_id", String(32), primary_key=True),
    Column("source_ref", String(512), primary_key=True),
    Column("record", Text, nullable=False),  # JSON of the Kafka record as received
)

incidents = Table(
    "incidents",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("dataset_urn", URN, nullable=False),
    Column("kind", String(16), nullable=False),  # freshness | contract | drift
    Column("status", String(16), nullable=False),  # open | resolved
    Column("reason_code", String(40), nullable=False),
    Column("detected_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    Column("resolved_at", UTCDateTime()),
    Column("owner_team", String(128)),
    Column("tier", Integer),
    Column("body", Text, nullable=False),  # the incident JSON the API returns
    Index(None, "status", "dataset_urn", "kind"),
    Index(None, "detected_at"),
)

# The Slack outbox: one row per incident to announce, written in the transaction that opens (or reopens) it, so a
# process that dies after the commit cannot lose the announcement; rca/_announce.py delivers them
# (evidence/_announcements.py claims them). state: pending | sent | given_up | skipped.
announcements = Table(
    "announcements",
    metadata,
    Column("incident_id", String(32), primary_key=True),
    Column("state", String(16), nullable=False),
    Column("pending_since", UTCDateTime(), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", UTCDateTime(), nullable=False),
    Column("sent_at", UTCDateTime()),
    Column("last_error", Text),
    Index(None, "state", "next_attempt_at"),
)

# Copilot chat sessions: the history a follow-up question is read against.
chat_sessions = Table(
    "chat_sessions",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("incident_id", String(32)),
    Column("created_at", UTCDateTime(), nullable=False),
)

chat_turns = Table(
    "chat_turns",
    metadata,
    Column("session_id", String(40), primary_key=True),
    Column("seq", Integer, primary_key=True),
    Column("role", String(16), nullable=False),  # user | assistant
    Column("body", Text, nullable=False),  # JSON: {"text"} or the verified answer
    Column("at", UTCDateTime(), nullable=False),
)

# Policy skeletons: baseline policies and contracts drafted from evidence, waiting for a human to accept them.
policy_drafts = Table(
    "policy_drafts",
    metadata,
    Column("id", String(32), primary_key=True),  # stable: hash of (kind, dataset, spec), so re-suggesting is a no-op
    Column("kind", String(16), nullable=False),  # policy | contract
    Column("dataset_urn", URN, nullable=False),
    Column("spec", Text, nullable=False),  # JSON: the FreshnessPolicy or Contract it proposes
    Column("basis", Text, nullable=False),  # JSON: what it was drafted from (counts, medians, evidence ids)
    Column("status", String(16), nullable=False),  # draft | accepted | dismissed
    Column("created_at", UTCDateTime(), nullable=False),
    Column("decided_at", UTCDateTime()),
    Column("decided_by", String(128)),
    Index(None, "dataset_urn", "kind"),
)

# The PR-bot's pull requests (rollout/): every onboarding or removal PR it opened on any forge, as last seen. For the
# `local` forge (bare git repositories, demos and air-gapped fleets) this table is where the pull requests live.
rollout_pull_requests = Table(
    "rollout_pull_requests",
    metadata,
    Column("forge", String(16), primary_key=True),  # local | github | gitlab
    Column("repo", String(255), primary_key=True),  # owner/name, group/project, or the local repository's name
    Column("number", Integer, primary_key=True),  # the forge's PR / MR number (GitLab's iid)
    Column("kind", String(16), nullable=False),  # onboard | remove
    Column("branch", String(255), nullable=False),
    Column("base", String(255), nullable=False),
    Column("archetype", String(32), nullable=False),
    Column("title", String(255), nullable=False),
    Column("body", Text, nullable=False),
    Column("state", String(16), nullable=False),  # open | closed | merged
    Column("url", String(1024), nullable=False),
    Column("head_sha", String(64), nullable=False),
    Column("sdk_version", String(64), nullable=False),
    Column("ring", Integer, nullable=False),
    Column("dry_run", String(16), nullable=False),  # passed | failed | not_run
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    Column("closed_at", UTCDateTime()),
    Column("merged_at", UTCDateTime()),
    # Owner routing (issue 22): JSON lists of the handles asked to review and assigned, from CODEOWNERS / the catalog.
    Column("reviewers", Text, nullable=False, server_default="[]"),
    Column("assignees", Text, nullable=False, server_default="[]"),
    Index(None, "forge", "repo", "branch"),
)

# Fleet campaigns (rollout/_program.py): the campaign as written (definition) and what it has done (state), both JSON
# documents the rollout package reads with its own typed models; one row per campaign.
rollout_campaigns = Table(
    "rollout_campaigns",
    metadata,
    Column("name", String(128), primary_key=True),
    Column("definition", Text, nullable=False),
    Column("state", Text, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
)

# Issues the local forge keeps (a campaign's tracking issue), like its pull requests.
rollout_issues = Table(
    "rollout_issues",
    metadata,
    Column("forge", String(16), primary_key=True),
    Column("repo", String(255), primary_key=True),
    Column("number", Integer, primary_key=True),
    Column("title", String(255), nullable=False),
    Column("body", Text, nullable=False),
    Column("state", String(16), nullable=False),  # open | closed
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
)
