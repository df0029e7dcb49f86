"""Semantic search for chat: the incident's evidence ranked by meaning against the question, and past
incidents that read alike. It orders and suggests; it never widens what a claim may cite (that is the scope)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import Any

from copilot._retrieval import summary_line
from evidence import EvidenceRecord, Incident, Store, to_json

_INCIDENTS_INDEXED = 500
_REMEMBERED = 200_000  # entries this process knows it has added; past it the memory starts over (re-adds are safe)


class SemanticSearch:
    """Over a VectorIndex built lazily (chromadb costs most of a second to import).

    Each entry is embedded once per process, not once per question: with a remote embedder, re-adding 500 past
    incidents and the incident's whole scope on every chat turn was hundreds of embedding calls a question.
    Evidence entries are keyed by incident and evidence id, so a record in the scope of two incidents is found
    under both, whatever order (or threads) the questions come in.
    """

    def __init__(self, open_index: Callable[[], Any]) -> None:
        self._open = open_index
        self._index: Any = None
        self._lock = threading.Lock()
        self._added: dict[tuple[str, str], int] = {}  # (collection, id) -> hash of the text and metadata added

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
        self._add_new("evidence", [f"{incident_id}/{r.evidence_id}" for r in records],
                      [summary_line(r) for r in records],
                      [{"incident_id": incident_id, "evidence_id": r.evidence_id, "type": r.type} for r in records])
        found = self.index.query("evidence", question, k=k, where={"incident_id": incident_id})
        # An index written before entries were keyed by incident holds plain evidence ids: read those as they are.
        return list(dict.fromkeys(meta.get("evidence_id", item) for item, _, meta in found))

    def related_incidents(self, store: Store, incident: Incident, k: int = 3) -> list[dict[str, Any]]:
        """Past incidents (resolved ones) that read like this one: pointers for on-call, not verified claims."""
        from detectors import stored_incidents

        past = [i for i in stored_incidents(store, status="resolved") if i["id"] != incident.id]
        # The newest ones (the store lists by dataset, which would keep suggesting the same few datasets).
        past.sort(key=lambda i: (i.get("detected_at") or "", i["id"]), reverse=True)
        past = past[:_INCIDENTS_INDEXED]
        if not past:
            return []
        self._add_new("incidents", [i["id"] for i in past], [_incident_text(i) for i in past],
                      [{"dataset_urn": i["dataset_urn"], "reason_code": i["reason_code"]} for i in past])
        by_id = {i["id"]: i for i in past}
        # Only the current past may answer: the index also holds incidents resolved once and open again (this
        # one, say) and older ones beyond the newest 500. Every entry of `past` is in it, so asking for as many
        # more as it holds besides them still yields k answers when there are k.
        others = max(0, self.index.count("incidents") - len(past))
        found = self.index.query("incidents", _incident_text(to_json(incident)), k=k + others)
        return [{"id": item, "dataset_urn": by_id[item]["dataset_urn"], "reason_code": by_id[item]["reason_code"],
                 "first_bad_time": by_id[item]["first_bad_time"], "similarity": score}
                for item, score, _ in found if item in by_id][:k]

    def _add_new(self, collection: str, ids: list[str], texts: list[str], metadatas: list[dict[str, Any]]) -> None:
        """Add the entries this process has not added yet (or added with another text or metadata)."""
        marks = [hash((text, tuple(sorted(meta.items())))) for text, meta in zip(texts, metadatas, strict=True)]
        fresh = [n for n, item in enumerate(ids) if self._added.get((collection, item)) != marks[n]]
        if not fresh:
            return
        self.index.add(collection, [ids[n] for n in fresh], [texts[n] for n in fresh], [metadatas[n] for n in fresh])
        with self._lock:
            if len(self._added) + len(fresh) > _REMEMBERED:
                self._added.clear()
            for n in fresh:
                self._added[(collection, ids[n])] = marks[n]


def _incident_text(incident: dict[str, Any]) -> str:
    """What is embedded of an incident, stored or current: its JSON form, as the store holds it."""
    deploys = " ".join(f"{d.get('service')} {d.get('version')}" for d in incident.get("correlated_deploys") or [])
    return (f"{incident['kind']} {incident['reason_code']} {incident.get('field') or ''} {incident['dataset_urn']} "
            f"{incident.get('producer_urn') or ''} {deploys}")
