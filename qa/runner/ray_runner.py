"""The distributed runner on Ray (extra ``callqa[ray]``): the same worker loop as ``qa worker``, run inside Ray actors
that hold the models, so a cluster of many machines scales out without a second code path.

Each actor loads a Pipeline once and runs :func:`qa.runner.worker.run_worker` against the database, which stays the
source of truth: jobs are claimed there (``FOR UPDATE SKIP LOCKED``), results are stored there with the job's
completion, and a lost actor's job is taken over when its lease expires, exactly as with local workers. That needs a
database every node reaches: PostgreSQL. Resources per actor come from config (``runner.ray``: ``num_cpus``,
``num_gpus``) or the options.
"""

from __future__ import annotations

import logging
from pathlib import Path

from qa.errors import ConfigError
from qa.store.db import Store

log = logging.getLogger("qa.runner.ray")


def _actor_class():
    import ray

    @ray.remote
    class PipelineActor:
        """Holds one loaded pipeline (models in memory) and works the queue."""

        def __init__(self, db_url: str, model: str | None, threads: int | None, scorecard: str | None):
            from qa.config import PipelineConfig
            from qa.pipeline import Pipeline
            from qa.scoring.scorer import Scorer
            from qa.store import open_store

            self.store = open_store(db_url)
            cfg = PipelineConfig().with_overrides({"asr.model": model, "asr.cpu_threads": threads})
            self.pipeline = Pipeline(cfg, Scorer.from_file(Path(scorecard) if scorecard else None))
            self.pipeline.load()

        def work(self, until_empty: bool, lease_s: float) -> dict:
            import os

            from qa.runner.worker import run_worker

            stats = run_worker(
                self.pipeline,
                self.store,
                until_empty=until_empty,
                lease_s=lease_s,
                name=f"ray:{os.getpid()}",
            )
            return {"done": stats.done, "failed": stats.failed, "retried": stats.retried, "seconds": stats.seconds}

    return PipelineActor


def run_on_ray(
    store: Store,
    db_url: str,
    actors: int = 1,
    model: str | None = None,
    threads: int | None = None,
    until_empty: bool = True,
    scorecard: Path | None = None,
    lease_s: float = 600.0,
    address: str | None = None,
    num_cpus: float | None = None,
    num_gpus: float = 0.0,
    local_cpus: int | None = None,
) -> dict:
    if store.dialect != "postgresql":
        raise ConfigError(
            "--runner ray needs a database every Ray node can reach: use --db postgresql://... (a SQLite file lives "
            "on one machine; use the local runner, `qa worker --workers N`, there)"
        )
    try:
        import ray
    except ImportError:
        raise ConfigError("the Ray runner needs Ray: pip install 'callqa[ray]'") from None
    if not ray.is_initialized():
        if address:
            ray.init(address=address, log_to_driver=False)
        else:
            ray.init(num_cpus=local_cpus, include_dashboard=False, log_to_driver=False)
    per_actor_cpus = num_cpus if num_cpus is not None else float(threads or 1)
    Actor = _actor_class().options(num_cpus=per_actor_cpus, num_gpus=num_gpus)
    url = store.engine.url.render_as_string(hide_password=False)
    handles = [Actor.remote(url, model, threads, str(scorecard) if scorecard else None) for _ in range(actors)]
    results = ray.get([h.work.remote(until_empty, lease_s) for h in handles])
    total = {k: sum(r[k] for r in results) for k in ("done", "failed", "retried")}
    total["actors"] = len(handles)
    return total
