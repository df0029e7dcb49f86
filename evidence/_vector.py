"""Semantic retrieval over chromadb: evidence summaries, runbooks and past incidents.

Embedded (`chromadb.PersistentClient`, a directory) by default; client/server (`chromadb.HttpClient`) when
RCA_CHROMA_URL is set. Every collection is given our own embedding function: chromadb's default one downloads
a model at first use, which must never happen here. This is the only module that imports chromadb.
"""

from __future__ import annotations

import json
import re
import weakref
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import chromadb
from chromadb.api.types import Documents, EmbeddingFunction, Embeddings
from chromadb.config import DEFAULT_DATABASE, Settings
from chromadb.utils.embedding_functions import register_embedding_function

from evidence._embedding import Embedder, HashingEmbedder, embedder_from_config, embedder_from_settings
from evidence._errors import ConfigError

EVIDENCE, RUNBOOKS, INCIDENTS = "evidence", "runbooks", "incidents"
COLLECTIONS = (EVIDENCE, RUNBOOKS, INCIDENTS)
# chromadb's own rule, checked here so the message says what to do: 3-512 characters of [a-zA-Z0-9._-],
# starting and ending with a letter or digit.
_NAME = re.compile(r"^[a-zA-Z0-9](?:[a-zA-Z0-9._-]{1,510})[a-zA-Z0-9]$")
_EMBEDDER_KEY = "rca_embedder"  # collection metadata: the embedder a collection was built with
_SCORE_DIGITS = 6  # scores are rounded so ties are ties on every machine, then broken by id
_OVERFETCH = 16  # extra neighbours fetched so a tie at the k-th place is broken by id, not by the index


class _EmbedderFunction(EmbeddingFunction[Documents]):
    """chromadb's EmbeddingFunction around one of our embedders; one registered subclass per embedder kind."""

    kind = ""

    def __init__(self, embedder: Embedder) -> None:
        self.embedder = embedder

    def __call__(self, input: Documents) -> Embeddings:  # chromadb names the parameter `input`
        return self.embedder.embed(list(input))  # type: ignore[return-value]

    @staticmethod
    def name() -> str:
        return "rca-embedder"

    def get_config(self) -> dict[str, Any]:
        return {"kind": self.embedder.kind, **self.embedder.config()}

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> EmbeddingFunction[Documents]:
        # chromadb rebuilds the function from a collection's stored config on every add and query (to read its
        # schema); it must cost nothing, so it reuses the live embedder or builds one only when first used.
        signature = json.dumps(config, sort_keys=True)
        return _function_for(_LIVE.get(signature) or _DeferredEmbedder(config))

    def is_legacy(self) -> bool:
        return False  # the base class would rebuild the embedder (a model load) just to find out

    def default_space(self) -> Any:
        return "cosine"

    def supported_spaces(self) -> Any:
        return ["cosine", "l2", "ip"]


# The settings the last index was opened with (VectorIndex.from_settings: rca's Settings.model_environment()): where
# an embedder rebuilt from a collection's stored config finds its secrets. Nothing here reads the process environment.
_SETTINGS: dict[str, str] = {}


class _DeferredEmbedder:
    """An embedder rebuilt from a stored config (secrets from the index's settings) on first use only."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.kind = str(config.get("kind", "hashing"))
        self._config = {k: v for k, v in config.items() if k != "kind"}
        self._built: Embedder | None = None

    def config(self) -> dict[str, Any]:
        return dict(self._config)

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        if self._built is None:
            self._built = embedder_from_config(self.kind, self._config, _SETTINGS)
        return self._built.embed(texts)


_FUNCTIONS: dict[str, type[_EmbedderFunction]] = {}
# embedders in use in this process, by their stored config; weak, so a dropped index frees its model
_LIVE: weakref.WeakValueDictionary[str, Any] = weakref.WeakValueDictionary()


def _function_for(embedder: Embedder) -> _EmbedderFunction:
    if not isinstance(embedder, _DeferredEmbedder):
        _LIVE.setdefault(json.dumps({"kind": embedder.kind, **embedder.config()}, sort_keys=True), embedder)
    cls = _FUNCTIONS.get(embedder.kind)
    if cls is None:
        registered = f"rca-{embedder.kind}"
        cls = type(f"RcaEmbedding[{embedder.kind}]", (_EmbedderFunction,),
                   {"kind": embedder.kind, "name": staticmethod(lambda: registered)})
        register_embedding_function(cls)  # type: ignore[no-untyped-call]  # chromadb leaves it untyped
        _FUNCTIONS[embedder.kind] = cls
    return cls(embedder)


def parse_chroma_url(url: str) -> tuple[str, int, bool]:
    """`http://host:port` (or https) as (host, port, ssl); RCA_CHROMA_URL is read through this."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.path not in ("", "/"):
        raise ConfigError(f"RCA_CHROMA_URL must look like http://host:8000 (or https://host), got {url!r}.")
    ssl = parts.scheme == "https"
    try:
        port = parts.port or (443 if ssl else 8000)
    except ValueError as exc:
        raise ConfigError(f"RCA_CHROMA_URL has an invalid port: {url!r}.") from exc
    return parts.hostname, port, ssl


def _settings() -> Settings:
    return Settings(anonymized_telemetry=False)


def _metadata(values: Mapping[str, Any] | None) -> dict[str, str | int | float | bool] | None:
    """chromadb keeps scalars only: None is dropped, anything else structured is stored as JSON text."""
    out: dict[str, str | int | float | bool] = {}
    for key, value in (values or {}).items():
        if value is None:
            continue
        out[key] = value if isinstance(value, str | int | float | bool) else json.dumps(value, sort_keys=True,
                                                                                        default=str)
    return out or None


def _where(where: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """chromadb takes one condition per filter; several plain equalities mean all of them ($and)."""
    if not where:
        return None
    if len(where) == 1 or any(key.startswith("$") for key in where):
        return dict(where)
    return {"$and": [{key: value} for key, value in sorted(where.items())]}


# Collections up to this size are searched exactly (a few thousand dot products cost less than a millisecond
# more than HNSW, and an exact answer is deterministic).
EXACT_SEARCH_LIMIT = 5000


class VectorIndex:
    """Named collections of (id, text, metadata), queried by meaning.

        index = VectorIndex.open("var/chroma")
        index.add("runbooks", ["rb-1"], ["REQUIRED_FIELD_MISSING: check the producer's serializer"])
        index.query("runbooks", "customer_id missing", k=3)  # [("rb-1", 0.41, {...})]
    """

    def __init__(self, client: Any, embedder: Embedder | None = None) -> None:
        self.client = client
        self.embedder = embedder or HashingEmbedder()
        self._function = _function_for(self.embedder)
        self._collections: dict[str, Any] = {}

    @classmethod
    def open(cls, path: str | Path, embedder: Embedder | None = None) -> VectorIndex:
        """An embedded index in a directory (created when missing)."""
        Path(path).mkdir(parents=True, exist_ok=True)
        return cls(chromadb.PersistentClient(path=str(path), settings=_settings()), embedder)

    @classmethod
    def connect(cls, url: str, embedder: Embedder | None = None, database: str = DEFAULT_DATABASE
                ) -> VectorIndex:
        """A Chroma server at `url` (http://host:port), in one of its databases."""
        host, port, ssl = parse_chroma_url(url)
        try:
            client = chromadb.HttpClient(host=host, port=port, ssl=ssl, settings=_settings(), database=database)
        except Exception as exc:  # the client checks the server's tenant on construction
            raise ConfigError(f"Cannot reach the Chroma server at {url} ({type(exc).__name__}: {exc}); check "
                              "RCA_CHROMA_URL and that the server is up, or unset it for the embedded index.") from exc
        return cls(client, embedder)

    @classmethod
    def from_settings(cls, env: Mapping[str, str], default_path: str | Path = "var/chroma") -> VectorIndex:
        """RCA_CHROMA_URL selects a server, else RCA_CHROMA_PATH (or `default_path`) an embedded directory;
        RCA_EMBEDDER selects the embedder."""
        _SETTINGS.clear()
        _SETTINGS.update(env)
        embedder = embedder_from_settings(env)
        if env.get("RCA_CHROMA_URL"):
            return cls.connect(env["RCA_CHROMA_URL"], embedder)
        return cls.open(env.get("RCA_CHROMA_PATH") or default_path, embedder)

    def _collection(self, name: str) -> Any:
        found = self._collections.get(name)
        if found is not None:
            return found
        if not _NAME.match(name):
            raise ConfigError(f"Collection name {name!r} is not valid: use 3-512 letters, digits, '.', '_' or '-', "
                              f"starting and ending with a letter or digit (e.g. {', '.join(COLLECTIONS)}).")
        signature = json.dumps(self._function.get_config(), sort_keys=True)
        try:
            collection = self.client.get_or_create_collection(
                name, embedding_function=self._function, metadata={_EMBEDDER_KEY: signature},
                configuration={"hnsw": {"space": "cosine"}})
        except ValueError as exc:  # chromadb refuses an embedding function other than the persisted one
            raise ConfigError(f"Collection {name!r} was built with another embedder ({exc}); keep RCA_EMBEDDER "
                              "as it was, or rebuild the index.") from exc
        stored = (collection.metadata or {}).get(_EMBEDDER_KEY)
        if stored is not None and stored != signature:
            raise ConfigError(f"Collection {name!r} was built with embedder {stored}, not {signature}; keep "
                              "RCA_EMBEDDER (and its model or dimension) as it was, or rebuild the index.")
        self._collections[name] = collection
        return collection

    def add(self, collection: str, ids: Sequence[str], texts: Sequence[str],
            metadatas: Sequence[Mapping[str, Any] | None] | None = None) -> None:
        """Insert or replace: adding the same id again keeps one entry, with the latest text and metadata only."""
        if len(ids) != len(texts) or (metadatas is not None and len(metadatas) != len(ids)):
            raise ValueError("ids, texts and metadatas must have the same length")
        latest: dict[str, tuple[str, dict[str, Any] | None]] = {}
        for i, (item_id, text) in enumerate(zip(ids, texts, strict=True)):
            latest[item_id] = (text, _metadata(metadatas[i] if metadatas is not None else None))
        if not latest:
            return
        order = sorted(latest)
        metas = [latest[i][1] for i in order]
        target = self._collection(collection)
        # chromadb's upsert merges metadata into what was stored; an entry here is replaced whole instead
        target.delete(ids=order)
        target.add(ids=order, documents=[latest[i][0] for i in order],
                   metadatas=metas if any(m is not None for m in metas) else None)

    def delete(self, collection: str, ids: Sequence[str]) -> None:
        if ids:
            self._collection(collection).delete(ids=list(ids))

    def count(self, collection: str) -> int:
        return int(self._collection(collection).count())

    def _exact(self, target: Any, text: str, k: int, where: Mapping[str, Any] | None) -> list[tuple[str, float,
                                                                                               dict[str, Any]]]:
        # HNSW is approximate: on a small collection it can miss the nearest entries, and which ones depends
        # on insertion order. Below the limit every candidate is scored exactly, so answers never vary.
        found = target.get(where=_where(where), include=["embeddings", "metadatas"])
        ids = list(found["ids"])
        if not ids:
            return []
        # Embedders hand back numpy float32 arrays: plain floats from here on, or the scores would be numpy scalars
        # that no JSON encoder takes (chat's related incidents answered 500, issue 13).
        query = [float(x) for x in self._function([text])[0]]
        norm = sum(x * x for x in query) ** 0.5 or 1.0
        rows = []
        for item_id, vector, meta in zip(ids, found["embeddings"], found["metadatas"] or [None] * len(ids),
                                         strict=True):
            vector = [float(x) for x in vector]
            length = sum(x * x for x in vector) ** 0.5 or 1.0
            score = sum(a * b for a, b in zip(query, vector, strict=True)) / (norm * length)
            rows.append((item_id, round(float(score), _SCORE_DIGITS), dict(sorted((meta or {}).items()))))
        rows.sort(key=lambda row: (-row[1], row[0]))
        return rows[:k]

    def query(self, collection: str, text: str, k: int = 5,
              where: Mapping[str, Any] | None = None) -> list[tuple[str, float, dict[str, Any]]]:
        """The `k` entries nearest `text`, as (id, score, metadata): score is cosine similarity (1 is the same
        direction), rounded to 6 digits; ties go to the smaller id, so the order is the same on every run.
        `where` is a chromadb filter; {"a": 1, "b": 2} means both."""
        target = self._collection(collection)
        size = target.count()
        if k <= 0 or size == 0:
            return []
        if size <= EXACT_SEARCH_LIMIT:
            return self._exact(target, text, k, where)
        found = target.query(query_texts=[text], n_results=min(size, k + _OVERFETCH), where=_where(where),
                             include=["metadatas", "distances"])
        ids, distances = found["ids"][0], found["distances"][0]
        metadatas = (found.get("metadatas") or [[None] * len(ids)])[0]
        rows = [(item_id, round(1.0 - float(distance), _SCORE_DIGITS), dict(sorted((meta or {}).items())))
                for item_id, distance, meta in zip(ids, distances, metadatas, strict=True)]
        rows.sort(key=lambda row: (-row[1], row[0]))
        return rows[:k]
