"""Stories into a database: `rca load FILE...` and `rca serve --demo` (the reference stories of examples/scenarios).

A story is a scenario file: configuration, evidence and its own clock. Loading one stores everything and detects at
that clock, scoped to the story: a pass at a story's clock (in the past, or at another story's time) would resolve or
open incidents of datasets the story does not name, so the pure pass's incidents are written for the story's own
datasets only (`store_incidents(..., scope=...)`). Each story's incidents are what the pass at its own clock found:
one open incident per break, as `rca replay` shows it; incidents of other datasets stay as they were.

The two Spark freshness stories share a dataset and event ids (they are alternatives, not a sequence), so the demo
loads the running-slow story and the Spring contract story.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from detectors import Scenario, find_stored_incidents, load_into, load_scenario, store_incidents
from evidence import Incident, Store

STORIES = ("spark_job_running_slow.yaml", "spring_missing_customer_id.yaml")


def scenario_dir() -> Path:
    """examples/scenarios in a checkout; the copy an installed rca carries as rca/demo_scenarios."""
    installed = Path(__file__).resolve().parent / "demo_scenarios"
    return installed if installed.is_dir() else Path(__file__).resolve().parent.parent / "examples" / "scenarios"


@dataclass
class Loaded:
    """What loading stories stored: the open incidents each story's clock found, and what was rejected."""

    incidents: list[Incident] = field(default_factory=list)
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
    found: dict[str, Incident] = {}  # by id: a later story's pass over the same dataset has the last word
    for scenario in ordered:
        loaded.rejected += [f"{scenario.name}: {problem}" for problem in load_into(store, scenario)]
        loaded.counts[scenario.name] = {"policies": len(scenario.policies), "contracts": len(scenario.contracts),
                                        "mappings": len(scenario.mappings), "lineage": len(scenario.lineage),
                                        "events": len(scenario.events), "messages": len(scenario.messages)}
        if detect:
            # The pure pass at the story's clock, written for the story's own datasets only: incidents of other
            # datasets stay as they were.
            pass_found = find_stored_incidents(store, scenario.now)
            for incident in store_incidents(store, pass_found, scenario.now, scope=_datasets(scenario)).incidents:
                found[incident.id] = incident
        if on_story:
            on_story(scenario)
    loaded.incidents = list(found.values())
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
