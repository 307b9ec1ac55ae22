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
from dataclasses import dataclass

from qa.config import PipelineConfig
from qa.errors import ConfigError
from qa.scoring.scorer import Scorer
from qa.store.db import Store

log = logging.getLogger("qa.runner.ray")


def _actor_class():
    import ray

    @ray.remote
    class PipelineActor:
        """Holds one loaded pipeline (models in memory) and works the queue."""

        def __init__(self, db_url: str, cfg: PipelineConfig, scorer: Scorer):
            from qa.pipeline import Pipeline
            from qa.store import open_store

            self.store = open_store(db_url)
            self.pipeline = Pipeline(cfg, scorer)
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


@dataclass(frozen=True, slots=True)
class RayOptions:
    """How many actors, what each gets from the cluster, and how long a job's lease lasts."""

    actors: int = 1
    until_empty: bool = True
    lease_s: float = 600.0
    address: str | None = None  # an existing cluster ("ray://host:10001" or "auto"); None: a local Ray instance
    num_cpus: float | None = None  # per actor (default: the ASR threads)
    num_gpus: float = 0.0  # per actor
    local_cpus: int | None = None  # a local instance's CPUs


def run_on_ray(
    store: Store, db_url: str, cfg: PipelineConfig, scorer: Scorer, options: RayOptions = RayOptions()
) -> dict:
    """Work the queue in ``options.actors`` Ray actors, each holding ``Pipeline(cfg, scorer)``; the totals."""
    o = options
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
        if o.address:
            ray.init(address=o.address, log_to_driver=False)
        else:
            ray.init(num_cpus=o.local_cpus, include_dashboard=False, log_to_driver=False)
    per_actor_cpus = o.num_cpus if o.num_cpus is not None else float(cfg.asr.cpu_threads or 1)
    Actor = _actor_class().options(num_cpus=per_actor_cpus, num_gpus=o.num_gpus)
    url = store.engine.url.render_as_string(hide_password=False)
    handles = [Actor.remote(url, cfg, scorer) for _ in range(o.actors)]
    results = ray.get([h.work.remote(o.until_empty, o.lease_s) for h in handles])
    total = {k: sum(r[k] for r in results) for k in ("done", "failed", "retried")}
    total["actors"] = len(handles)
    return total
