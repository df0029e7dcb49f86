"""The application shell: settings, the `rca` CLI and the FastAPI app.

    from rca import create_app, Settings
    app = create_app(Settings(database_url="sqlite:///var/rca.db"))
    # uvicorn.run(app)  -- or `rca serve`
"""

from rca._settings import Settings
from rca.app import create_app, system_clock

__all__ = ["Settings", "create_app", "system_clock"]
