"""`rca serve --demo`: the reference stories of examples/scenarios in the database, each detected at its own clock.

The two Spark freshness stories share a dataset and event ids (they are alternatives, not a sequence), so the demo
loads the running-slow story and the Spring contract story. A detector pass at a later story's clock re-evaluates
every open incident (at 2026-03-10 the January freshness lookback is empty), so after the passes each incident is
set back to what the pass at its own story's clock found: one open incident per story, as `rca replay` shows it.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from detectors import load_scenario, run_detectors
from detectors._scenario import Scenario, load_into
from evidence._schema import incidents
from evidence._store import Store

STORIES = ("spark_job_running_slow.yaml", "spring_missing_customer_id.yaml")


def scenario_dir() -> Path:
    """examples/scenarios in a checkout; the copy an installed rca carries as rca/demo_scenarios."""
    installed = Path(__file__).resolve().parent / "demo_scenarios"
    return installed if installed.is_dir() else Path(__file__).resolve().parent.parent / "examples" / "scenarios"


def load_demo(store: Store, directory: Path | None = None) -> datetime:
    """Load the demo stories and detect; returns the latest story clock (the demo server's fixed clock)."""
    directory = directory or scenario_dir()
    scenarios = sorted((load_scenario(directory / name) for name in STORIES), key=lambda s: s.now)
    store.ensure_schema()
    found: dict[str, dict[str, Any]] = {}
    for scenario in scenarios:
        rejected = load_into(store, scenario)
        if rejected:
            raise RuntimeError(f"demo scenario {scenario.name} was rejected: {rejected}")
        result = run_detectors(store, scenario.now)
        for incident in result.incidents:
            if incident["dataset_urn"] in _datasets(scenario):
                found[incident["id"]] = incident
    with store.writing() as conn:
        for incident_id, incident in found.items():
            row = conn.execute(incidents.select().where(incidents.c.id == incident_id)).first()
            if row is None:
                continue
            conn.execute(incidents.update().where(incidents.c.id == incident_id).values(
                status="open", resolved_at=None, reason_code=incident["reason_code"],
                body=orjson.dumps({**incident, "status": "open", "resolved_at": None}).decode()))
    return scenarios[-1].now


def _datasets(scenario: Scenario) -> set[str]:
    return {p.dataset_urn for p in scenario.policies} | {c.dataset_urn for c in scenario.contracts}


def demo_app(settings: Any = None) -> Any:
    """The API and console over the demo data: auth off (loopback only), no scheduled detection, and the clock
    fixed at the latest story's `now`, so every page shows the stories as on-call saw them."""
    from rca._settings import Settings
    from rca.app import create_app

    settings = (settings or Settings()).model_copy(update={"auth_disabled": True, "detect_interval_s": 0})
    store = Store.open(settings.database_url)
    now = load_demo(store)
    return create_app(settings, store=store, clock=lambda: now)


def main(argv: list[str] | None = None) -> None:
    """`python -m rca._demo --port N`: what `rca serve --demo` runs (used by the browser test)."""
    import argparse

    import uvicorn

    parser = argparse.ArgumentParser(prog="python -m rca._demo")
    parser.add_argument("--port", type=int, default=8080)
    args = parser.parse_args(argv)
    application = demo_app()
    print(f"rca demo serving on http://127.0.0.1:{args.port}/", flush=True)
    uvicorn.run(application, host="127.0.0.1", port=args.port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
