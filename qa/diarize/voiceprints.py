"""Agent voiceprints: who the agent is on a mono call, from the voice of their earlier calls.

A voiceprint is the mean L2-normalised speaker embedding of an agent's speech (windows as in
:mod:`qa.diarize.embedded`), kept with the encoder's name and version: a print made by one encoder is never compared
with another's. Updating one with a new call is a running mean weighted by seconds of speech.

Voiceprints are biometric personal data. They live either in one JSON file (mode 0600) that the CLI manages, or in
the results store's ``voiceprints`` table (:mod:`qa.store.voiceprints`, every change and listing audited): both are
a :class:`Voiceprints`, chosen by ``diarize.voiceprints`` (a path, or a database URL). They never go into a call's
JSON, an export or a log: a call records only which agent matched, the score and the margin.

A print keeps the ids of the sources it was made from (call ids, or a clip's hash), so the same call added twice
(re-processed, or confirmed again) is counted once.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import json
import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Protocol

import numpy as np

from qa.diarize.embedded import windows_in
from qa.diarize.embeddings import Embedder, speech_mask
from qa.errors import InputError
from qa.types import Role, SpeakerRole, Speakers, VoiceMatch

MIN_MARGIN = 0.05  # cosine similarity the agent's speaker must lead the other speaker by, for the print to decide
MIN_SUGGEST = 0.75  # similarity an enrolled agent needs to be suggested for a call with no agent_id
MAX_SOURCE_IDS = 5000  # source ids a print remembers (the newest), to count a call once


@dataclass(frozen=True, slots=True)
class Voiceprint:
    agent_id: str
    encoder: str
    encoder_version: str
    vector: tuple[float, ...]
    seconds: float  # speech it was made from
    sources: int  # calls or clips
    updated_at: str
    source_ids: tuple[str, ...] = ()  # what it was made from (call ids, clip hashes): a source is counted once
    # sum over its sources of seconds x the source's unit voice: ``vector`` is its direction. Kept so that adding a
    # source weighs it exactly by its seconds, and (where the source's own voice is kept: the store) a source can be
    # taken out again. Empty in files written before it existed (then ``vector`` x ``seconds`` stands in).
    total: tuple[float, ...] = ()


def total_of(vp: Voiceprint) -> np.ndarray:
    return np.asarray(vp.total if vp.total else np.asarray(vp.vector) * vp.seconds, dtype=np.float64)


def _unit(v: np.ndarray) -> tuple[float, ...]:
    return tuple(map(float, v / max(float(np.linalg.norm(v)), 1e-9)))


def merged(
    old: Voiceprint | None,
    agent_id: str,
    vector: np.ndarray,
    seconds: float,
    encoder: tuple[str, str],
    source_id: str | None,
    create: bool = True,
) -> Voiceprint | None:
    """``old`` with a new source added (a seconds-weighted running mean), a new print (no print yet, or one from
    another encoder: not comparable, so it starts again), or None when ``source_id`` is already in it, or when
    there is no comparable print and not ``create`` (learning refines the prints people enrolled, never starts one)."""
    now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    ids = (source_id,) if source_id else ()
    if old is not None and (old.encoder, old.encoder_version) == encoder:
        if source_id and source_id in old.source_ids:
            return None
        total = total_of(old) + np.asarray(vector, np.float64) * seconds
        return replace(
            old,
            vector=_unit(total),
            total=tuple(map(float, total)),
            seconds=old.seconds + seconds,
            sources=old.sources + 1,
            updated_at=now,
            source_ids=(*old.source_ids, *ids)[-MAX_SOURCE_IDS:],
        )
    if not create:
        return None
    total = np.asarray(vector, np.float64) * seconds
    return Voiceprint(agent_id, *encoder, _unit(total), seconds, 1, now, ids, tuple(map(float, total)))


def without(old: Voiceprint, source_id: str, vector: np.ndarray, seconds: float) -> Voiceprint | None:
    """``old`` with one source (its unit voice and seconds, as it was added) taken out; None when it was the last."""
    if old.sources <= 1:
        return None
    total = total_of(old) - np.asarray(vector, np.float64) * seconds
    return replace(
        old,
        vector=_unit(total),
        total=tuple(map(float, total)),
        seconds=max(old.seconds - seconds, 0.0),
        sources=old.sources - 1,
        updated_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        source_ids=tuple(x for x in old.source_ids if x != source_id),
    )


def enrolled_identity(prints: Mapping[str, Voiceprint]) -> str:
    """What of the enrolled set changes a call's roles when it changes: who is enrolled, with which encoder. A
    print refined by another call (learning) keeps it, so calls already processed are not all redone."""
    key = "|".join(f"{p.agent_id}/{p.encoder}/{p.encoder_version}" for p in sorted(prints.values(), key=_by_id))
    return hashlib.sha256(key.encode()).hexdigest()[:16] if prints else ""


def _by_id(p: Voiceprint) -> str:
    return p.agent_id


class Voiceprints(Protocol):
    """Where voiceprints are kept: a file (:class:`VoiceprintFile`) or the results store."""

    def load(self, with_sources: bool = True) -> dict[str, Voiceprint]:
        """Every print (``with_sources=False``: their source ids may be left out, for matching)."""
        ...

    def enroll(
        self,
        agent_id: str,
        vector: np.ndarray,
        seconds: float,
        encoder: tuple[str, str],
        source_id: str | None = None,
        create: bool = True,
    ) -> Voiceprint | None: ...

    def forget(self, agent_id: str) -> bool: ...

    def remove_source(self, agent_id: str, source_id: str, reason: str) -> bool: ...


def is_database_url(spec: str) -> bool:
    return "://" in spec


def open_voiceprints(spec: str | Path, actor: object | None = None) -> Voiceprints:
    """``diarize.voiceprints`` / ``--voiceprints``: a database URL (the results store's table) or a file path."""
    if is_database_url(str(spec)):
        from qa.store.db import open_store
        from qa.store.voiceprints import StoreVoiceprints

        return StoreVoiceprints(open_store(str(spec)), actor)  # type: ignore[arg-type]
    return VoiceprintFile(spec)


def encoder_identity(embedder: Embedder) -> tuple[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return embedder.name, version(embedder.name)
    except PackageNotFoundError:
        return embedder.name, "builtin"


def voice_of(
    embedder: Embedder, x: np.ndarray, rate: int, speech: Sequence[tuple[float, float]]
) -> tuple[np.ndarray, float]:
    """Mean normalised embedding over the speech regions (seconds), and the seconds of speech used."""
    speech_arr = np.asarray(speech, dtype=float).reshape(-1, 2)
    wins = windows_in(speech_arr, 1.5, 0.75)
    if not wins:
        raise InputError("not enough speech to make a voiceprint (at least 0.4 s in one stretch)")
    embs = embedder.embed(x, rate, wins, speech_mask(x, rate, speech_arr))
    z = embs / np.maximum(np.linalg.norm(embs, axis=1, keepdims=True), 1e-9)
    v = z.mean(axis=0)
    return v / max(float(np.linalg.norm(v)), 1e-9), float((speech_arr[:, 1] - speech_arr[:, 0]).sum())


class VoiceprintFile:
    """The CLI's voiceprint store: one JSON file, readable by its owner only."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def load(self, with_sources: bool = True) -> dict[str, Voiceprint]:
        if not self.path.exists():
            return {}
        try:
            raw = json.loads(self.path.read_text())
            return {
                k: Voiceprint(
                    **{
                        **v,
                        "vector": tuple(v["vector"]),
                        "source_ids": tuple(v.get("source_ids", ())),
                        "total": tuple(v.get("total", ())),
                    }
                )
                for k, v in raw["agents"].items()
            }
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise InputError(f"{self.path}: not a voiceprint file ({exc})") from None

    def save(self, prints: Mapping[str, Voiceprint]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump({"agents": {k: asdict(v) for k, v in sorted(prints.items())}}, fh)
        os.replace(tmp, self.path)

    @contextmanager
    def _locked(self) -> Iterator[None]:
        """One writer at a time (workers learning from calls in parallel): an exclusive lock on a side file."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path.with_name(self.path.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def enroll(
        self,
        agent_id: str,
        vector: np.ndarray,
        seconds: float,
        encoder: tuple[str, str],
        source_id: str | None = None,
        create: bool = True,
    ) -> Voiceprint | None:
        """Add speech to an agent's print (see :func:`merged`); None when nothing changed."""
        with self._locked():
            prints = self.load()
            new = merged(prints.get(agent_id), agent_id, vector, seconds, encoder, source_id, create)
            if new is not None:
                prints[agent_id] = new
                self.save(prints)
            return new

    def remove_source(self, agent_id: str, source_id: str, reason: str) -> bool:
        raise InputError(
            f"{self.path}: a voiceprint file keeps no per-source voices, so one source cannot be taken out: "
            f"qa agents forget {agent_id} and enroll again (or keep voiceprints in the store)"
        )

    def forget(self, agent_id: str) -> bool:
        if not self.path.exists():
            return False
        with self._locked():
            prints = self.load()
            if prints.pop(agent_id, None) is None:
                return False
            self.save(prints)
            return True


def match(
    speaker_vectors: Mapping[str, np.ndarray],
    prints: Mapping[str, Voiceprint],
    encoder: tuple[str, str],
    agent_id: str | None,
) -> VoiceMatch | None:
    """With ``agent_id``: which speaker is that agent. Without: the best-matching enrolled agent, if any is close."""
    usable = {k: p for k, p in prints.items() if (p.encoder, p.encoder_version) == encoder}
    if not speaker_vectors or not usable:
        return None
    speakers = sorted(speaker_vectors)
    if agent_id is not None:
        if agent_id not in usable:
            return None
        candidates = [agent_id]
    else:
        candidates = sorted(usable)
    best: VoiceMatch | None = None
    for aid in candidates:
        p = np.asarray(usable[aid].vector)
        sims = sorted(((float(speaker_vectors[s] @ p), s) for s in speakers), reverse=True)
        score, spk = sims[0]
        margin = score - sims[1][0] if len(sims) > 1 else score
        m = VoiceMatch(aid, spk, round(score, 3), round(margin, 3), agent_id is None)
        if best is None or m.score > best.score:
            best = m
    if best is not None and best.suggested and best.score < MIN_SUGGEST:
        return None
    return best


def apply_match(speakers: Speakers, found: VoiceMatch | None) -> Speakers:
    """A known agent's voice decides who the agent is when it leads by ``MIN_MARGIN``; a suggestion changes no role."""
    if found is None:
        return speakers
    speakers = replace(speakers, voice_match=found)
    if found.suggested or found.margin < MIN_MARGIN:
        return speakers
    cue_agent = next((r.speaker for r in speakers.roles if r.role is Role.AGENT), None)
    cue_conf = max((r.confidence for r in speakers.roles), default=0.0)
    agree = cue_agent == found.speaker
    conf = round(max(found.margin, cue_conf) if agree else found.margin, 3)
    how = f"voiceprint of {found.agent_id} (score {found.score:.2f}, margin {found.margin:.2f}); cues " + (
        "agree" if agree else "disagree"
    )
    role_of = {r.speaker: Role.AGENT if r.speaker == found.speaker else Role.CALLER for r in speakers.roles}
    roles = tuple(SpeakerRole(r.speaker, role_of[r.speaker], conf, how) for r in speakers.roles)
    turns = tuple(replace(t, role=role_of.get(t.speaker, t.role)) for t in speakers.turns)
    return replace(speakers, roles=roles, turns=turns)


def speaker_vectors(speakers: Speakers, embedder: Embedder, x: np.ndarray, rate: int) -> dict[str, np.ndarray]:
    out = {}
    for spk in sorted({s.speaker for s in speakers.segments}):
        segs = [(s.start, s.end) for s in speakers.segments if s.speaker == spk]
        try:
            out[spk] = voice_of(embedder, x, rate, segs)[0]
        except InputError:
            continue
    return out
