"""The chromadb seam: an embedded index and a real `chroma run` server, both with the offline hashing embedder, and
the settings that pick others."""

from __future__ import annotations

import math
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import chromadb
import httpx
import pytest
import respx

from evidence import ConfigError
from evidence._embedding import (
    EmbeddingError,
    HashingEmbedder,
    OpenAIEmbedder,
    embedder_from_settings,
)
from evidence._vector import VectorIndex, parse_chroma_url
from support import ChildProcess, free_port

RUNBOOKS = {
    "rb-contract": "REQUIRED_FIELD_MISSING: customer_id missing from checkout-service events after a deploy; "
                   "check the serializer and roll back",
    "rb-oom": "JOB_FAILED: the orders_enriched Spark job failed with executor out of memory; raise executor memory",
    "rb-partition": "WRONG_PARTITION: the job wrote dt in UTC instead of the local time zone around DST",
    "rb-late": "UPSTREAM_DATA_LATE: an input table of the job landed late, wait or rerun after it lands",
}
META = {
    "rb-contract": {"reason_code": "REQUIRED_FIELD_MISSING", "kind": "contract"},
    "rb-oom": {"reason_code": "JOB_FAILED", "kind": "freshness"},
    "rb-partition": {"reason_code": "WRONG_PARTITION", "kind": "freshness"},
    "rb-late": {"reason_code": "UPSTREAM_DATA_LATE", "kind": "freshness"},
}


class ChromaServer(ChildProcess):
    """A real Chroma server (`chroma run`, shipped by the chromadb package) on a free loopback port."""

    def __init__(self, path: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._log = (path / "chroma.log").open("ab")
        chroma = Path(sys.executable).with_name("chroma")
        self.process = subprocess.Popen([str(chroma), "run", "--path", str(path / "data"), "--host", "127.0.0.1",
                                         "--port", str(self.port)], stdout=self._log, stderr=subprocess.STDOUT,
                                        env={**os.environ, "ANONYMIZED_TELEMETRY": "False"})
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and self.process.poll() is None:
            try:
                if httpx.get(f"{self.url}/api/v2/heartbeat", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"chroma run did not answer within 60 s; see {path / 'chroma.log'}")


@pytest.fixture(scope="module")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChromaServer]:
    server = ChromaServer(tmp_path_factory.mktemp("chroma"))
    yield server
    server.stop()


@pytest.fixture(params=["embedded", "server"])
def index_at(request: pytest.FixtureRequest) -> Callable[..., VectorIndex]:
    """VectorIndex.open(path) embedded, or VectorIndex.connect to a real `chroma run` server: there each path is a
    database of its own (created on first use), so a test's separate indexes stay apart as directories do."""
    if request.param == "embedded":
        return VectorIndex.open
    server: ChromaServer = request.getfixturevalue("chroma_server")
    admin = chromadb.AdminClient(chromadb.config.Settings(chroma_server_host="127.0.0.1",
                                                          chroma_server_http_port=server.port,
                                                          chroma_api_impl="chromadb.api.fastapi.FastAPI",
                                                          anonymized_telemetry=False))
    databases: dict[Path, str] = {}

    def connect(path: Path, embedder: HashingEmbedder | None = None) -> VectorIndex:
        if path not in databases:
            databases[path] = f"db-{uuid.uuid4().hex[:12]}"
            admin.create_database(databases[path])
        return VectorIndex.connect(server.url, embedder, database=databases[path])

    return connect


def _filled(path: Path, order: list[str] | None = None, index_at: Callable[..., VectorIndex] = VectorIndex.open
            ) -> VectorIndex:
    index = index_at(path)
    ids = order or sorted(RUNBOOKS)
    index.add("runbooks", ids, [RUNBOOKS[i] for i in ids], [META[i] for i in ids])
    return index


# --- the hashing embedder ---------------------------------------------------------------------------------------

def test_hashing_vectors_are_unit_length_and_the_same_in_every_process() -> None:
    embedder = HashingEmbedder()
    vector = embedder.embed(["customer_id missing in checkout"])[0]
    assert len(vector) == 384
    assert math.isclose(sum(v * v for v in vector), 1.0, rel_tol=1e-9)
    # A pinned value: if this moves, every persisted index must be rebuilt (hashlib, not the salted hash()).
    nonzero = [(i, round(v, 6)) for i, v in enumerate(vector) if v][:4]
    assert nonzero == PINNED
    assert embedder.embed(["Customer_ID  missing, in CHECKOUT!"]) == [vector]  # case and punctuation fold away


PINNED = [(2, -0.1), (3, 0.1), (9, -0.4), (17, -0.1)]


def test_hashing_never_yields_a_zero_vector() -> None:
    for text in ["", "   ", "!!!"]:
        vector = HashingEmbedder(dim=16).embed([text])[0]
        assert math.isclose(sum(v * v for v in vector), 1.0)


def test_hashing_dimension_must_be_usable() -> None:
    with pytest.raises(ConfigError, match="dim"):
        HashingEmbedder(dim=2)


# --- the index ----------------------------------------------------------------------------------------------------

def test_the_matching_runbook_ranks_first(tmp_path: Path, index_at: Callable[..., VectorIndex]) -> None:
    index = _filled(tmp_path, index_at=index_at)
    found = index.query("runbooks", "customer_id missing checkout", k=2)
    assert found[0][0] == "rb-contract"
    assert found[0][2] == META["rb-contract"]
    assert found[0][1] > found[1][1]
    assert index.query("runbooks", "spark executor out of memory", k=1)[0][0] == "rb-oom"


def test_add_is_an_upsert(tmp_path: Path, index_at: Callable[..., VectorIndex]) -> None:
    index = _filled(tmp_path, index_at=index_at)
    _filled(tmp_path, index_at=index_at)  # the same ids again, through a second client on the same directory
    assert index.count("runbooks") == len(RUNBOOKS)
    index.add("runbooks", ["rb-oom", "rb-oom"], ["stale text", "customer_id missing checkout, exactly"],
              [{"reason_code": "X"}, {"reason_code": "JOB_FAILED", "note": None}])
    assert index.count("runbooks") == len(RUNBOOKS)
    top = index.query("runbooks", "customer_id missing checkout, exactly", k=1)
    assert top == [("rb-oom", 1.0, {"reason_code": "JOB_FAILED"})]  # the last duplicate wins; None is dropped


def test_where_filters_on_metadata(tmp_path: Path, index_at: Callable[..., VectorIndex]) -> None:
    index = _filled(tmp_path, index_at=index_at)
    found = index.query("runbooks", "customer_id missing checkout", k=5, where={"kind": "freshness"})
    assert {row[0] for row in found} == {"rb-oom", "rb-partition", "rb-late"}
    assert index.query("runbooks", "anything", k=3, where={"kind": "drift"}) == []
    both = index.query("runbooks", "job", k=5, where={"kind": "freshness", "reason_code": "JOB_FAILED"})
    assert [row[0] for row in both] == ["rb-oom"]
    either = index.query("runbooks", "job", k=5, where={"$or": [{"reason_code": "JOB_FAILED"},
                                                                {"reason_code": "WRONG_PARTITION"}]})
    assert {row[0] for row in either} == {"rb-oom", "rb-partition"}


def test_results_are_the_same_whatever_the_insertion_order(tmp_path: Path,
                                                           index_at: Callable[..., VectorIndex]) -> None:
    first = _filled(tmp_path / "a", sorted(RUNBOOKS), index_at)
    second = _filled(tmp_path / "b", sorted(RUNBOOKS, reverse=True), index_at)
    for text in ["customer_id missing checkout", "job late", "dt time zone", "nothing in common"]:
        assert first.query("runbooks", text, k=4) == second.query("runbooks", text, k=4)


def test_ties_are_broken_by_id(tmp_path: Path, index_at: Callable[..., VectorIndex]) -> None:
    index = index_at(tmp_path)
    index.add("incidents", ["inc-c", "inc-a", "inc-b", "inc-d"], ["orders_enriched stale"] * 3 + ["other words"])
    found = index.query("incidents", "orders_enriched stale", k=2)
    assert [row[0] for row in found] == ["inc-a", "inc-b"]
    assert found[0][1] == found[1][1] == 1.0


def test_structured_metadata_is_kept_as_json(tmp_path: Path, index_at: Callable[..., VectorIndex]) -> None:
    index = index_at(tmp_path)
    index.add("evidence", ["ev_1"], ["a deploy"], [{"evidence_ids": ["ev_1", "ev_2"], "rows": 3, "ok": True}])
    assert index.query("evidence", "a deploy", k=1)[0][2] == {"evidence_ids": '["ev_1", "ev_2"]', "ok": True,
                                                             "rows": 3}


def test_an_empty_collection_answers_nothing(tmp_path: Path, index_at: Callable[..., VectorIndex]) -> None:
    index = index_at(tmp_path)
    assert index.query("evidence", "anything", k=3) == []
    index.add("evidence", [], [])
    assert index.count("evidence") == 0


def test_the_index_persists_in_its_directory(tmp_path: Path) -> None:
    _filled(tmp_path)
    reopened = VectorIndex.from_settings({"RCA_CHROMA_PATH": str(tmp_path)})
    assert reopened.query("runbooks", "customer_id missing checkout", k=1)[0][0] == "rb-contract"


@pytest.mark.parametrize("name", ["ab", "has space", "-leading", "trailing.", "x" * 600, "semi;colon"])
def test_collection_names_are_checked(tmp_path: Path, name: str) -> None:
    with pytest.raises(ConfigError, match="Collection name"):
        VectorIndex.open(tmp_path).add(name, ["a"], ["text"])


def test_a_collection_built_with_another_embedder_is_refused(tmp_path: Path,
                                                             index_at: Callable[..., VectorIndex]) -> None:
    _filled(tmp_path, index_at=index_at)
    with pytest.raises(ConfigError, match="RCA_EMBEDDER"):
        index_at(tmp_path, HashingEmbedder(dim=64)).query("runbooks", "anything")


def test_mismatched_lengths_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="same length"):
        VectorIndex.open(tmp_path).add("runbooks", ["a", "b"], ["only one"])


# --- client/server mode -------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("url", "expected"), [
    ("http://chroma:8000", ("chroma", 8000, False)),
    ("http://10.0.0.7:9000/", ("10.0.0.7", 9000, False)),
    ("https://chroma.example.com", ("chroma.example.com", 443, True)),
    ("http://chroma", ("chroma", 8000, False)),
])
def test_chroma_urls_parse(url: str, expected: tuple[str, int, bool]) -> None:
    assert parse_chroma_url(url) == expected


@pytest.mark.parametrize("url", ["chroma:8000", "ftp://chroma:21", "http://chroma:8000/api", "http://:8000",
                                 "http://chroma:notaport"])
def test_bad_chroma_urls_name_the_setting(url: str) -> None:
    with pytest.raises(ConfigError, match="RCA_CHROMA_URL"):
        parse_chroma_url(url)


def _chroma_server(request: httpx.Request) -> httpx.Response:
    # The three calls chromadb's HttpClient makes on construction, with the shapes a Chroma 1.x server returns.
    path = request.url.path
    if path == "/api/v2/auth/identity":
        return httpx.Response(200, json={"user_id": "", "tenant": "default_tenant", "databases": ["default_database"]})
    if path == "/api/v2/tenants/default_tenant":
        return httpx.Response(200, json={"name": "default_tenant"})
    if path == "/api/v2/tenants/default_tenant/databases/default_database":
        return httpx.Response(200, json={"id": "00000000-0000-0000-0000-000000000001", "name": "default_database",
                                         "tenant": "default_tenant"})
    return httpx.Response(404, json={"error": "NotFound", "message": path})


def test_rca_chroma_url_selects_the_http_client() -> None:
    with respx.mock(assert_all_mocked=True) as mock:
        route = mock.route(host="chroma.internal", port=8123).mock(side_effect=_chroma_server)
        index = VectorIndex.from_settings({"RCA_CHROMA_URL": "http://chroma.internal:8123"})
    assert route.called
    assert type(index.client).__name__ == "Client"
    assert isinstance(index.embedder, HashingEmbedder)


def test_an_unreachable_chroma_server_names_the_setting() -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(ConfigError, match="RCA_CHROMA_URL"):
        VectorIndex.from_settings({"RCA_CHROMA_URL": f"http://127.0.0.1:{port}"})


# --- embedder settings --------------------------------------------------------------------------------------------

def test_the_default_embedder_is_hashing() -> None:
    embedder = embedder_from_settings({})
    assert isinstance(embedder, HashingEmbedder)
    assert embedder.dim == 384
    assert embedder_from_settings({"RCA_EMBEDDER": "hashing", "RCA_EMBEDDER_DIM": "128"}).config() == {"dim": 128}


@pytest.mark.parametrize(("env", "message"), [
    ({"RCA_EMBEDDER": "word2vec"}, "RCA_EMBEDDER='word2vec' is not known"),
    ({"RCA_EMBEDDER": "openai"}, "RCA_EMBEDDER_API_KEY"),
    ({"RCA_EMBEDDER_DIM": "many"}, "RCA_EMBEDDER_DIM"),
])
def test_bad_embedder_settings_name_the_setting(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        embedder_from_settings(env)


def test_sentence_transformers_missing_says_what_to_install() -> None:
    try:
        import sentence_transformers  # noqa: F401
    except ImportError:
        with pytest.raises(ConfigError, match="pip install sentence-transformers"):
            embedder_from_settings({"RCA_EMBEDDER": "sentence-transformers"})
    else:
        pytest.skip("sentence-transformers is installed here")


def _embeddings(request: httpx.Request) -> httpx.Response:
    import json

    body = json.loads(request.content)
    assert body["encoding_format"] == "float"
    data = [{"object": "embedding", "index": i, "embedding": [1.0, float(len(text)), 0.5]}
            for i, text in enumerate(body["input"])]
    return httpx.Response(200, json={"object": "list", "data": list(reversed(data)), "model": body["model"],
                                     "usage": {"prompt_tokens": 4, "total_tokens": 4}})


def test_openai_embedder_reads_an_openai_compatible_endpoint() -> None:
    embedder = embedder_from_settings({"RCA_EMBEDDER": "openai", "RCA_LLM_BASE_URL": "http://embed.test/v1",
                                       "RCA_LLM_API_KEY": "k", "RCA_EMBEDDER_MODEL": "nomic-embed-text"})
    assert isinstance(embedder, OpenAIEmbedder)
    with respx.mock(assert_all_called=True) as mock:
        route = mock.post("http://embed.test/v1/embeddings").mock(side_effect=_embeddings)
        assert embedder.embed(["ab", "abcd"]) == [[1.0, 2.0, 0.5], [1.0, 4.0, 0.5]]  # back in input order
    assert route.calls.last.request.headers["authorization"] == "Bearer k"
    assert embedder.config() == {"model": "nomic-embed-text", "base_url": "http://embed.test/v1"}


def test_openai_embedder_failures_say_what_to_check() -> None:
    embedder = OpenAIEmbedder("text-embedding-3-small", "k", "http://embed.test/v1")
    with respx.mock() as mock:
        mock.post("http://embed.test/v1/embeddings").mock(side_effect=httpx.ConnectError("refused"))
        with pytest.raises(EmbeddingError, match="RCA_EMBEDDER_BASE_URL") as failure:
            embedder.embed(["x"])
    assert failure.value.__cause__ is not None


def test_an_index_can_use_the_openai_embedder(tmp_path: Path) -> None:
    embedder = OpenAIEmbedder("m", "k", "http://embed.test/v1")
    with respx.mock() as mock:
        mock.post("http://embed.test/v1/embeddings").mock(side_effect=_embeddings)
        index = VectorIndex.open(tmp_path, embedder)
        index.add("runbooks", ["short", "long"], ["ab", "abcdefghijklmnop"])
        assert index.query("runbooks", "abcdefghijklmnoq", k=1)[0][0] == "long"
    with pytest.raises(ConfigError, match="another embedder"):
        VectorIndex.open(tmp_path).query("runbooks", "x")
