"""``qa enqueue``, ``qa worker`` and ``qa jobs``: the durable job queue from the command line."""

from __future__ import annotations

import json
import logging
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Annotated

import typer

from qa.cli_common import DEFAULT_DB, DbOpt
from qa.cli_common import fail as _fail
from qa.cli_common import open_db as _store
from qa.cli_common import safe_url as _safe
from qa.errors import QAError

log = logging.getLogger("qa.worker")


class JsonFormatter(logging.Formatter):
    """One JSON object per log line (time, level, logger, message, and the job/call ids the message names)."""

    def format(self, record: logging.LogRecord) -> str:
        return json.dumps(
            {
                "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
                "level": record.levelname,
                "logger": record.name,
                "message": record.getMessage(),
                "process": record.process,
            }
        )


def setup_logging(fmt: str, verbose: int) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        JsonFormatter() if fmt == "json" else logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO if verbose else logging.WARNING)
    logging.getLogger("qa.worker").setLevel(logging.INFO)
    logging.getLogger("faster_whisper").setLevel(logging.WARNING)


def _pipeline(model: str | None, threads: int | None, config: Path | None):
    from qa.config import load_config
    from qa.pipeline import Pipeline

    cfg = load_config(config).with_overrides({"asr.model": model, "asr.cpu_threads": threads})
    return Pipeline(cfg)


def enqueue(
    inputs: Annotated[list[Path], typer.Argument(help="Recordings, transcripts or folders (searched recursively).")],
    db: DbOpt = DEFAULT_DB,
    manifest: Annotated[Path | None, typer.Option(help="CSV with per-call metadata (as for qa process).")] = None,
    transcripts: Annotated[bool, typer.Option(help="In folders, also queue .vtt and call .json files.")] = False,
    model: Annotated[
        str | None, typer.Option(help="ASR model the workers will use (part of the job's identity).")
    ] = None,
    config: Annotated[Path | None, typer.Option("--config", "-c", help="YAML pipeline config.")] = None,
    retry_failed: Annotated[bool, typer.Option(help="Queue again inputs whose job failed before.")] = False,
    max_attempts: Annotated[int, typer.Option(min=1, max=20, help="Tries before a job fails for good.")] = 3,
) -> None:
    """Add jobs to the queue. The same input with the same settings is one job, however often it is queued."""
    from tqdm import tqdm

    from qa.audio.decode import file_sha256
    from qa.manifest import load_manifest
    from qa.runner import queue
    from qa.runner.batch import discover

    store = _store(db)
    try:
        man = load_manifest(manifest) if manifest else None
        jobs = discover(inputs, man, transcripts=transcripts)
        pipeline = _pipeline(model, None, config)
    except QAError as exc:
        _fail(str(exc))
    if not jobs:
        _fail(f"nothing to queue in {', '.join(map(str, inputs))}")
    new = existing = unreadable = 0
    for job in tqdm(jobs, desc="enqueue", unit="file", disable=None):
        try:
            sha = file_sha256(job.path)
        except OSError as exc:
            typer.echo(f"error: {job.path}: cannot read ({exc.strerror or exc})", err=True)
            unreadable += 1
            continue
        meta = {k: getattr(job.metadata, k) for k in job.metadata.__dataclass_fields__ if k != "extra"}
        meta = {k: v for k, v in meta.items() if v}
        _, created = queue.enqueue(
            store, job.path.resolve(), sha, pipeline.call_config_hash(job.metadata), meta, max_attempts, retry_failed
        )
        new += created
        existing += not created
    typer.echo(f"{new} queued, {existing} already known, {unreadable} unreadable -> {_safe(db)}")
    raise typer.Exit(1 if unreadable else 0)


def worker(
    db: DbOpt = DEFAULT_DB,
    model: Annotated[str | None, typer.Option(help="ASR model. [default: base]")] = None,
    threads: Annotated[int | None, typer.Option(help="CPU threads per worker for ASR (0 = all cores).")] = None,
    workers: Annotated[int, typer.Option(min=1, max=64, help="Worker processes on this machine.")] = 1,
    until_empty: Annotated[bool, typer.Option(help="Exit when no job is queued or running.")] = False,
    config: Annotated[Path | None, typer.Option("--config", "-c", help="YAML pipeline config.")] = None,
    scorecard: Annotated[Path | None, typer.Option(help="Scorecard YAML. [default: 311-standard]")] = None,
    out: Annotated[Path | None, typer.Option(help="Also write each call's JSON into this folder.")] = None,
    lease: Annotated[
        float,
        typer.Option(
            min=2,
            help="Seconds a claim lasts without renewal; the heartbeat renews it every third of that, so a killed "
            "worker's job is taken over by another worker after at most this long.",
        ),
    ] = 30.0,
    runner: Annotated[str, typer.Option(help="local (processes on this machine) or ray (a Ray cluster).")] = "local",
    address: Annotated[str | None, typer.Option(help="Ray cluster address (with --runner ray), e.g. auto.")] = None,
    ray_gpus: Annotated[
        float,
        typer.Option(min=0, help="GPUs per Ray actor (with --runner ray; use with a CUDA config: asr.device cuda)."),
    ] = 0.0,
    log_format: Annotated[str, typer.Option(help="text or json (one object per line, no transcript text).")] = "text",
    verbose: Annotated[int, typer.Option("--verbose", "-v", count=True, help="-v: info logs.")] = 0,
) -> None:
    """Process queued jobs: each worker loads its models once, claims a job, stores the result and marks it done in
    one transaction. Ctrl-C (or SIGTERM) finishes the current call and stops; a killed worker's job is taken over
    when its lease expires."""
    setup_logging(log_format, verbose)
    if runner not in ("local", "ray"):
        _fail(f"--runner: {runner!r}; choose local or ray")
    store = _store(db)
    if runner == "ray":
        from qa.config import load_config
        from qa.runner.ray_runner import RayOptions, run_on_ray
        from qa.scoring.scorer import Scorer

        try:
            cfg = load_config(config).with_overrides({"asr.model": model, "asr.cpu_threads": threads})
            options = RayOptions(workers, until_empty, lease, address, num_gpus=ray_gpus)
            stats = run_on_ray(store, db, cfg, Scorer.from_file(scorecard), options)
        except QAError as exc:
            _fail(str(exc))
        typer.echo(f"ray: {stats['done']} done, {stats['failed']} failed, {stats['retried']} retried")
        raise typer.Exit(1 if stats["failed"] else 0)
    if workers > 1:
        _spawn(workers)
        return
    from qa.runner.worker import run_worker
    from qa.scoring.scorer import Scorer

    try:
        pipeline = _pipeline(model, threads, config).with_scorer(Scorer.from_file(scorecard))
        pipeline.load()
    except QAError as exc:
        _fail(str(exc))
    stop = threading.Event()

    def _stop(signum, _frame):  # noqa: ANN001
        log.warning("signal %d: finishing the current call, then stopping", signum)
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
    stats = run_worker(pipeline, store, until_empty=until_empty, stop=stop, lease_s=lease, out_dir=out)
    typer.echo(
        f"worker: {stats.done} done, {stats.failed} failed, {stats.retried} retried, "
        f"{stats.db_pauses} database pause(s), {stats.seconds:.1f} s"
    )


def _spawn(n: int) -> None:
    """N copies of this command, one worker each; the exit status is the worst of theirs."""
    args = list(sys.argv[1:])
    cleaned, skip = [], False
    for a in args:
        if skip:
            skip = False
            continue
        if a == "--workers":
            skip = True
            continue
        if a.startswith("--workers="):
            continue
        cleaned.append(a)
    procs = [subprocess.Popen([sys.executable, "-m", "qa.cli", *cleaned, "--workers", "1"]) for _ in range(n)]

    def _forward(signum, _frame):  # noqa: ANN001
        for p in procs:
            p.send_signal(signum)

    signal.signal(signal.SIGTERM, _forward)
    signal.signal(signal.SIGINT, _forward)
    codes = [p.wait() for p in procs]
    raise typer.Exit(max(codes))


def jobs(
    db: DbOpt = DEFAULT_DB,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """The queue: counts by status, throughput over the last 10 minutes, ETA, and failures with their reasons."""
    from qa.runner import queue

    st = queue.stats(_store(db))
    if as_json:
        typer.echo(json.dumps(st, indent=2))
        return
    c = st["counts"]
    typer.echo(f"queued {c['queued']}  running {c['running']}  done {c['done']}  failed {c['failed']}")
    eta = st["eta_s"]
    typer.echo(
        f"throughput {st['throughput_per_min']:.1f} calls/min (last 10 min); ETA "
        + ("-" if eta is None else f"{eta / 60:.1f} min")
    )
    for f in st["failures"]:
        typer.echo(f"  failed #{f['id']} [{f['kind']}] {f['error']}")


def register(app: typer.Typer) -> None:
    app.command()(enqueue)
    app.command()(worker)
    app.command()(jobs)
