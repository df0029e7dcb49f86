"""The web console in real headless Chromium (Debian's chromium, driven by playwright) against a real demo server:
open an incident, read its timeline, evidence and RCA, ask why, and open a cited record from the answer."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

CHROMIUM = Path("/usr/bin/chromium")
OUTPUT = Path(__file__).resolve().parents[2] / "test-output"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]

pytestmark = pytest.mark.e2e


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def demo_url(tmp_path: Path) -> Iterator[str]:
    """What `rca serve --demo` runs: the demo stories loaded, auth off on loopback, the clock at the stories' now."""
    port = _free_port()
    env = {**os.environ, "RCA_DATABASE_URL": f"sqlite:///{tmp_path / 'demo.db'}",
           "RCA_CHROMA_PATH": str(tmp_path / "chroma")}
    env.pop("RCA_SLACK_SIGNING_SECRET", None)
    with (tmp_path / "serve.log").open("ab") as log:
        process = subprocess.Popen([sys.executable, "-m", "rca._demo", "--port", str(port)], env=env, stdout=log,
                                   stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"the demo server exited with {process.returncode}; see {tmp_path / 'serve.log'}")
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


@pytest.fixture
def page():  # type: ignore[no-untyped-def]
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing; CI must install Debian's chromium (apt-get install chromium)")
        pytest.skip(f"{CHROMIUM} is missing: apt-get install chromium to run the browser test")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            yield browser.new_page(viewport={"width": 1400, "height": 1000})
        finally:
            browser.close()


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
    expect(page.locator("#rca .composer")).to_contain_text("Claims chosen by: default")
    # Outside text is shown inert: a bidi override or an escape sequence becomes a visible escape.
    assert page.evaluate("inert('ref\u202eexe.\u001b[31m \uff46')") == "ref\\u202eexe.\\u001b[31m f"
    expect(page.locator("#correlated-deploy")).to_contain_text("checkout-service v2.8.1")
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
    expect(page.locator("#error")).to_contain_text("401")
    page.fill("#token", reader)
    page.click("#token-form button")
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
    expect(page.locator("#error")).to_contain_text("403")
    expect(row).to_contain_text("open")

    page.fill("#token", admin)
    page.click("#token-form button")
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
