"""Embedders for semantic retrieval. The default hashes words and trigrams: offline, deterministic, nothing
downloaded. An OpenAI-compatible endpoint or a local sentence-transformers model can replace it (RCA_EMBEDDER).

Embedders know nothing of chromadb; evidence/_vector.py adapts them to its EmbeddingFunction interface.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from evidence._errors import ConfigError, RcaError

_WORD = re.compile(r"\w+")


class Embedder(Protocol):
    """`kind` names the embedder in a collection's configuration, so a collection built with one embedder is
    never queried with another; `config()` is what rebuilds it (never a secret)."""

    kind: str

    def embed(self, texts: Sequence[str]) -> list[list[float]]: ...

    def config(self) -> dict[str, Any]: ...


class EmbeddingError(RcaError):
    """An embedding service failed; says which one and what to check."""


class HashingEmbedder:
    """Feature hashing of lower-case words (and their `_`-separated parts) and character trigrams, signed and
    L2-normalised. blake2b, not Python's salted `hash`, so vectors are the same in every process."""

    kind = "hashing"

    def __init__(self, dim: int = 384) -> None:
        if dim < 8:
            raise ConfigError(f"HashingEmbedder dim must be at least 8, got {dim}.")
        self.dim = dim

    def config(self) -> dict[str, Any]:
        return {"dim": self.dim}

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        return [self._one(text) for text in texts]

    def _one(self, text: str) -> list[float]:
        vector = [0.0] * self.dim
        for feature, weight in _features(text):
            digest = hashlib.blake2b(feature.encode("utf-8"), digest_size=8).digest()
            bucket = int.from_bytes(digest[:4], "big") % self.dim
            vector[bucket] += weight if digest[4] & 1 else -weight
        norm = math.sqrt(sum(v * v for v in vector))
        if not norm:  # features that cancelled out exactly: any fixed unit vector keeps cosine defined
            vector[0], norm = 1.0, 1.0
        return [v / norm for v in vector]


def _features(text: str) -> list[tuple[str, float]]:
    """Whole words weigh most; parts of snake_case words and trigrams let near spellings meet."""
    out: list[tuple[str, float]] = []
    for word in _WORD.findall(text.lower()):
        out.append(("w:" + word, 1.0))
        parts = [p for p in word.split("_") if p]
        if len(parts) > 1:
            out.extend(("w:" + part, 0.5) for part in parts)
        padded = f" {word} "
        out.extend(("t:" + padded[i:i + 3], 0.25) for i in range(len(padded) - 2))
    return out or [("empty", 1.0)]  # never a zero vector: cosine distance to it is undefined


class OpenAIEmbedder:
    """Embeddings from an OpenAI-compatible `/embeddings` endpoint (OpenAI, vLLM, Ollama, llama.cpp server)."""

    kind = "openai"

    def __init__(self, model: str, api_key: str, base_url: str | None = None, *, timeout: float = 30,
                 http_client: Any = None) -> None:
        import openai  # the client ships with langchain-openai; imported here so the default needs none of it

        self.model = model
        self.base_url = base_url
        self._client = openai.OpenAI(api_key=api_key, base_url=base_url, timeout=timeout, max_retries=0,
                                     http_client=http_client)

    def config(self) -> dict[str, Any]:
        return {"model": self.model, "base_url": self.base_url}

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        if not texts:
            return []
        try:
            response = self._client.embeddings.create(model=self.model, input=list(texts), encoding_format="float")
        except Exception as exc:  # any transport or API failure, whatever the client raises
            where = self.base_url or "the OpenAI API"
            raise EmbeddingError(
                f"Embedding model {self.model!r} at {where} failed ({type(exc).__name__}: {exc}); check "
                "RCA_EMBEDDER_BASE_URL, RCA_EMBEDDER_MODEL and RCA_EMBEDDER_API_KEY, or set RCA_EMBEDDER=hashing."
            ) from exc
        return [list(item.embedding) for item in sorted(response.data, key=lambda d: d.index)]


class SentenceTransformerEmbedder:
    """A local sentence-transformers model (the package and the model are the deployer's to install)."""

    kind = "sentence-transformers"

    def __init__(self, model: str = "all-MiniLM-L6-v2", *, device: str | None = None) -> None:
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            raise ConfigError(
                "RCA_EMBEDDER=sentence-transformers needs the sentence-transformers package: "
                "pip install sentence-transformers (or set RCA_EMBEDDER=hashing)."
            ) from exc
        self.model = model
        self._model = SentenceTransformer(model, device=device)

    def config(self) -> dict[str, Any]:
        return {"model": self.model}

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        if not texts:
            return []
        vectors = self._model.encode(list(texts), normalize_embeddings=True, convert_to_numpy=True)
        return [[float(v) for v in row] for row in vectors]


EMBEDDERS = ("hashing", "openai", "sentence-transformers")


def embedder_from_settings(env: Mapping[str, str]) -> Embedder:
    """The embedder RCA_EMBEDDER names (default `hashing`). RCA_EMBEDDER_MODEL, RCA_EMBEDDER_BASE_URL and
    RCA_EMBEDDER_API_KEY configure the others; the OpenAI ones fall back to RCA_LLM_BASE_URL / RCA_LLM_API_KEY."""
    choice = (env.get("RCA_EMBEDDER") or "hashing").strip().lower()
    model = env.get("RCA_EMBEDDER_MODEL") or None
    if choice == "hashing":
        dim = env.get("RCA_EMBEDDER_DIM") or "384"
        try:
            return HashingEmbedder(int(dim))
        except ValueError as exc:
            raise ConfigError(f"RCA_EMBEDDER_DIM must be an integer, got {dim!r}.") from exc
    if choice == "openai":
        key = env.get("RCA_EMBEDDER_API_KEY") or env.get("RCA_LLM_API_KEY")
        if not key:
            raise ConfigError("RCA_EMBEDDER=openai needs RCA_EMBEDDER_API_KEY (or RCA_LLM_API_KEY); "
                              "a local server that takes any key accepts a placeholder such as 'none'.")
        base_url = env.get("RCA_EMBEDDER_BASE_URL") or env.get("RCA_LLM_BASE_URL") or None
        return OpenAIEmbedder(model or "text-embedding-3-small", key, base_url)
    if choice == "sentence-transformers":
        return SentenceTransformerEmbedder(model or "all-MiniLM-L6-v2")
    raise ConfigError(f"RCA_EMBEDDER={choice!r} is not known; use one of {', '.join(EMBEDDERS)}.")


def embedder_from_config(kind: str, config: Mapping[str, Any], env: Mapping[str, str]) -> Embedder:
    """Rebuild an embedder from what a collection stored (`kind`, `config()`); secrets come from `env`."""
    if kind == "hashing":
        return HashingEmbedder(int(config.get("dim", 384)))
    settings = dict(env, RCA_EMBEDDER=kind)
    if config.get("model"):
        settings["RCA_EMBEDDER_MODEL"] = str(config["model"])
    if config.get("base_url"):
        settings["RCA_EMBEDDER_BASE_URL"] = str(config["base_url"])
    return embedder_from_settings(settings)
