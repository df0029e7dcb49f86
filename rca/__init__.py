"""The application shell: settings, the `rca` CLI and the FastAPI app.

    from rca import create_app, Settings
    app = create_app(Settings(database_url="sqlite:///var/rca.db"))
    # uvicorn.run(app)  -- or `rca serve`
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rca._settings import Settings
    from rca.app import create_app, system_clock

__all__ = ["Settings", "create_app", "system_clock"]


def __getattr__(name: str) -> Any:
    # Imported on first use: `rca incidents --url ...` is an HTTP client and should not start by importing the
    # server (FastAPI, SQLAlchemy, the detectors): that took 1.5 s of every command's start.
    if name == "Settings":
        from rca._settings import Settings

        return Settings
    if name in ("create_app", "system_clock"):
        from rca import app

        return getattr(app, name)
    raise AttributeError(f"module 'rca' has no attribute {name!r}")
