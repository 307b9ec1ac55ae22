"""``qa process --workers N``: the batch spread over N processes on this machine, each loading its models once.

Processes, not threads: CTranslate2 releases the GIL, but diarization, language and scoring are Python. Each worker
gets an equal share of the cores for ASR (unless ``asr.cpu_threads`` says otherwise), so N workers never
oversubscribe the machine. Outcomes come back as calls finish; the output files are the same as with one process.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from multiprocessing import get_context
from pathlib import Path

from qa.config import PipelineConfig
from qa.pipeline import Pipeline
from qa.runner.batch import BatchOptions, Job, Outcome, run_one
from qa.scoring.scorer import Scorer

_PIPELINE: Pipeline | None = None


MAX_AUTO_WORKERS = 4


def auto_workers(cfg: PipelineConfig, audio_jobs: int) -> tuple[int, PipelineConfig]:
    """The default layout: one worker per core with one ASR thread each (on 2 cores, 2 x 1 processed 1.95-2.2x the
    audio per hour of 1 x 2: bench/throughput.py), at most one per recording and MAX_AUTO_WORKERS; an explicit
    ``asr.cpu_threads`` T gives cores / T workers. One worker runs in this process (no start-up cost)."""
    cores = os.cpu_count() or 1
    threads = cfg.asr.cpu_threads or 1
    workers = max(1, min(cores // threads, audio_jobs, MAX_AUTO_WORKERS))
    if not cfg.asr.cpu_threads:
        cfg = cfg.with_overrides({"asr.cpu_threads": 1 if workers > 1 else 0})
    if cfg.llm.enabled and not cfg.llm.threads and workers > 1:  # each worker's model gets its share of the cores
        cfg = cfg.with_overrides({"llm.threads": max(1, cores // workers)})
    return workers, cfg


def threads_per_worker(cfg: PipelineConfig, workers: int) -> int:
    if cfg.asr.cpu_threads:
        return cfg.asr.cpu_threads
    return max(1, (os.cpu_count() or 1) // workers)


def _init(cfg: PipelineConfig, threads: int, audio: bool, scorer: Scorer | None) -> None:
    global _PIPELINE
    os.environ.setdefault("OMP_NUM_THREADS", str(threads))
    try:
        import torch

        torch.set_num_threads(threads)
    except ImportError:
        pass
    _PIPELINE = Pipeline(cfg.with_overrides({"asr.cpu_threads": threads}), scorer)
    _PIPELINE.load(audio=audio)


def _one(job: Job, out_dir: Path, options: BatchOptions) -> Outcome:
    assert _PIPELINE is not None
    return run_one(_PIPELINE, job, out_dir, options)


def run_parallel(
    cfg: PipelineConfig,
    jobs: Sequence[Job],
    out_dir: Path,
    workers: int,
    options: BatchOptions = BatchOptions(),
    scorer: Scorer | None = None,
    audio: bool = True,
    progress: bool = True,
    on_outcome: Callable[[Outcome], None] | None = None,
) -> list[Outcome]:
    """``run_batch`` over ``workers`` processes, each with its own ``Pipeline(cfg, scorer)``."""
    from concurrent.futures.process import BrokenProcessPool

    from tqdm import tqdm

    from qa.asr.models import resolve
    from qa.errors import StageError

    if audio:
        resolve(cfg.asr.model)  # a model that does not exist is one clear error here, not one per call in each worker
    threads = threads_per_worker(cfg, workers)
    outcomes: list[Outcome] = []
    ctx = get_context("spawn")  # a clean interpreter per worker: no forked model or thread state
    bar = tqdm(
        total=len(jobs),
        desc=f"calls ({workers} workers)",
        unit="call",
        disable=None if progress else True,
        dynamic_ncols=True,
    )
    try:
        init = (cfg, threads, audio, scorer)
        with ProcessPoolExecutor(workers, mp_context=ctx, initializer=_init, initargs=init) as pool:
            futures = [pool.submit(_one, j, out_dir, options) for j in jobs]
            for fut in as_completed(futures):
                outcomes.append(fut.result())
                bar.update(1)
                if on_outcome:
                    on_outcome(outcomes[-1])
    except BrokenProcessPool:
        raise StageError(
            f"a worker process could not start or died ({len(outcomes)} of {len(jobs)} calls finished); "
            "run with --workers 1 -v to see why"
        ) from None
    finally:
        bar.close()
    order = {str(j.path): i for i, j in enumerate(jobs)}
    return sorted(outcomes, key=lambda o: order.get(o.source, 0))
