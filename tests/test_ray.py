"""The Ray runner on a local Ray instance (2 CPUs): the same calls give the same results as the local runner, and
it refuses a SQLite database with a clear message."""

import re

import pytest
from conftest import SAMPLES
from sqlalchemy import select

from qa.audio.decode import file_sha256
from qa.config import PipelineConfig
from qa.errors import ConfigError
from qa.runner import queue
from qa.scoring.scorer import Scorer
from qa.store import open_store
from qa.store.models import Base, Call

CALLS = ["pothole_report.flac", "status_followup.flac"]


def test_ray_refuses_sqlite(tmp_path):
    from qa.runner.ray_runner import run_on_ray

    store = open_store(f"sqlite:///{tmp_path / 'qa.db'}")
    with pytest.raises(ConfigError, match="postgresql"):
        run_on_ray(store, "sqlite:///x", PipelineConfig(), Scorer.from_file())


def _fresh(url):
    store = open_store(url)
    with store.engine.begin() as c:
        c.exec_driver_sql(
            "TRUNCATE " + ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables) + " RESTART IDENTITY CASCADE"
        )
    for name in CALLS:
        queue.enqueue(store, SAMPLES / name, file_sha256(SAMPLES / name), "cfg", {"channels": "agent-left"})
    return store


def _words(text):
    """A turn's words without punctuation or case: the Ray actors run CTranslate2 under Ray's OMP_NUM_THREADS=1, and
    on some CPUs a different thread layout changes Whisper's punctuation ("One moment, please," / "One moment
    please"), not its words."""
    return re.sub(r"[^\w' ]+", "", text).lower().split()


def _results(store):
    with store.session() as s:
        return {
            c.id: (c.request_type, c.percent, c.answers, [_words(t["text"]) for t in c.document["turns"]])
            for c in s.scalars(select(Call))
        }


@pytest.mark.slow
def test_ray_runner_matches_the_local_runner(pg_url, tiny_pipeline):
    ray = pytest.importorskip("ray", reason="the Ray runner needs the ray extra: pip install 'callqa[ray]'")
    from qa.runner.ray_runner import RayOptions, run_on_ray
    from qa.runner.worker import run_worker
    from qa.scoring.scorer import Scorer

    store = _fresh(pg_url)
    stats = run_worker(tiny_pipeline.with_scorer(Scorer.from_file()), store, until_empty=True, poll_s=0.05)
    assert stats.done == len(CALLS)
    local = _results(store)

    store = _fresh(pg_url)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, object_store_memory=100 * 2**20)
    try:
        cfg = PipelineConfig().with_overrides({"asr.model": "tiny.en", "asr.cpu_threads": 2})
        res = run_on_ray(store, pg_url, cfg, Scorer.from_file(), RayOptions(actors=2, num_cpus=1))
    finally:
        ray.shutdown()
    assert res["done"] == len(CALLS) and res["failed"] == 0 and res["actors"] == 2
    assert _results(store) == local  # same transcripts, request types, scores and answers
    assert queue.counts(store) == {"queued": 0, "running": 0, "done": len(CALLS), "failed": 0}
