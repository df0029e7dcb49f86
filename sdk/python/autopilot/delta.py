"""Delta commit hook: read a table's newest commit from its `_delta_log` and emit DatasetWriteCommitted.

    from autopilot.delta import emit_delta_commit

    df.write.format("delta").mode("append").partitionBy("dt").save(path)
    emit_delta_commit(path, dataset_urn="ds://curated/orders_enriched", run_id=run.run_id)

Reads the log directly (no Spark, no deltalake at run time), so it works after a write by Spark
(camelCase `operationMetrics` with string values: `"numOutputRows": "123"`) or by delta-rs
(snake_case integers: `"num_added_rows": 123`). https://github.com/delta-io/delta/blob/master/PROTOCOL.md
"""

from __future__ import annotations

import json
import logging
import os
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Union

from . import get_client
from ._client import Client

__all__ = ["DeltaCommit", "commit_event_data", "emit_delta_commit", "read_latest_commit"]

logger = logging.getLogger("autopilot")

_COMMIT_FILE = re.compile(r"^(\d{20})\.json$")
# The first key present wins: Spark's camelCase first, then delta-rs's snake_case.
_ROW_KEYS = ("numOutputRows", "num_output_rows", "num_added_rows", "numTargetRowsInserted")
_FILE_KEYS = ("numFiles", "numAddedFiles", "num_added_files", "numTargetFilesAdded")
_NULL_PARTITION = "__HIVE_DEFAULT_PARTITION__"  # how Hive-style paths spell a null partition value

PathLike = Union[str, "os.PathLike[str]"]


@dataclass(frozen=True)
class DeltaCommit:
    version: int
    timestamp: str | None  # RFC 3339, UTC
    operation: str | None
    partitions: list[str] = field(default_factory=list)  # "dt=2026-01-18", "dt=2026-01-18/hour=02"
    rows: int | None = None
    files_added: int = 0
    engine: str | None = None


def read_latest_commit(table_path: PathLike) -> DeltaCommit | None:
    """The newest commit of the table at `table_path` (a local path, file: URI or dbfs:/ path)."""
    log_dir = os.path.join(_local_path(table_path), "_delta_log")
    versions = [int(m.group(1)) for m in map(_COMMIT_FILE.match, os.listdir(log_dir)) if m]
    if not versions:
        return None
    version = max(versions)
    commit_file = os.path.join(log_dir, f"{version:020d}.json")
    with open(commit_file, encoding="utf-8") as handle:
        actions = [json.loads(line) for line in handle if line.strip()]
    return _commit_from_actions(version, actions, os.path.getmtime(commit_file))


def commit_event_data(commit: DeltaCommit, dataset_urn: str, run_id: str | None = None) -> dict[str, Any]:
    """DatasetWriteCommitted's data for one commit (DESIGN.md, Envelope v1)."""
    data: dict[str, Any] = {"dataset_urn": dataset_urn}
    if run_id:
        data["run_id"] = run_id
    data.update(
        commit_version=commit.version,
        commit_timestamp=commit.timestamp,
        output_partitions_written=commit.partitions,
        rows_written=commit.rows,
        files_added=commit.files_added,
    )
    # Unknown data fields are kept by the service; these help on-call read the evidence.
    if commit.operation:
        data["operation"] = commit.operation
    if commit.engine:
        data["engine"] = commit.engine
    return data


def emit_delta_commit(
    table_path: PathLike,
    dataset_urn: str | None = None,
    *,
    run_id: str | None = None,
    source: str | None = None,
    client: Client | None = None,
) -> DeltaCommit | None:
    """Emit DatasetWriteCommitted for the table's newest commit; the commit, or None. Never raises.

    `dataset_urn` defaults to the table's location; pass the name your catalog uses.
    """
    try:
        if client is None:
            client = get_client()
        if not client.active:
            return None  # off means off: not even a directory listing
        commit = read_latest_commit(table_path)
        if commit is None:
            logger.warning("autopilot: %s has no Delta commits; nothing emitted.", table_path)
            return None
        urn = dataset_urn or _table_uri(table_path)
        client.emit(
            "DatasetWriteCommitted",
            commit_event_data(commit, urn, run_id),
            subject=urn,
            # One event per commit: re-running the hook for the same commit is idempotent.
            event_id=f"commit:{urn}@{commit.version}",
            time=commit.timestamp,
            source=source,
        )
        return commit
    except Exception as exc:
        logger.warning("autopilot: could not read the Delta commit of %s: %r", table_path, exc)
        return None


def _commit_from_actions(version: int, actions: list[dict[str, Any]], file_mtime: float) -> DeltaCommit:
    info: dict[str, Any] = next((a["commitInfo"] for a in actions if "commitInfo" in a), {})
    adds = [a["add"] for a in actions if isinstance(a.get("add"), dict)]
    metrics = info.get("operationMetrics") or {}
    partitions = sorted({p for p in (_partition(a.get("partitionValues") or {}) for a in adds) if p})
    rows = _first_int(metrics, _ROW_KEYS)
    if rows is None:
        rows = _rows_from_stats(adds)
    files = len(adds) if adds else (_first_int(metrics, _FILE_KEYS) or 0)
    millis = info.get("inCommitTimestamp") or info.get("timestamp")
    if millis is None and adds:
        millis = max((a.get("modificationTime") or 0) for a in adds) or None
    seconds = int(millis) / 1000 if millis is not None else file_mtime
    timestamp = datetime.fromtimestamp(seconds, timezone.utc).isoformat(timespec="milliseconds")
    return DeltaCommit(
        version=version,
        timestamp=timestamp,
        operation=info.get("operation"),
        partitions=partitions,
        rows=rows,
        files_added=files,
        engine=info.get("engineInfo"),
    )


def _partition(values: dict[str, Any]) -> str:
    return "/".join(f"{k}={_NULL_PARTITION if v is None else v}" for k, v in values.items())


def _first_int(metrics: dict[str, Any], keys: tuple[str, ...]) -> int | None:
    for key in keys:
        if key in metrics:
            try:
                return int(metrics[key])  # Spark writes "123", delta-rs writes 123
            except (TypeError, ValueError):
                continue
    return None


def _rows_from_stats(adds: list[dict[str, Any]]) -> int | None:
    total = 0
    for add in adds:
        try:
            total += int(json.loads(add.get("stats") or "{}")["numRecords"])
        except (KeyError, TypeError, ValueError):
            return None  # one file without stats: the sum would be wrong, so say nothing
    return total if adds else None


def _local_path(table_path: PathLike) -> str:
    path = os.fspath(table_path)
    if path.startswith("file://"):
        return path[len("file://") :]
    if path.startswith("file:"):
        return path[len("file:") :]
    if path.startswith("dbfs:/"):
        return "/dbfs/" + path[len("dbfs:/") :].lstrip("/")  # the Databricks FUSE mount
    if "://" in path:
        raise ValueError(f"{path} is not a local path; object stores are read through a mount (e.g. /dbfs)")
    return path


def _table_uri(table_path: PathLike) -> str:
    path = os.fspath(table_path)
    if ":" in path.split("/", 1)[0]:
        return path.rstrip("/")
    return "file://" + os.path.abspath(path)
