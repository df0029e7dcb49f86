"""RCA latency through the API (GET /v1/incidents/{id}/rca), on SQLite, with the offline composer and with a
mocked model (a local OpenAI-compatible server answering at once with the offline composer's draft).

    .venv/bin/python benchmarks/rca_bench.py [--requests 200] [--composer both|offline|model] [--json]

Each reference scenario is replayed into its own database, served by a real `rca serve`, and its
incident's RCA requested repeatedly; every request recomputes retrieval, composition and verification.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from _fake_llm import fake_llm  # noqa: E402
from _server import rca_server  # noqa: E402

from copilot import TemplateComposer, incident_scope  # noqa: E402
from copilot._rca import question_for  # noqa: E402
from detectors import load_scenario, run_detectors  # noqa: E402
from detectors._scenario import load_into  # noqa: E402
from evidence import Incident, Store  # noqa: E402

SCENARIOS = sorted((ROOT / "examples" / "scenarios").glob("*.yaml"))


def model_answer(store: Store, incident: Incident) -> str:
    """What the mocked model answers: the offline composer's claims in the wire shape of the draft schema."""
    draft = TemplateComposer().compose(question_for(incident_scope(store, incident)))
    return json.dumps({"claims": [{"text": c.text or "proposed", "kind": str(c.kind), "evidence_ids": c.evidence_ids,
                                   "params": [{"name": k, "value": v} for k, v in c.params.items()]}
                                  for c in draft.claims]})


def measure(path: Path, requests: int, tmp: str, composer: str) -> dict:
    url = f"sqlite:///{tmp}/{path.stem}-{composer}.db"
    scenario = load_scenario(path)
    with Store.open(url) as store:
        store.ensure_schema()
        load_into(store, scenario)
        [incident] = run_detectors(store, scenario.now).incidents
        answer = model_answer(store, incident)
    env = {**os.environ, "RCA_DATABASE_URL": url, "RCA_DETECT_INTERVAL_S": "0", "RCA_CHROMA_PATH": f"{tmp}/chroma"}
    for name in ("RCA_LLM_MODEL", "RCA_LLM_CLASS", "RCA_LLM_BASE_URL", "RCA_LLM_API_KEY"):
        env.pop(name, None)
    with fake_llm() as (llm_url, llm):
        llm.answer = answer
        if composer == "model":
            env.update(RCA_LLM_MODEL="fake-model", RCA_LLM_BASE_URL=llm_url, RCA_LLM_API_KEY="none")
        result = _timed(env, incident, requests)
        if composer == "model" and llm.calls < requests:
            raise SystemExit(f"{path.stem}: the mocked model was called {llm.calls} times for {requests} requests")
    return {"scenario": path.stem, "composer": composer, "reason_code": str(incident.reason_code), **result}


def _timed(env: dict, incident: Incident, requests: int) -> dict:
    with rca_server(env) as base, httpx.Client(base_url=base, timeout=60) as client:
        client.get(f"/v1/incidents/{incident.id}/rca").raise_for_status()  # warm-up
        timings = []
        for _ in range(requests):
            started = time.perf_counter()
            response = client.get(f"/v1/incidents/{incident.id}/rca")
            timings.append((time.perf_counter() - started) * 1000)
            response.raise_for_status()
        verdict, used = response.json()["verdict"], response.json()["composer"]
    timings.sort()
    return {"verdict": verdict, "composer_used": used, "requests": requests,
            "p50_ms": round(statistics.median(timings), 1), "p95_ms": round(timings[int(len(timings) * 0.95) - 1], 1),
            "max_ms": round(timings[-1], 1)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--composer", choices=("both", "offline", "model"), default="both")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    composers = ("offline", "model") if args.composer == "both" else (args.composer,)
    with tempfile.TemporaryDirectory() as tmp:
        results = [measure(path, args.requests, tmp, c) for path in SCENARIOS for c in composers]
    if not args.json:
        print(f"RCA latency through GET /v1/incidents/{{id}}/rca, SQLite, {args.requests} requests")
        print(f"{'scenario':<36}{'composer':<10}{'p50 ms':>9}{'p95 ms':>9}{'max ms':>9}  composer used")
        for r in results:
            print(f"{r['scenario']:<36}{r['composer']:<10}{r['p50_ms']:>9}{r['p95_ms']:>9}{r['max_ms']:>9}  "
                  f"{r['composer_used']}")
    print(json.dumps({"rca": results}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
