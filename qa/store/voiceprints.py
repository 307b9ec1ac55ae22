"""Agent voiceprints in the results store (the ``voiceprints`` table), and reviewers' confirmations of who the agent
is in a call. The same :class:`qa.diarize.voiceprints.Voiceprints` as the file, for a centre that runs a store:
workers on several machines read and refine the same prints.

Every change (enroll, a refinement learnt from a call, forget) and every listing writes an audit row in the same
transaction (never the vector). Reading the prints to match a call's speakers is not a row per call: the call's own
JSON records which agent matched, with the score and margin.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from qa.diarize.voiceprints import Voiceprint, merged, without
from qa.errors import InputError
from qa.store import audit
from qa.store.db import Store
from qa.store.models import Call, RoleConfirmation, VoiceprintRow, VoiceprintSource, utcnow


def _print(row: VoiceprintRow, source_ids: tuple[str, ...] = ()) -> Voiceprint:
    return Voiceprint(
        row.agent_id,
        row.encoder,
        row.encoder_version,
        tuple(float(x) for x in np.frombuffer(row.vector, dtype="<f4")),
        row.seconds,
        row.sources,
        row.updated_at.replace(tzinfo=dt.UTC).isoformat(timespec="seconds"),
        source_ids,
        tuple(float(x) for x in np.frombuffer(row.total, dtype="<f8")),
    )


def _fill(row: VoiceprintRow, vp: Voiceprint) -> None:
    row.encoder, row.encoder_version = vp.encoder, vp.encoder_version
    row.vector = np.asarray(vp.vector, dtype="<f4").tobytes()
    row.total = np.asarray(vp.total, dtype="<f8").tobytes()
    row.seconds, row.sources = vp.seconds, vp.sources
    row.updated_at = utcnow()


def _source_ids(s: Session, agent_id: str | None = None) -> dict[str, tuple[str, ...]]:
    q = select(VoiceprintSource.agent_id, VoiceprintSource.source_id).order_by(VoiceprintSource.added_at)
    if agent_id is not None:
        q = q.where(VoiceprintSource.agent_id == agent_id)
    out: dict[str, list[str]] = {}
    for aid, sid in s.execute(q):
        out.setdefault(aid, []).append(sid)
    return {k: tuple(v) for k, v in out.items()}


@dataclass
class StoreVoiceprints:
    """Voiceprints in ``store``; ``actor`` is who the audit rows name (the CLI user by default, a worker when a
    pipeline learns from calls)."""

    store: Store
    actor: audit.Actor | None = None

    def _actor(self) -> audit.Actor:
        return self.actor or audit.Actor.cli()

    def load(self, with_sources: bool = True) -> dict[str, Voiceprint]:
        with self.store.session() as s:
            ids = _source_ids(s) if with_sources else {}
            return {r.agent_id: _print(r, ids.get(r.agent_id, ())) for r in s.scalars(select(VoiceprintRow))}

    def listing(self) -> dict[str, Voiceprint]:
        """``load`` for a person (``qa agents list``): audited."""
        with self.store.session() as s:
            ids = _source_ids(s)
            prints = {r.agent_id: _print(r, ids.get(r.agent_id, ())) for r in s.scalars(select(VoiceprintRow))}
            audit.record(s, self._actor(), "voiceprint.list", "voiceprint", None, {"agents": len(prints)})
        return prints

    def enroll(
        self,
        agent_id: str,
        vector: np.ndarray,
        seconds: float,
        encoder: tuple[str, str],
        source_id: str | None = None,
        create: bool = True,
    ) -> Voiceprint | None:
        for attempt in range(2):  # two writers creating the same agent's first print: the loser adds to it
            try:
                with self.store.session() as s:
                    return self._enroll(s, agent_id, vector, seconds, encoder, source_id, create)
            except IntegrityError:
                if attempt:
                    raise
        return None  # pragma: no cover

    def _enroll(
        self,
        s: Session,
        agent_id: str,
        vector: np.ndarray,
        seconds: float,
        encoder: tuple[str, str],
        source_id: str | None,
        create: bool,
    ) -> Voiceprint | None:
        audit.lock(s)  # before reading: two workers refining one print must not both start from the same old one
        row = s.scalar(select(VoiceprintRow).where(VoiceprintRow.agent_id == agent_id).with_for_update())
        old = _print(row, _source_ids(s, agent_id).get(agent_id, ())) if row is not None else None
        new = merged(old, agent_id, vector, seconds, encoder, source_id, create)
        if new is None:
            return None
        restarted = old is not None and (old.encoder, old.encoder_version) != encoder
        if row is None:
            row = VoiceprintRow(agent_id=agent_id)
            s.add(row)
        elif restarted:  # a print of another encoder is not comparable: its sources go with it
            s.execute(delete(VoiceprintSource).where(VoiceprintSource.agent_id == agent_id))
        _fill(row, new)
        s.flush()
        key = source_id or f"anon-{new.sources}-{utcnow().timestamp():.0f}"
        vec = np.asarray(vector, dtype="<f4").tobytes()
        s.add(VoiceprintSource(agent_id=agent_id, source_id=key[:64], seconds=float(seconds), vector=vec))
        action = "voiceprint.update" if old is not None and not restarted else "voiceprint.enroll"
        details = {"source": source_id, "seconds": round(seconds, 1), "sources": new.sources, "encoder": new.encoder}
        audit.record(s, self._actor(), action, "voiceprint", agent_id, details, agent_id=agent_id)
        s.flush()
        return new

    def remove_source(self, agent_id: str, source_id: str, reason: str) -> bool:
        """Take one source's voice out of an agent's print (the print goes with its last source); False when the
        print does not hold it."""
        with self.store.session() as s:
            return take_out(s, agent_id, source_id, reason, self._actor())

    def forget(self, agent_id: str) -> bool:
        with self.store.session() as s:
            row = s.get(VoiceprintRow, agent_id)
            if row is None:
                return False
            s.delete(row)
            audit.record(s, self._actor(), "voiceprint.forget", "voiceprint", agent_id, {}, agent_id=agent_id)
        return True


def take_out(s: Session, agent_id: str, source_id: str, reason: str, actor: audit.Actor) -> bool:
    """``StoreVoiceprints.remove_source`` inside the caller's transaction (erasure uses it with its own)."""
    audit.lock(s)
    src = s.get(VoiceprintSource, (agent_id, source_id))
    row = s.get(VoiceprintRow, agent_id)
    if src is None or row is None:
        return False
    voice = np.frombuffer(src.vector, dtype="<f4").astype(np.float64)
    new = without(_print(row, _source_ids(s, agent_id).get(agent_id, ())), source_id, voice, src.seconds)
    s.delete(src)
    s.flush()  # the source first: the print's row may go next
    if new is None:
        s.delete(row)
    else:
        _fill(row, new)
    details = {"source": source_id, "seconds": round(src.seconds, 1), "reason": reason, "left": new is not None}
    audit.record(s, actor, "voiceprint.remove_source", "voiceprint", agent_id, details, agent_id=agent_id)
    s.flush()
    return True


def forget_source_everywhere(s: Session, source_id: str, reason: str, actor: audit.Actor) -> list[str]:
    """Take a call's voice out of every print that holds it (erasure); the agents whose prints changed."""
    agents = list(s.scalars(select(VoiceprintSource.agent_id).where(VoiceprintSource.source_id == source_id)))
    return [a for a in agents if take_out(s, a, source_id, reason, actor)]


def confirm_roles(s: Session, call: Call, agent_speaker: str, user_id: int | None, actor: audit.Actor) -> bool:
    """Record a reviewer's word that ``agent_speaker`` is the agent of ``call``; True when the automatic roles said
    the same. Raises InputError for a speaker the call does not have."""
    roles = (call.document.get("speakers") or {}).get("roles") or []
    speakers = {r.get("speaker"): r.get("role") for r in roles}
    if agent_speaker not in speakers:
        known = ", ".join(sorted(str(k) for k in speakers)) or "none"
        raise InputError(f"agent_speaker: the call has no speaker {agent_speaker!r} (its speakers: {known})")
    agrees = speakers[agent_speaker] == "agent"
    audit.lock(s)  # two reviewers confirming the same call at once: one after the other, not a key conflict
    row = s.get(RoleConfirmation, call.id)
    if row is None:
        row = RoleConfirmation(call_id=call.id)
        s.add(row)
    row.agent_speaker, row.agrees, row.config_hash = agent_speaker, agrees, call.config_hash
    row.confirmed_by, row.confirmed_at, row.enrolled_at = user_id, utcnow(), None
    details = {"agent_speaker": agent_speaker, "agrees": agrees, "layout": call.channel_layout}
    audit.record(s, actor, "call.roles_confirm", "call", call.id, details, team=call.team, agent_id=call.agent_id)
    s.flush()
    return agrees


@dataclass(frozen=True, slots=True)
class Confirmed:
    """A call whose agent a reviewer named, ready to feed that agent's voiceprint."""

    call_id: str
    agent_id: str
    audio_path: str
    agent_speech: tuple[tuple[float, float], ...]  # the confirmed speaker's segments (seconds)
    channel: int | None  # two-channel call: the agent's channel; None: mono
    corrected: bool  # the reviewer said another speaker than the automatic roles


def confirmed_calls(s: Session, call_ids: list[str] | None = None) -> tuple[list[Confirmed], list[str]]:
    """Confirmed calls not yet in a voiceprint (or ``call_ids``, whether used or not), and why others cannot be
    used (no agent id, audio removed, re-processed since the confirmation)."""
    q = select(RoleConfirmation, Call).join(Call, Call.id == RoleConfirmation.call_id)
    q = q.where(Call.id.in_(call_ids)) if call_ids else q.where(RoleConfirmation.enrolled_at.is_(None))
    ready, skipped = [], []
    found = set()
    for conf, call in s.execute(q.order_by(Call.id)):
        found.add(call.id)
        why = None
        if not call.agent_id:
            why = "no agent_id"
        elif not call.audio_path or call.audio_removed_at is not None:
            why = "its audio is not kept"
        elif conf.config_hash != call.config_hash:
            why = "re-processed since the roles were confirmed (confirm them again)"
        if why:
            skipped.append(f"{call.id}: {why}")
            continue
        segs = (call.document.get("speakers") or {}).get("segments") or []
        speech = tuple((float(x["start"]), float(x["end"])) for x in segs if x.get("speaker") == conf.agent_speaker)
        channel = int(conf.agent_speaker[2:]) if conf.agent_speaker.startswith("ch") else None
        ready.append(Confirmed(call.id, str(call.agent_id), str(call.audio_path), speech, channel, not conf.agrees))
    skipped += [f"{cid}: no role confirmation" for cid in (call_ids or []) if cid not in found]
    return ready, skipped


def mark_enrolled(s: Session, call_id: str) -> None:
    row = s.get(RoleConfirmation, call_id)
    if row is not None:
        row.enrolled_at = utcnow()
