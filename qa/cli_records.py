"""``qa audit``, ``qa audit verify``, ``qa retention apply`` and ``qa erase``: the records side of the store."""

from __future__ import annotations

import csv
import datetime as dt
import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from qa.cli_common import DEFAULT_DB, DbOpt
from qa.cli_common import fail as _fail
from qa.cli_common import open_db as _store
from qa.errors import QAError

audit_app = typer.Typer(
    help="The audit trail: who did what, to which object, when and from where (append-only, hash-chained). "
    "Without a subcommand: list rows, oldest first.",
    invoke_without_command=True,
)


def _when(text: str | None, option: str) -> dt.datetime | None:
    if text is None:
        return None
    try:
        t = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        _fail(f"{option}: {text!r} is not a date or time (ISO 8601, e.g. 2026-11-01 or 2026-11-01T09:00)")
    return t.astimezone(dt.UTC).replace(tzinfo=None) if t.tzinfo else t


@audit_app.callback()
def audit_list(
    ctx: typer.Context,
    db: DbOpt = DEFAULT_DB,
    since: Annotated[str | None, typer.Option(help="Rows at or after this time (ISO 8601, UTC).")] = None,
    until: Annotated[str | None, typer.Option(help="Rows before this time.")] = None,
    actor: Annotated[str | None, typer.Option(help="Only this user (cli:NAME for command-line actions).")] = None,
    action: Annotated[
        str | None, typer.Option(help="Only this action (e.g. evaluation.override), or a family (evaluation).")
    ] = None,
    call: Annotated[str | None, typer.Option(help="Only rows about this call.")] = None,
    fmt: Annotated[str, typer.Option("--format", help="table, csv or json (one object per line).")] = "table",
) -> None:
    if ctx.invoked_subcommand is not None:
        return
    from qa.store import audit

    if fmt not in ("table", "csv", "json"):
        _fail(f"--format: {fmt!r}; choose table, csv or json")
    filters = audit.Filters(
        _when(since, "--since"), _when(until, "--until"), actor, action, "call" if call else None, call
    )
    store = _store(db)
    with store.session() as s:
        rows = [audit.as_dict(r) for r in audit.iter_rows(s, audit.query(filters))]
    if fmt == "json":
        for r in rows:
            typer.echo(json.dumps(r, default=str, ensure_ascii=False))
        return
    if fmt == "csv":
        w = csv.writer(sys.stdout)
        w.writerow(audit.FIELDS)
        for r in rows:
            w.writerow([_csv_cell(r[f]) for f in audit.FIELDS])
        return
    for r in rows:
        obj = f"{r['object_type']}/{r['object_id']}" if r["object_id"] else r["object_type"]
        typer.echo(
            f"{r['id']:>6} {r['at']:%Y-%m-%d %H:%M:%S} {r['actor_name'][:20]:20s} {r['action']:22s} {obj[:40]:40s} "
            f"{json.dumps(r['details'], ensure_ascii=False, default=str)[:120]}"
        )
    typer.echo(f"{len(rows)} row(s)")


def _csv_cell(v) -> str:
    from qa.exports.reports import _cell_text

    if v is None:
        return ""
    if isinstance(v, dict):
        v = json.dumps(v, ensure_ascii=False, default=str)
    return _cell_text(v)


@audit_app.command("verify")
def audit_verify(
    db: DbOpt = DEFAULT_DB,
    head: Annotated[
        str | None,
        typer.Option(help="ID:HASH printed by an earlier verify: also detects rows deleted from the end since then."),
    ] = None,
) -> None:
    """Check the hash chain: every row unchanged, none missing. Exit status 1 when the trail was tampered with.
    Keep the printed head somewhere else (a ticket, a log) and pass it back with --head next time."""
    from qa.store import audit

    expect = None
    if head:
        hid, _, hhash = head.partition(":")
        if not hid.isdigit() or len(hhash) < 8:
            _fail(f"--head: {head!r}; use ID:HASH as printed by qa audit verify")
        expect = (int(hid), hhash)
    store = _store(db)
    with store.session() as s:
        v = audit.verify(s, expect)
    for p in v.problems:
        typer.echo(f"TAMPERED: {p}", err=True)
    status = "intact" if v.ok else "NOT intact"
    typer.echo(f"{v.rows} row(s), chain {status}; head {v.head_id}:{v.head_hash}")
    raise typer.Exit(0 if v.ok else 1)


LlmCacheOpt = Annotated[
    Path | None,
    typer.Option(
        "--llm-cache",
        help="The LLM stage's cache folder: the model's cached answers about a call whose text goes are removed from "
        "it. Default: llm.cache_dir of --config, else $CALLQA_CACHE/llm or ~/.cache/callqa/llm.",
    ),
]
ConfigOpt = Annotated[
    Path | None, typer.Option("--config", "-c", help="The pipeline config the workers use (its llm.cache_dir).")
]


def _answers(folder: Path | None, config: Path | None):  # noqa: ANN202 - AnswerCache, imported late
    from qa.config import load_config
    from qa.llm.cache import AnswerCache
    from qa.llm.models import cache_dir

    if folder is None and config is not None:
        folder = load_config(config).llm.cache_dir
    return AnswerCache(cache_dir(folder) / "answers")


retention_app = typer.Typer(
    help="Retention of recordings, transcripts and scores by age (a records schedule). The policy is its own file, "
    "never part of the pipeline config (which is hashed into every result)."
)


@retention_app.command("apply")
def retention_apply(
    db: DbOpt = DEFAULT_DB,
    policy: Annotated[
        Path | None,
        typer.Option(help="YAML file with audio_days, transcripts_days, scores_days (null or absent: keep)."),
    ] = None,
    audio_days: Annotated[int | None, typer.Option(min=1, help="Recordings older than this go.")] = None,
    transcripts_days: Annotated[
        int | None, typer.Option(min=1, help="Transcript text (and the personal data in it) older than this goes.")
    ] = None,
    scores_days: Annotated[
        int | None, typer.Option(min=1, help="Whole calls (scores, evaluations, reviews) older than this go.")
    ] = None,
    execute: Annotated[bool, typer.Option(help="Act. Without it: a dry run that only lists what would go.")] = False,
    data_dir: Annotated[
        list[Path] | None, typer.Option(help="callqa's data folder(s); recordings there are deleted.")
    ] = None,
    delete_external: Annotated[
        bool, typer.Option(help="Also delete recordings outside the data folder (else they are only forgotten).")
    ] = False,
    llm_cache: LlmCacheOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Remove recordings and transcript text past their age; scores, evaluations, reviews, disputes and the audit
    trail stay (unless --scores-days). Dry run by default. Every call changed gets an audit row."""
    from qa.store.retention import apply, load_policy

    try:
        pol = load_policy(policy, audio_days=audio_days, transcripts_days=transcripts_days, scores_days=scores_days)
        answers = _answers(llm_cache, config)
    except QAError as exc:
        _fail(str(exc))
    if pol.audio_days is None and pol.transcripts_days is None and pol.scores_days is None:
        _fail("no retention set: give --policy FILE or --audio-days/--transcripts-days/--scores-days")
    store = _store(db)
    try:
        report = apply(
            store,
            pol,
            execute,
            data_dirs=data_dir or [Path("callqa-data")],
            delete_external=delete_external,
            answers=answers,
        )
    except OSError as exc:  # the batch being changed is rolled back: no call loses its text without its answers
        _fail(f"--llm-cache: cannot remove {exc.filename}: {exc.strerror}")
    c = report.counts()
    verb = "removed" if execute else "would remove"
    typer.echo(
        f"{verb}: recordings of {c['audio']} call(s), transcripts of {c['transcripts']} call(s), "
        f"{c['calls']} whole call(s)" + ("" if execute else "  (dry run: add --execute to act)")
    )
    for p in report.external:
        typer.echo(f"left in place (outside the data folder; delete it under its owner's schedule): {p}")


def erase(
    call: Annotated[str, typer.Option("--call", help="The call id.")],
    reason: Annotated[str, typer.Option(help="Why (e.g. the records request number): kept in the audit trail.")],
    db: DbOpt = DEFAULT_DB,
    data_dir: Annotated[
        list[Path] | None, typer.Option(help="callqa's data folder(s); the recording there is deleted.")
    ] = None,
    delete_external: Annotated[
        bool, typer.Option(help="Also delete the recording when it lies outside the data folder.")
    ] = False,
    llm_cache: LlmCacheOpt = None,
    config: ConfigOpt = None,
) -> None:
    """A records request about one call: delete its recording and all its transcript text and personal data
    (turns, entities, evidence quotes, cues, source file name). What stays: the call id, agent, team, times,
    metrics, scores, evaluations, reviews and disputes, and an audit row saying who erased it and why. A re-import of
    the same recording cannot bring the text back."""
    from qa.identifiers import check_text
    from qa.store.retention import erase_call

    try:
        check_text(reason, "--reason", 500)
        done = erase_call(
            _store(db),
            call,
            reason,
            data_dirs=data_dir or [Path("callqa-data")],
            delete_external=delete_external,
            answers=_answers(llm_cache, config),
        )
    except QAError as exc:
        _fail(str(exc))
    except OSError as exc:  # rolled back: the call keeps its text until its cached answers can go too
        _fail(f"--llm-cache: cannot remove {exc.filename}: {exc.strerror}; the call was not erased")
    typer.echo(
        f"call {call}: erased (recording: {done['audio']}; "
        f"cached LLM answers removed: {done['llm_answers_removed']} from {done['llm_cache']})"
    )
    if done.get("external_path"):
        typer.echo(f"left in place (outside the data folder): {done['external_path']}")


def register(app: typer.Typer) -> None:
    app.add_typer(audit_app, name="audit")
    app.add_typer(retention_app, name="retention")
    app.command()(erase)
