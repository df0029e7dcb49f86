"""Semantic search for chat: the incident's evidence ranked by meaning against the question, and past
incidents that read alike. It orders and suggests; it never widens what a claim may cite (that is the scope)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import Any

from copilot._retrieval import summary_line
from evidence import EvidenceRecord
from evidence._store import Store

_INCIDENTS_INDEXED = 500


class SemanticSearch:
    """Over a VectorIndex built lazily (chromadb costs most of a second to import)."""

    def __init__(self, open_index: Callable[[], Any]) -> None:
        self._open = open_index
        self._index: Any = None
        self._lock = threading.Lock()

    @property
    def index(self) -> Any:
        with self._lock:
            if self._index is None:
                self._index = self._open()
            return self._index

    def rank(self, incident_id: str, records: Iterable[EvidenceRecord], question: str, k: int = 20) -> list[str]:
        """Evidence ids of the incident's scope, nearest the question first."""
        records = list(records)
        if not records:
            return []
        self.index.add("evidence", [r.evidence_id for r in records], [summary_line(r) for r in records],
                       [{"incident_id": incident_id, "type": r.type} for r in records])
        return [item for item, _, _ in self.index.query("evidence", question, k=k, where={"incident_id": incident_id})]

    def related_incidents(self, store: Store, incident: dict[str, Any], k: int = 3) -> list[dict[str, Any]]:
        """Past incidents (resolved ones) that read like this one: pointers for on-call, not verified claims."""
        from detectors import stored_incidents

        past = [i for i in stored_incidents(store, status="resolved") if i["id"] != incident["id"]]
        past = past[:_INCIDENTS_INDEXED]
        if not past:
            return []
        self.index.add("incidents", [i["id"] for i in past], [_incident_text(i) for i in past],
                       [{"dataset_urn": i["dataset_urn"], "reason_code": i["reason_code"]} for i in past])
        found = self.index.query("incidents", _incident_text(incident), k=k)
        by_id = {i["id"]: i for i in past}
        return [{"id": item, "dataset_urn": by_id[item]["dataset_urn"], "reason_code": by_id[item]["reason_code"],
                 "first_bad_time": by_id[item]["first_bad_time"], "similarity": score}
                for item, score, _ in found if item in by_id]


def _incident_text(incident: dict[str, Any]) -> str:
    deploys = " ".join(f"{d.get('service')} {d.get('version')}" for d in incident.get("correlated_deploys") or [])
    return (f"{incident['kind']} {incident['reason_code']} {incident.get('field') or ''} {incident['dataset_urn']} "
            f"{incident.get('producer_urn') or ''} {deploys}")
