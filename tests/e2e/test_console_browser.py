"""The web console in real headless Chromium (Debian's chromium, driven by playwright) against a real demo server:
open an incident, read its timeline, evidence and RCA, ask why, and open a cited record from the answer."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

OUTPUT = Path(__file__).resolve().parents[2] / "test-output"

pytestmark = pytest.mark.e2e


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serve_demo(tmp: Path, database_url: str) -> Iterator[str]:
    """`python -m rca._demo` (what `rca serve --demo` runs: auth off on loopback, the clock at the stories' now) over
    `database_url` on a free loopback port; yields its base URL once /healthz answers, and stops it after."""
    port = _free_port()
    env = {**os.environ, "RCA_DATABASE_URL": database_url, "RCA_CHROMA_PATH": str(tmp / "chroma")}
    env.pop("RCA_SLACK_SIGNING_SECRET", None)
    with (tmp / "serve.log").open("ab") as log:
        process = subprocess.Popen([sys.executable, "-m", "rca._demo", "--port", str(port)], env=env, stdout=log,
                                   stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"the demo server exited with {process.returncode}; see {tmp / 'serve.log'}")
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(10)


@pytest.fixture(scope="module")
def demo_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The demo stories loaded. One server for the module: the tests only read (and chat), and starting one takes
    seconds."""
    tmp_path = tmp_path_factory.mktemp("demo")
    with serve_demo(tmp_path, f"sqlite:///{tmp_path / 'demo.db'}") as url:
        yield url


def test_on_call_opens_an_incident_asks_why_and_opens_the_cited_evidence(demo_url: str, page) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{demo_url}/")
    rows = page.locator("#incidents tbody tr")
    expect(rows).to_have_count(2)
    expect(page.locator("#incidents")).to_contain_text("REQUIRED_FIELD_MISSING")
    expect(page.locator("#incidents")).to_contain_text("JOB_RUNNING_SLOW")

    page.get_by_role("link", name="ds://orders_v1").click()
    page.wait_for_url("**/incidents/inc_*")
    timeline = page.locator("#timeline")
    for point in ("last good", "deploy v2.8.1", "first bad", "detected", "now"):
        expect(timeline).to_contain_text(point)
    evidence = page.locator("#evidence-table tbody tr")
    expect(evidence.first).to_be_visible()
    assert evidence.count() >= 3
    expect(page.locator("#evidence-table")).to_contain_text("DeploymentEvent")
    expect(page.locator("#rca")).to_contain_text("cause identified")
    expect(page.locator("#rca .claims li").first).to_be_visible()
    expect(page.locator("#fact-changed")).to_contain_text("checkout-service v2.8.1")
    expect(page.locator("#rca .composer")).to_contain_text("Claims chosen by: default")
    # Outside text is shown inert: a bidi override or an escape sequence becomes a visible escape.
    assert page.evaluate("inert('ref\u202eexe.\u001b[31m \uff46')") == "ref\\u202eexe.\\u001b[31m f"
    expect(page.locator("#downstream")).to_contain_text("ds://curated/orders_enriched")

    page.fill("#chat-question", "why?")
    page.click("#chat-form button[type=submit]")
    citation = page.locator("#chat-log .a a.cite").first
    expect(citation).to_be_visible(timeout=30_000)
    cited = citation.inner_text()
    citation.click()
    detail = page.locator("#evidence-detail")
    expect(detail.locator(".evidence-id")).to_have_text(cited)
    expect(detail.locator(".payload")).to_contain_text(f'"evidence_id": "{cited}"')
    expect(page.locator(f'#evidence-table tr.selected[data-evidence="{cited}"]')).to_have_count(1)

    OUTPUT.mkdir(exist_ok=True)
    page.screenshot(path=str(OUTPUT / "console-incident.png"), full_page=True)
    assert errors == []


def test_readers_read_with_their_pasted_token_and_only_admins_decide_change_requests(serve, tmp_path: Path,
                                                                                     page) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    from detectors import intake_records, load_scenario
    from evidence._store import Store
    from evidence._tokens import create_token
    from rca._demo import load_demo, scenario_dir

    database_url = f"sqlite:///{tmp_path / 'rca.db'}"
    store = Store.open(database_url)
    now = load_demo(store)
    spring = load_scenario(scenario_dir() / "spring_missing_customer_id.yaml")
    # Records under a schema no rule maps: held, and a drift change request opens.
    drifted = [dict(m, schema_id=43, offset=m["offset"] + 100_000) for m in spring.messages[:3]]
    intake_records(store, drifted, None, trust_ingest_time=True)
    reader = create_token(store, "oncall", "reader", [], now)[1]
    admin = create_token(store, "platform", "admin", [], now)[1]
    store.engine.dispose()
    server = serve(database_url, env={"RCA_DETECT_INTERVAL_S": "0", "RCA_CHROMA_PATH": str(tmp_path / "chroma")})

    page.goto(f"{server.url}/")
    expect(page.locator("#error")).to_contain_text("Paste a token to see incidents")
    expect(page.locator("#token-panel")).to_be_visible()  # opened for the person, where to paste
    page.fill("#token", "rca_r_not-a-real-token")
    page.click("#token-form button[type=submit]")
    expect(page.locator("#token-help")).to_contain_text("not accepted")
    expect(page.locator("#token-state")).not_to_contain_text("oncall")
    assert page.evaluate("localStorage.getItem('rca.token')") is None  # a refused token is not kept
    page.fill("#token", reader)
    page.click("#token-form button[type=submit]")
    expect(page.locator("#token-state")).to_have_text("oncall (reader)")
    expect(page.locator("#incidents tbody tr")).to_have_count(2)
    page.select_option("#filters select[name=status]", "all")
    page.fill("#filters input[name=tier]", "1")
    page.click("#filters button")
    expect(page.locator("#incidents tbody tr")).to_have_count(1)
    expect(page.locator("#incidents")).to_contain_text("ds://curated/orders_enriched")

    page.goto(f"{server.url}/change-requests")
    row = page.locator("#change-requests tbody tr")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("orders.created")
    row.locator("button.approve").click()
    expect(page.locator("#error")).to_contain_text("Your token (oncall) is a reader token and may not do this")
    expect(row).to_contain_text("open")

    page.click("#token-toggle")
    page.fill("#token", admin)
    page.click("#token-form button[type=submit]")
    expect(page.locator("#token-state")).to_have_text("platform (admin)")
    page.locator("#change-requests button.approve").click()
    expect(page.locator("#change-requests tbody tr")).to_contain_text("approved")


def test_readiness_shows_each_criterion_and_the_backlog(demo_url: str, page) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{demo_url}/")
    page.get_by_role("link", name="Readiness").click()
    page.wait_for_url("**/readiness")
    table = page.locator("#readiness")
    expect(table.locator('tr[data-subject="ds://orders_v1"]')).to_have_count(1)
    row = table.locator('tr[data-subject="ds://orders_v1"]')
    expect(row.locator(".score")).to_contain_text("%")
    for name in ("trace anchor", "identity confidence", "deploy correlation", "policy completeness"):
        expect(row.locator(".criteria")).to_contain_text(name)
    expect(row).to_contain_text("runbook")  # the demo's contract has no runbook link: the backlog says so
    assert errors == []


FACTS = ("#fact-what", "#fact-since", "#fact-changed", "#fact-who", "#fact-proof")
SIZES = [pytest.param(390, 844, id="phone-390x844"), pytest.param(1366, 900, id="laptop-1366x900")]


def _overflow(page) -> int:  # type: ignore[no-untyped-def]
    """How many CSS pixels the page is wider than the window (0: no horizontal scrolling)."""
    return int(page.evaluate("Math.max(document.documentElement.scrollWidth, document.body.scrollWidth)"
                             " - window.innerWidth"))


@pytest.mark.parametrize(("width", "height"), SIZES)
def test_every_page_fits_the_window_and_the_five_facts_are_above_the_fold(demo_url: str, page, width: int,
                                                                          height: int) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    errors: list[str] = []
    missing: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("response", lambda r: missing.append(r.url) if r.status == 404 else None)
    page.set_viewport_size({"width": width, "height": height})
    OUTPUT.mkdir(exist_ok=True)
    size = f"{width}x{height}"

    page.goto(f"{demo_url}/")
    rows = page.locator("#incidents tbody tr")
    expect(rows).to_have_count(2)
    spring = page.locator("#incidents tbody tr", has_text="ds://orders_v1")
    # what changed, how many downstream, for how long
    expect(spring.locator(".changed")).to_have_text("deploy checkout-service v2.8.1")
    expect(spring.locator(".downstream")).to_have_text("1")
    expect(spring.locator(".age")).to_have_text("8 min")
    expect(page.locator("#chat-form")).to_be_visible()  # chat from the list
    table = page.locator("#incidents").bounding_box()
    # the list gets the room there is (a squeezed grid column overflows nothing, yet is unreadable)
    assert table is not None and table["width"] >= (width - 40 if width < 700 else width - 440), table
    assert _overflow(page) <= 0, f"the incidents list is {_overflow(page)} px wider than {size}"
    page.screenshot(path=str(OUTPUT / f"console-list-{size}.png"))

    for dataset in ("ds://orders_v1", "ds://curated/orders_enriched"):
        page.goto(f"{demo_url}/")
        page.get_by_role("link", name=dataset, exact=True).click()
        page.wait_for_url("**/incidents/inc_*")
        expect(page.locator("#rca")).to_be_visible(timeout=30_000)
        expect(page.locator("#chart svg")).to_be_visible(timeout=30_000)
        assert page.evaluate("window.scrollY") == 0
        for selector in FACTS:
            box = page.locator(selector).bounding_box()
            assert box is not None and box["y"] + box["height"] <= height, \
                f"{selector} of {dataset} ends at {box and box['y'] + box['height']:.0f} px, below the {size} fold"
        assert _overflow(page) <= 0, f"{dataset}'s page is {_overflow(page)} px wider than {size}"
        name = dataset.rsplit("/", 1)[-1]
        page.screenshot(path=str(OUTPUT / f"console-incident-{name}-{size}.png"))
        page.screenshot(path=str(OUTPUT / f"console-incident-{name}-{size}-full.png"), full_page=True)

    for path, ready in (("/readiness", "#readiness"), ("/change-requests", "#change-requests"), ("/ask", "#chat-form")):
        page.goto(f"{demo_url}{path}")
        expect(page.locator(ready)).to_be_visible()
        assert _overflow(page) <= 0, f"{path} is {_overflow(page)} px wider than {size}"
    assert errors == [] and missing == []


def test_the_charts_are_time_series_from_stored_counters(demo_url: str, page) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    page.goto(f"{demo_url}/")
    page.get_by_role("link", name="ds://orders_v1", exact=True).click()
    chart = page.locator("#chart")
    expect(chart.locator("path.rate")).to_have_count(1)
    # The producer's deploys in the window: v2.8.1 (v2.8.0 was the day before; payments is another producer)
    expect(chart.locator("line.deploy")).to_have_count(1)
    expect(chart).to_contain_text("first bad")
    expect(chart).to_contain_text("v2.8.1")
    page.goto(f"{demo_url}/")
    page.get_by_role("link", name="ds://curated/orders_enriched", exact=True).click()
    watermark = page.locator("#chart")
    expect(watermark).to_contain_text("Watermark by day (America/New_York)")
    expect(watermark.locator("circle.landed")).to_have_count(7)  # one partition a day, 2026-01-12 to 01-18
    expect(watermark.locator("text.missing")).to_have_count(7)  # 01-06 to 01-11 had no commit stored, nor today
    # times in sentences take the console's format; an id that looks like a time (the run's) stays as written
    expect(page.locator("#rca")).to_contain_text("2026-01-19T06:00Z_abc")


def test_one_timestamp_format_with_a_local_and_utc_toggle(demo_url: str, page) -> None:  # type: ignore[no-untyped-def]
    import re

    from playwright.sync_api import expect

    context = page.context.browser.new_context(timezone_id="America/New_York", viewport={"width": 1366, "height": 900})
    page = context.new_page()
    page.goto(f"{demo_url}/")
    page.get_by_role("link", name="ds://orders_v1", exact=True).click()
    expect(page.locator("#rca")).to_be_visible(timeout=30_000)
    times = page.locator("time").all_inner_texts()
    assert times and all(re.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} UTC", t) for t in times), times
    assert "2026-03-10 10:21:04 UTC" in times  # first bad
    # the RCA's sentences carry their times in the same format (the API writes some as RFC 3339)
    assert not re.search(r"\d{4}-\d{2}-\d{2}T\d{2}", page.locator("#rca").inner_text())
    page.click("#tz-toggle")
    expect(page.locator("#tz-toggle")).to_have_text("Local time")
    expect(page.locator("#rca")).to_be_visible(timeout=30_000)
    local = page.locator("time").all_inner_texts()
    assert all(re.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} \S+", t) for t in local), local
    assert any(t.startswith("2026-03-10 06:21:04 ") for t in local), local  # New York, daylight time
    context.close()
