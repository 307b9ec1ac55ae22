"""The audit trail: who did what, to which object, when and from where. One append-only table, ``audit_log``.

Each row stores ``prev_hash`` (the previous row's hash) and ``hash`` = SHA-256(prev_hash + the row's canonical JSON),
and ids follow each other without gaps. Editing a row changes its hash; deleting one breaks the chain at the next row;
``verify`` finds both. Deleting the newest rows leaves a shorter valid chain: keep the head that ``qa audit verify``
prints somewhere else and pass it back with ``--head`` to detect that too.

Appends are serialized so that two writers never chain to the same row: PostgreSQL takes a transaction-level
advisory lock; SQLite takes its one write lock first (a no-op UPDATE) and so serializes writers already. A row is
written in the same transaction as the action it records, so a rolled-back action leaves no row.

Rows never hold transcript text: callers pass ids, answers, comments people typed, counts.
"""

from __future__ import annotations

import datetime as dt
import getpass
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Select, false, select, text, update
from sqlalchemy.orm import Session

from qa.store.models import AuditRow, utcnow

GENESIS = "0" * 64
LOCK_KEY = 0x6371_6175  # pg_advisory_xact_lock key for audit appends ("cqau")
FIELDS = (
    "id",
    "at",
    "actor_id",
    "actor_name",
    "actor_role",
    "client",
    "action",
    "object_type",
    "object_id",
    "team",
    "agent_id",
    "details",
)


@dataclass(frozen=True, slots=True)
class Actor:
    """Who acts: an API user (with the client address) or the command line (the operating-system user)."""

    id: int | None
    name: str
    role: str
    client: str | None = None

    @classmethod
    def cli(cls) -> Actor:
        try:
            who = getpass.getuser()
        except (KeyError, OSError):  # no passwd entry (containers)
            who = "unknown"
        return cls(None, f"cli:{who}"[:100], "cli", "cli")


def _jsonable(details: dict[str, Any] | None) -> dict[str, Any]:
    """The details as they will read back from the database (dates as ISO text), so the hash is stable."""
    return json.loads(json.dumps(details or {}, default=_iso, ensure_ascii=False))


def _iso(v: Any) -> str:
    return v.isoformat() if isinstance(v, dt.date | dt.datetime) else str(v)


def canonical(row: AuditRow) -> str:
    values = {f: getattr(row, f) for f in FIELDS}
    values["at"] = row.at.isoformat()
    return json.dumps(values, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def row_hash(prev_hash: str, row: AuditRow) -> str:
    return hashlib.sha256((prev_hash + canonical(row)).encode()).hexdigest()


def lock(s: Session) -> None:
    """Serialize writers for the rest of the transaction (the lock every audit append takes): a read-modify-write
    that takes it before reading cannot lose another writer's update, on SQLite too (where SELECT ... FOR UPDATE
    does nothing)."""
    _lock(s)


def _lock(s: Session) -> None:
    if s.get_bind().dialect.name == "postgresql":
        s.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": LOCK_KEY})
    else:  # SQLite: any write statement takes the database's single write lock for the rest of the transaction
        s.execute(update(AuditRow).where(false()).values(id=AuditRow.id))


def record(
    s: Session,
    actor: Actor,
    action: str,
    object_type: str,
    object_id: str | int | None = None,
    details: dict[str, Any] | None = None,
    team: str | None = None,
    agent_id: str | None = None,
) -> AuditRow:
    """Append one row to the trail inside the caller's transaction."""
    _lock(s)
    last = s.execute(select(AuditRow.id, AuditRow.hash).order_by(AuditRow.id.desc()).limit(1)).first()
    prev_id, prev_hash = (last[0], last[1]) if last else (0, GENESIS)
    row = AuditRow(
        id=prev_id + 1,
        at=utcnow(),
        actor_id=actor.id,
        actor_name=actor.name,
        actor_role=actor.role,
        client=(actor.client or None) and actor.client[:100],
        action=action,
        object_type=object_type,
        object_id=None if object_id is None else str(object_id)[:100],
        team=team,
        agent_id=agent_id,
        details=_jsonable(details),
        prev_hash=prev_hash,
    )
    row.hash = row_hash(prev_hash, row)
    s.add(row)
    s.flush()
    return row


@dataclass
class Verification:
    rows: int = 0
    head_id: int = 0
    head_hash: str = GENESIS
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def verify(s: Session, head: tuple[int, str] | None = None, batch: int = 2000) -> Verification:
    """Walk the chain from the first row. ``head`` (id, hash), printed by an earlier verify, must still be there."""
    v = Verification()
    expected_id, prev = 1, GENESIS
    last_id = 0
    while True:
        rows = s.scalars(select(AuditRow).where(AuditRow.id > last_id).order_by(AuditRow.id).limit(batch)).all()
        if not rows:
            break
        for r in rows:
            if r.id != expected_id:
                v.problems.append(f"rows {expected_id}..{r.id - 1} are missing (deleted)")
            if r.prev_hash != prev:
                v.problems.append(f"row {r.id}: does not follow the row before it (a row before it was changed)")
            if row_hash(r.prev_hash, r) != r.hash:
                v.problems.append(f"row {r.id}: its content does not match its hash (edited)")
            expected_id, prev, last_id = r.id + 1, r.hash, r.id
            v.rows += 1
        s.expunge_all()
    v.head_id, v.head_hash = last_id, prev
    if head is not None:
        hid, hhash = head
        got = s.scalar(select(AuditRow.hash).where(AuditRow.id == hid))
        if got is None:
            v.problems.append(f"head {hid} is gone: rows at the end of the trail were deleted")
        elif not got.startswith(hhash):
            v.problems.append(f"head {hid}: hash differs from the one recorded ({hhash[:16]}...)")
    return v


@dataclass(frozen=True, slots=True)
class Filters:
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    actor: str | None = None
    action: str | None = None
    object_type: str | None = None
    object_id: str | None = None
    team: str | None = None


def query(f: Filters) -> Select:
    q = select(AuditRow)
    if f.since is not None:
        q = q.where(AuditRow.at >= f.since)
    if f.until is not None:
        q = q.where(AuditRow.at < f.until)
    if f.actor:
        q = q.where(AuditRow.actor_name == f.actor)
    if f.action:
        # "coaching" matches coaching.create and coaching.update; "coaching.update" only itself
        q = q.where((AuditRow.action == f.action) | AuditRow.action.startswith(f.action + ".", autoescape=True))
    if f.object_type:
        q = q.where(AuditRow.object_type == f.object_type)
    if f.object_id:
        q = q.where(AuditRow.object_id == f.object_id)
    if f.team:
        q = q.where(AuditRow.team == f.team)
    return q


def as_dict(r: AuditRow) -> dict[str, Any]:
    return {**{f: getattr(r, f) for f in FIELDS}, "prev_hash": r.prev_hash, "hash": r.hash}


def iter_rows(s: Session, q: Select, batch: int = 2000) -> Iterator[AuditRow]:
    last = 0
    while True:
        rows = s.scalars(q.where(AuditRow.id > last).order_by(AuditRow.id).limit(batch)).all()
        if not rows:
            return
        yield from rows
        last = rows[-1].id
