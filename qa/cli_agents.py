"""``qa agents enroll / list / forget``: agent voiceprints in a file (see :mod:`qa.diarize.voiceprints`)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from qa.errors import InputError, QAError
from qa.identifiers import check_identifier

agents_app = typer.Typer(
    help="Agent voiceprints (biometric personal data): enroll from calls or a clip, list, forget. Kept in one file "
    "(mode 0600), never exported; point diarize.voiceprints in the config at it to use it on mono calls."
)
DEFAULT_FILE = os.environ.get("CALLQA_VOICEPRINTS", "voiceprints.json")
FileOpt = Annotated[Path, typer.Option("--voiceprints", help="Voiceprint file ($CALLQA_VOICEPRINTS).")]


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
    voiceprints: FileOpt = Path(DEFAULT_FILE),
    config: Annotated[Path | None, typer.Option("--config", "-c", help="YAML pipeline config.")] = None,
) -> None:
    """Build or update an agent's voiceprint (a seconds-weighted mean over every source)."""
    from qa.config import load_config
    from qa.diarize.embeddings import get_embedder
    from qa.diarize.voiceprints import VoiceprintFile, encoder_identity, voice_of
    from qa.pipeline import Pipeline

    try:  # bad input is refused before any model loads or the file is touched
        check_identifier(agent_id, "agent_id")
        missing = [str(p) for p in sources if not p.is_file()]
        if missing:
            raise InputError(f"--from: no such file: {', '.join(missing)}")
        cfg = load_config(config).with_overrides({"nlp.enabled": False})
        pipe = Pipeline(cfg)
        embedder = get_embedder(cfg.diarize.embedding)
        embedder.load()
        store = VoiceprintFile(voiceprints)
        for src in sources:
            audio, speech, how = agent_speech(src, pipe)
            vector, seconds = voice_of(embedder, audio.samples[0], audio.sample_rate, speech)
            vp = store.enroll(agent_id, vector, seconds, encoder_identity(embedder))
            typer.echo(f"{src.name}: {seconds:.1f} s of speech from the {how}")
    except QAError as exc:
        _fail(str(exc))
    typer.echo(
        f"{agent_id}: voiceprint from {vp.sources} source(s), {vp.seconds:.1f} s, encoder {vp.encoder} "
        f"{vp.encoder_version}; saved in {voiceprints}"
    )


@agents_app.command("list")
def list_agents(voiceprints: FileOpt = Path(DEFAULT_FILE)) -> None:
    """Enrolled agents (never the voiceprints themselves)."""
    from qa.diarize.voiceprints import VoiceprintFile

    try:
        prints = VoiceprintFile(voiceprints).load()
    except QAError as exc:
        _fail(str(exc))
    if not prints:
        typer.echo("no enrolled agents")
    for p in prints.values():
        typer.echo(
            f"{p.agent_id}\t{p.sources} source(s)\t{p.seconds:.1f} s\t{p.encoder} {p.encoder_version}\t{p.updated_at}"
        )


@agents_app.command("forget")
def forget(
    agent_id: Annotated[str, typer.Argument(help="The agent whose voiceprint is deleted.")],
    voiceprints: FileOpt = Path(DEFAULT_FILE),
) -> None:
    """Delete an agent's voiceprint (the file is rewritten without it)."""
    from qa.diarize.voiceprints import VoiceprintFile

    try:
        check_identifier(agent_id, "agent_id")
        removed = VoiceprintFile(voiceprints).forget(agent_id)
    except QAError as exc:
        _fail(str(exc))
    if not removed:
        _fail(f"no voiceprint for {agent_id} in {voiceprints}")
    typer.echo(f"forgot {agent_id}")


def register(app: typer.Typer) -> None:
    app.add_typer(agents_app, name="agents")
