"""The web console: one static page, its stylesheet and script, calling the REST API with the user's token.

    from rca.console import router
    app.include_router(router)
    # GET /                      incidents, filters by team, tier and status
    # GET /incidents/{id}        timeline, chart, evidence, RCA panel and chat
    # GET /change-requests       drift change requests (approve / reject need an admin token)
    # GET /readiness             readiness per dataset and producer, criteria and backlog
    # GET /ask                   chat with the copilot about any incident
    # GET /adoption              fleet rollout and platform KPIs, with charts
"""

from __future__ import annotations

from importlib.resources import files

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
_HERE = files(__name__)
_TYPES = {"console.css": "text/css; charset=utf-8", "console.js": "text/javascript; charset=utf-8",
          "favicon.svg": "image/svg+xml"}
# The page loads nothing from elsewhere; evidence payloads are untrusted, so no inline script runs either.
_CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")


def _page() -> HTMLResponse:
    html = _HERE.joinpath("console.html").read_text(encoding="utf-8")
    return HTMLResponse(html, headers={"Content-Security-Policy": _CSP, "Cache-Control": "no-cache"})


@router.get("/")
def incidents_page() -> HTMLResponse:
    return _page()


@router.get("/incidents/{incident_id}")
def incident_page(incident_id: str) -> HTMLResponse:
    return _page()


@router.get("/evidence/{evidence_id}")
def evidence_page(evidence_id: str) -> HTMLResponse:
    return _page()


@router.get("/change-requests")
def change_requests_page() -> HTMLResponse:
    return _page()


@router.get("/readiness")
def readiness_page() -> HTMLResponse:
    return _page()


@router.get("/adoption")
def adoption_page() -> HTMLResponse:
    return _page()


@router.get("/ask")
def ask_page() -> HTMLResponse:
    return _page()


@router.get("/favicon.ico")
def favicon() -> Response:
    # Browsers ask for /favicon.ico on their own; the page links the same icon as /static/favicon.svg.
    return static("favicon.svg")


@router.get("/static/{name}")
def static(name: str) -> Response:
    if name not in _TYPES:
        return Response("not found", status_code=404, media_type="text/plain")
    body = _HERE.joinpath("static", name).read_bytes()
    return Response(body, media_type=_TYPES[name], headers={"Cache-Control": "no-cache"})
