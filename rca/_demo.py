"""Stories into a database: `rca load FILE...` and `rca serve --demo` (the reference stories of examples/scenarios).

A story is a scenario file: configuration, evidence and its own clock. Loading one stores everything and detects at
that clock, scoped to the story: a detector pass re-evaluates every open incident, and a pass at a story's clock
(in the past, or at another story's time) would resolve or open incidents of datasets the story does not name. So
after the passes, incidents of other datasets are put back as they were, and each story's incidents are what the
pass at its own clock found: one open incident per break, as `rca replay` shows it.

The two Spark freshness stories share a dataset and event ids (they are alternatives, not a sequence), so the demo
loads the running-slow story and the Spring contract story.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import select

from detectors import Scenario, load_into, load_scenario, run_detectors
from evidence import Store, incidents

STORIES = ("spark_job_running_slow.yaml", "spring_missing_customer_id.yaml")


def scenario_dir() -> Path:
    """examples/scenarios in a checkout; the copy an installed rca carries as rca/demo_scenarios."""
    installed = Path(__file__).resolve().parent / "demo_scenarios"
    return installed if installed.is_dir() else Path(__file__).resolve().parent.parent / "examples" / "scenarios"


@dataclass
class Loaded:
    """What loading stories stored: the open incidents each story's clock found, and what was rejected."""

    incidents: list[dict[str, Any]] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    counts: dict[str, dict[str, int]] = field(default_factory=dict)  # per story: policies, events, ...
    now: datetime | None = None  # the latest story clock


def load_stories(store: Store, scenarios: Sequence[Scenario], *, detect: bool = True,
                 on_story: Callable[[Scenario], None] | None = None) -> Loaded:
    """Store each story (policies, contracts, mappings, lineage, events, messages) and, with `detect`, run a
    detector pass at its clock, scoped to its datasets (see the module docstring)."""
    ordered = sorted(scenarios, key=lambda s: s.now)
    store.ensure_schema()
    loaded = Loaded(now=ordered[-1].now if ordered else None)
    with store.engine.connect() as conn:
        before = {row.id: row._asdict() for row in conn.execute(select(incidents))}
    found: dict[str, dict[str, Any]] = {}
    mine: set[str] = set()
    for scenario in ordered:
        loaded.rejected += [f"{scenario.name}: {problem}" for problem in load_into(store, scenario)]
        loaded.counts[scenario.name] = {"policies": len(scenario.policies), "contracts": len(scenario.contracts),
                                        "mappings": len(scenario.mappings), "lineage": len(scenario.lineage),
                                        "events": len(scenario.events), "messages": len(scenario.messages)}
        datasets = _datasets(scenario)
        mine |= datasets
        if detect:
            for incident in run_detectors(store, scenario.now).incidents:
                if incident["dataset_urn"] in datasets:
                    found[incident["id"]] = incident
        if on_story:
            on_story(scenario)
    if not detect:
        return loaded
    with store.writing() as conn:
        for row in list(conn.execute(select(incidents.c.id, incidents.c.dataset_urn))):
            if row.dataset_urn in mine:
                continue
            conn.execute(incidents.delete().where(incidents.c.id == row.id))  # put back below, as it was
        for values in before.values():
            if values["dataset_urn"] not in mine:
                conn.execute(incidents.insert().values(**values))
        for incident_id, incident in found.items():
            body = {**incident, "status": "open", "resolved_at": None}
            conn.execute(incidents.update().where(incidents.c.id == incident_id).values(
                status="open", resolved_at=None, reason_code=incident["reason_code"],
                body=orjson.dumps(body).decode()))
            loaded.incidents.append(body)
    return loaded


def load_demo(store: Store, directory: Path | None = None) -> datetime:
    """Load the demo stories and detect; returns the latest story clock (the demo server's fixed clock)."""
    directory = directory or scenario_dir()
    loaded = load_stories(store, [load_scenario(directory / name) for name in STORIES])
    if loaded.rejected:
        raise RuntimeError(f"demo stories were rejected: {loaded.rejected}")
    assert loaded.now is not None
    return loaded.now


def _datasets(scenario: Scenario) -> set[str]:
    return ({p.dataset_urn for p in scenario.policies} | {c.dataset_urn for c in scenario.contracts}
            | {m.dataset_urn for m in scenario.mappings})


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
