"""The FastAPI app. ``create_app(store, settings)`` builds it (tests use it in-process); ``qa serve`` runs it with
uvicorn and, unless told not to, a background worker thread that processes uploaded recordings from the queue."""

from __future__ import annotations

import logging
import threading
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from api.routes import calls, coaching, reports, reviews, users
from qa import __version__
from qa.store.db import Store

log = logging.getLogger("qa.api")
ROUTERS = (calls.router, reviews.router, coaching.router, reports.router, users.router)


@dataclass
class Settings:
    data_dir: Path = Path("callqa-data")
    max_upload_bytes: int = 200 * 2**20
    worker: bool = True  # run a background worker in the server process
    model: str | None = None  # ASR model for the background worker


def create_app(store: Store, settings: Settings | None = None, pipeline=None) -> FastAPI:
    settings = settings or Settings()
    state: dict = {}

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        if settings.worker:
            state["stop"] = threading.Event()
            state["thread"] = threading.Thread(
                target=_background_worker, args=(app, state["stop"]), daemon=True, name="qa-worker"
            )
            state["thread"].start()
        yield
        if "stop" in state:
            state["stop"].set()
            state["thread"].join(timeout=30)

    app = FastAPI(
        title="callqa",
        version=__version__,
        summary="Quality assurance for recorded 311 calls: review, calibration, disputes, coaching, trends, exports.",
        lifespan=lifespan,
    )
    app.state.store = store
    app.state.settings = settings
    app.state.pipeline = pipeline
    app.state.config_hash = lambda meta: _config_hash(app, meta)
    for r in ROUTERS:
        app.include_router(r)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException):
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError):
        problems = [
            {"field": ".".join(str(p) for p in e["loc"] if p != "body"), "message": e["msg"]} for e in exc.errors()
        ]
        text = "; ".join(f"{p['field']}: {p['message']}" for p in problems)
        return JSONResponse({"detail": text, "errors": problems}, status_code=422)

    @app.exception_handler(Exception)
    async def internal_error(request: Request, exc: Exception):
        log.error("internal error on %s %s (%s)", request.method, request.url.path, type(exc).__name__)
        return JSONResponse({"detail": "internal error; the server log has the details"}, status_code=500)

    return app


def _pipeline(app: FastAPI):
    if app.state.pipeline is None:
        from qa.config import PipelineConfig
        from qa.pipeline import Pipeline

        cfg = PipelineConfig()
        if app.state.settings.model:
            cfg = cfg.with_overrides({"asr.model": app.state.settings.model})
        app.state.pipeline = Pipeline(cfg)
    return app.state.pipeline


def _config_hash(app: FastAPI, meta: dict) -> str:
    from qa.types import CallMetadata

    return _pipeline(app).call_config_hash(CallMetadata(**meta))


def _background_worker(app: FastAPI, stop: threading.Event) -> None:
    from qa.runner.worker import run_worker
    from qa.scoring.rescore import DEFAULT_SCORECARD
    from qa.scoring.schema import load_scorecard

    try:
        pipeline = _pipeline(app)
        pipeline.load()
        run_worker(pipeline, app.state.store, load_scorecard(DEFAULT_SCORECARD), stop=stop, poll_s=1.0)
    except Exception:  # noqa: BLE001 - the API keeps serving; jobs stay queued for a `qa worker`
        log.exception("background worker stopped; queued jobs wait for `qa worker`")
