"""The console's page and assets: served without a token (the data behind them needs one), self-contained."""

from __future__ import annotations

import re
from importlib.resources import files

import pytest
from fastapi.testclient import TestClient

from rca import Settings, create_app

# The SVG namespace is an identifier the script passes to createElementNS, never fetched.
SVG_NAMESPACE = "http://www.w3.org/2000/svg"


@pytest.fixture
def client(tmp_path) -> TestClient:  # type: ignore[no-untyped-def]
    app = create_app(Settings(database_url=f"sqlite:///{tmp_path / 'rca.db'}", detect_interval_s=0,
                              chroma_path=str(tmp_path / "chroma")))
    return TestClient(app)


@pytest.mark.parametrize("path", ["/", "/incidents/inc_0123456789abcdef", "/evidence/ev_x", "/change-requests",
                                  "/readiness", "/ask"])
def test_every_console_route_serves_the_page_without_a_token(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert '<script src="/static/console.js" defer></script>' in response.text
    policy = response.headers["content-security-policy"]
    assert "default-src 'none'" in policy and "script-src 'self'" in policy
    assert client.get("/v1/incidents").status_code == 401  # the data still needs a token


def test_static_assets_are_served_with_their_types(client: TestClient) -> None:
    css = client.get("/static/console.css")
    js = client.get("/static/console.js")
    assert (css.status_code, js.status_code) == (200, 200)
    assert css.headers["content-type"].startswith("text/css")
    assert js.headers["content-type"].startswith("text/javascript")
    assert client.get("/static/../app.py").status_code == 404
    assert client.get("/static/other.js").status_code == 404


def test_the_console_loads_nothing_from_elsewhere_and_never_parses_html() -> None:
    package = files("rca.console")
    texts = {name: package.joinpath(*name.split("/")).read_text(encoding="utf-8")
             for name in ("console.html", "static/console.css", "static/console.js")}
    for name, text in texts.items():
        outside = [url for url in re.findall(r"(?:https?:)?//[\w.-]+\.[a-z]{2,}[^\s'\"`)]*", text)
                   if url != SVG_NAMESPACE]
        assert outside == [], f"{name} refers to {outside}"
        assert "@import" not in text
    script = texts["static/console.js"]
    # Evidence payloads are untrusted: text goes in through textContent / text nodes only.
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
        assert sink not in script


def test_the_favicon_is_served_where_browsers_ask_for_it(client: TestClient) -> None:
    for path in ("/favicon.ico", "/static/favicon.svg"):
        response = client.get(path)
        assert response.status_code == 200 and response.headers["content-type"] == "image/svg+xml"
        assert response.text.startswith("<svg")
    assert '<link rel="icon" href="/static/favicon.svg"' in client.get("/").text
