"""``qa agents enroll / learn / list / forget``: agent voiceprints in a file or the results store (see
:mod:`qa.diarize.voiceprints`, :mod:`qa.store.voiceprints`)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from qa.errors import InputError, QAError
from qa.identifiers import check_identifier

agents_app = typer.Typer(
    help="Agent voiceprints (biometric personal data): enroll from calls or a clip, learn from calls whose roles a "
    "reviewer confirmed, list, forget. Kept in one file (mode 0600) or in the results store (give its database URL "
    "as --voiceprints; every change and listing is audited there), never exported; point diarize.voiceprints in the "
    "config at the same place to use them on mono calls."
)
DEFAULT_FILE = os.environ.get("CALLQA_VOICEPRINTS", "voiceprints.json")
FileOpt = Annotated[
    str,
    typer.Option(
        "--voiceprints",
        help="Where the voiceprints are: a file, or the results store's database URL (sqlite:///qa.db, "
        "postgresql://...) ($CALLQA_VOICEPRINTS).",
    ),
]


def _fail(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(2)


def agent_speech(path: Path, pipe) -> tuple[object, list[tuple[float, float]], str]:
    """(audio with one channel, the agent's speech regions, how they were found) from a two-channel call (the agent's
    channel, decided as in processing) or a one-channel enrollment clip (all of its speech)."""
    from qa.audio import activity as act
    from qa.audio.decode import load_audio
    from qa.audio.layout import agent_channel
    from qa.types import Audio

    audio, _ = load_audio(path)
    if audio.n_channels == 1:
        acts = act.activity(audio)
        return audio, [(i.start, i.end) for i in acts[0].active], "enrollment clip"
    call = pipe.process(path)
    if call.channel_layout == "mono":
        _fail(f"{path}: both channels carry the same signal; use a two-channel call or a clip of the agent alone")
    ch = agent_channel(call.channel_layout)
    segs = [(s.start, s.end) for s in call.speakers.segments if s.speaker == f"ch{ch}"]
    conf = next((r.confidence for r in call.speakers.roles if r.speaker == f"ch{ch}"), 0.0)
    one = Audio(audio.info, audio.samples[ch : ch + 1], audio.sample_rate)
    return one, segs, f"agent channel {ch} ({call.channel_layout}, role confidence {conf:.2f})"


@agents_app.command("enroll")
def enroll(
    agent_id: Annotated[str, typer.Argument(help="The agent's id, as in the manifest's agent_id.")],
    sources: Annotated[
        list[Path],
        typer.Option(
            "--from",
            help="Two-channel calls of this agent (their agent channel is used) or clips of the "
            "agent alone (one channel). Repeat for several.",
        ),
    ],
    voiceprints: FileOpt = DEFAULT_FILE,
    config: Annotated[Path | None, typer.Option("--config", "-c", help="YAML pipeline config.")] = None,
) -> None:
    """Build or update an agent's voiceprint (a seconds-weighted mean over every source; a source already in the
    print is not counted twice)."""
    from qa.config import load_config
    from qa.diarize.voiceprints import encoder_identity, open_voiceprints, voice_of
    from qa.pipeline import Pipeline

    try:  # bad input is refused before any model loads or the file is touched
        check_identifier(agent_id, "agent_id")
        missing = [str(p) for p in sources if not p.is_file()]
        if missing:
            raise InputError(f"--from: no such file: {', '.join(missing)}")
        store = open_voiceprints(voiceprints)
        cfg = load_config(config).with_overrides({"nlp.enabled": False})
        pipe = Pipeline(cfg)
        embedder = _embedder(cfg)
        vp = None
        for src in sources:
            audio, speech, how = agent_speech(src, pipe)
            vector, seconds = voice_of(embedder, audio.samples[0], audio.sample_rate, speech)
            added = store.enroll(agent_id, vector, seconds, encoder_identity(embedder), audio.info.sha256[:16])
            vp = added or vp
            what = f"{seconds:.1f} s of speech from the {how}" if added else "already in the print, not counted again"
            typer.echo(f"{src.name}: {what}")
        vp = vp or store.load().get(agent_id)
    except QAError as exc:
        _fail(str(exc))
    assert vp is not None
    typer.echo(
        f"{agent_id}: voiceprint from {vp.sources} source(s), {vp.seconds:.1f} s, encoder {vp.encoder} "
        f"{vp.encoder_version}; saved in {_where(voiceprints)}"
    )


def _embedder(cfg):
    from qa.diarize.embeddings import get_embedder

    embedder = get_embedder(cfg.diarize.embedding)
    embedder.load()
    return embedder


def _where(spec: str) -> str:
    from qa.diarize.voiceprints import is_database_url
    from qa.store.db import normalize_url

    if not is_database_url(spec):
        return spec
    from sqlalchemy.engine import make_url

    return "the store " + make_url(normalize_url(spec)).render_as_string(hide_password=True)


@agents_app.command("learn")
def learn(
    db: Annotated[str, typer.Option("--db", help="The results store (database URL) with the confirmed calls.")],
    voiceprints: Annotated[
        str | None,
        typer.Option("--voiceprints", help="Where the voiceprints are (a file or a database URL); default: --db."),
    ] = None,
    calls: Annotated[
        list[str] | None,
        typer.Option("--call", help="Only this call (repeat); default: every confirmed call not yet learnt from."),
    ] = None,
    config: Annotated[Path | None, typer.Option("--config", "-c", help="YAML pipeline config.")] = None,
) -> None:
    """Add the calls whose roles a reviewer confirmed (PUT /calls/{id}/roles, or the console's call page) to their
    agents' voiceprints: the confirmed agent speaker's speech, read from the call's stored recording. Each call is
    counted once; calls without an agent_id, without their audio, or re-processed since the confirmation are
    listed and skipped."""
    from qa.audio.decode import load_audio
    from qa.config import load_config
    from qa.diarize.voiceprints import encoder_identity, open_voiceprints, voice_of
    from qa.store.db import open_store
    from qa.store.voiceprints import confirmed_calls, mark_enrolled

    try:
        store = open_store(db)
        target = open_voiceprints(voiceprints or db)
        with store.session() as s:
            ready, skipped = confirmed_calls(s, calls or None)
        for line in skipped:
            typer.echo(f"skipped {line}")
        if not ready:
            typer.echo("no confirmed call to learn from")
            return
        embedder = _embedder(load_config(config))
        for c in ready:
            try:
                audio, _ = load_audio(c.audio_path)
                x = audio.samples[c.channel] if c.channel is not None else audio.samples.mean(axis=0)
                vector, seconds = voice_of(embedder, x, audio.sample_rate, c.agent_speech)
            except QAError as exc:
                typer.echo(f"skipped {c.call_id}: {exc}")
                continue
            encoder = encoder_identity(embedder)
            added = target.enroll(c.agent_id, vector, seconds, encoder, c.call_id)
            replaced = False
            if added is None and c.corrected:  # learnt earlier with the roles the reviewer has now corrected
                try:
                    replaced = target.remove_source(c.agent_id, c.call_id, "roles corrected by a reviewer")
                except InputError as exc:  # a file keeps no per-source voices
                    typer.echo(f"{c.call_id}: the print holds this call with the roles the reviewer corrected; {exc}")
                else:
                    added = target.enroll(c.agent_id, vector, seconds, encoder, c.call_id) if replaced else None
            with store.session() as s:  # a crash before this is harmless: the print counts the call once
                mark_enrolled(s, c.call_id)
            if replaced:
                typer.echo(f"{c.call_id}: agent {c.agent_id}, the voice taken with the wrong roles replaced")
            elif added:
                typer.echo(f"{c.call_id}: agent {c.agent_id}, {seconds:.1f} s of speech added")
            elif not c.corrected:
                typer.echo(f"{c.call_id}: agent {c.agent_id}, already in the print")
    except QAError as exc:
        _fail(str(exc))


@agents_app.command("list")
def list_agents(
    voiceprints: FileOpt = DEFAULT_FILE,
    sources: Annotated[bool, typer.Option("--sources", help="Also each print's sources (call ids, clip hashes).")] = (
        False
    ),
) -> None:
    """Enrolled agents (never the voiceprints themselves); audited in the store."""
    from qa.diarize.voiceprints import open_voiceprints

    try:
        source = open_voiceprints(voiceprints)
        listing = getattr(source, "listing", source.load)
        prints = listing()
    except QAError as exc:
        _fail(str(exc))
    if not prints:
        typer.echo("no enrolled agents")
    for p in prints.values():
        typer.echo(
            f"{p.agent_id}\t{p.sources} source(s)\t{p.seconds:.1f} s\t{p.encoder} {p.encoder_version}\t{p.updated_at}"
        )
        if sources:
            typer.echo("\t" + (" ".join(p.source_ids) or "(no source ids kept)"))


@agents_app.command("forget")
def forget(
    agent_id: Annotated[str, typer.Argument(help="The agent whose voiceprint is deleted.")],
    voiceprints: FileOpt = DEFAULT_FILE,
    source: Annotated[
        str | None,
        typer.Option(
            "--source",
            help="Take only this source (a call id, or a clip's hash as `list` shows) out of the print; the rest "
            "stays (store only: a file keeps no per-source voices).",
        ),
    ] = None,
) -> None:
    """Delete an agent's voiceprint (the file is rewritten without it; in the store the row goes, audited), or
    take one source out of it."""
    from qa.diarize.voiceprints import open_voiceprints

    try:
        check_identifier(agent_id, "agent_id")
        if source is not None:
            check_identifier(source, "--source")
        target = open_voiceprints(voiceprints)
        if source is not None:
            removed = target.remove_source(agent_id, source, "qa agents forget --source")
        else:
            removed = target.forget(agent_id)
    except QAError as exc:
        _fail(str(exc))
    if not removed:
        what = f"source {source} in the voiceprint of {agent_id}" if source else f"voiceprint for {agent_id}"
        _fail(f"no {what} in {_where(voiceprints)}")
    typer.echo(f"took {source} out of {agent_id}'s voiceprint" if source else f"forgot {agent_id}")


def register(app: typer.Typer) -> None:
    app.add_typer(agents_app, name="agents")
