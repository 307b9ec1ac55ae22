"""The FastAPI app. ``create_app(store, settings)`` builds it (tests use it in-process); ``qa serve`` runs it with
uvicorn and, unless told not to, a background worker thread that processes uploaded recordings from the queue."""

from __future__ import annotations

import logging
import threading
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline

from api import console, errors
from api.keys import KeyThrottle, LastUsed
from api.middleware import BodyLimit, Envelope, WriterLimit
from api.routes import audit, calls, coaching, evaluations, jobs, reports, reviews, users
from api.uploads import SLACK
from qa import __version__
from qa.store.db import Store
from qa.store.lifecycle import Policy

log = logging.getLogger("qa.api")
ROUTERS = (
    calls.router,
    jobs.router,
    evaluations.router,
    reviews.router,
    coaching.router,
    reports.router,
    users.router,
    audit.router,
)


@dataclass
class Settings:
    data_dir: Path = Path("callqa-data")
    max_upload_bytes: int = 200 * 2**20
    max_json_bytes: int = 1 * 2**20  # any other request body
    worker: bool = True  # run a background worker in the server process
    model: str | None = None  # ASR model for the background worker
    lifecycle: Policy = field(default_factory=Policy)  # dispute window, disputes per item
    bad_key_limit: int = 10  # bad keys per client address ...
    bad_key_window_s: float = 60.0  # ... within this many seconds: then 429
    session_secret: str | None = None  # signs console sessions; None: CALLQA_SESSION_SECRET or data_dir/console-secret
    session_hours: float = 8.0  # a console sign-in lasts this long
    review_sample: int = 2  # calls per agent per week drawn for manual evaluation (the review queue's default)
    # How long a request waits for another writer's database lock before it is answered 503 with Retry-After (the
    # background worker keeps the store's own, longer timeout).
    db_busy_timeout_s: float = 2.0
    max_writers: int = 16  # writing requests at a time (below the 40 threads of the pool); one more is 503 at once


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
        app.state.last_used.close()

    # /docs and /redoc from assets shipped in the fastapi-offline package: no CDN, works on a closed network
    app = FastAPIOffline(
        title="callqa",
        version=__version__,
        summary="Quality assurance for recorded 311 calls: review, calibration, disputes, coaching, trends, exports.",
        lifespan=lifespan,
    )
    app.state.store = store.with_busy_timeout(settings.db_busy_timeout_s)
    app.state.worker_store = store
    app.state.settings = settings
    app.state.pipeline = pipeline
    app.state.config_hash = lambda meta: _config_hash(app, meta)
    app.state.key_throttle = KeyThrottle(settings.bad_key_limit, settings.bad_key_window_s)
    app.state.last_used = LastUsed(app.state.store)
    for r in ROUTERS:
        app.include_router(r)
    errors.install(app)
    console.mount(app, settings)  # the review console: /login, / and /ui/...
    app.add_middleware(WriterLimit, limit=settings.max_writers, retry_after_s=errors.RETRY_AFTER_S)
    app.add_middleware(BodyLimit, limit=settings.max_json_bytes, upload_limit=lambda: settings.max_upload_bytes + SLACK)
    app.add_middleware(Envelope)  # added last: outermost
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
    from qa.scoring.scorer import Scorer

    try:
        pipeline = _pipeline(app).with_scorer(Scorer.from_file())
        pipeline.load()
        run_worker(pipeline, app.state.worker_store, stop=stop, poll_s=1.0)
    except Exception:  # noqa: BLE001 - the API keeps serving; jobs stay queued for a `qa worker`
        log.exception("background worker stopped; queued jobs wait for `qa worker`")
