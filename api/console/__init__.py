"""The review console: server-rendered pages (Jinja2) and small plain-JS modules, every asset inside the package
(no CDN, no build step). Mounted by ``api.main.create_app`` beside the JSON API, on the same permissions."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

STATIC = Path(__file__).parent / "static"


def mount(app: FastAPI, settings) -> None:
    from api.console import calibration, pages, queue, team
    from api.console.session import Sessions, load_secret

    app.state.console_sessions = Sessions(
        lambda: load_secret(settings.session_secret, settings.data_dir), settings.session_hours
    )
    app.include_router(pages.router)
    app.include_router(queue.router)
    app.include_router(team.router)
    app.include_router(calibration.router)
    app.mount("/ui/static", StaticFiles(directory=STATIC), name="console-static")
    pages.install(app)
