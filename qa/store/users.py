"""API users and their keys. A key is shown once when created or rotated; only its SHA-256 is stored.

Key lifecycle: a key may expire (``expires_at``), a user can be disabled and enabled again, a key rotated (the old
one stops working at once), and ``last_used_at`` records when a key last opened a request (at most once a minute per
user, written off the request's path so that a busy database never delays a request for it). Every change is
written to the audit trail in the same transaction.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
from dataclasses import dataclass
from enum import Enum

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from qa.errors import ConfigError
from qa.identifiers import check_identifier
from qa.store import audit
from qa.store.audit import Actor
from qa.store.db import Store
from qa.store.models import Agent, Team, User, utcnow

ROLES = ("admin", "reviewer", "supervisor", "hr", "agent")
MAX_EXPIRY = dt.timedelta(days=3650)
_DURATION = re.compile(r"^(\d{1,5})([hdw])$")


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def new_key() -> str:
    return "cqa_" + secrets.token_urlsafe(32)


def parse_expiry(text: str | None) -> dt.timedelta | None:
    """'90d', '12w', '36h' -> a duration; 'never' (or None) -> no expiry."""
    if text is None or text.strip().lower() == "never":
        return None
    m = _DURATION.match(text.strip().lower())
    if not m:
        raise ConfigError(f"--expires-in: {text!r} is not a duration; use e.g. 90d, 12w, 36h or never")
    n, unit = int(m.group(1)), m.group(2)
    span = {"h": dt.timedelta(hours=n), "d": dt.timedelta(days=n), "w": dt.timedelta(weeks=n)}[unit]
    if not dt.timedelta(hours=1) <= span <= MAX_EXPIRY:
        raise ConfigError(f"--expires-in: {text!r} must be between 1h and {MAX_EXPIRY.days}d")
    return span


@dataclass(frozen=True, slots=True)
class UserInfo:
    id: int
    name: str
    role: str
    agent_id: str | None
    team: str | None
    active: bool
    created_at: dt.datetime
    key_created_at: dt.datetime | None
    expires_at: dt.datetime | None
    last_used_at: dt.datetime | None

    @property
    def status(self) -> str:
        if not self.active:
            return "disabled"
        if self.expires_at is not None and self.expires_at <= utcnow():
            return "expired"
        return "active"


def _info(u: User) -> UserInfo:
    return UserInfo(
        u.id,
        u.name,
        u.role,
        u.agent_id,
        u.team,
        bool(u.active),
        u.created_at,
        u.key_created_at,
        u.expires_at,
        u.last_used_at,
    )


def add_user(
    store: Store,
    name: str,
    role: str,
    agent_id: str | None = None,
    team: str | None = None,
    expires_in: dt.timedelta | None = None,
    actor: Actor | None = None,
) -> str:
    """Create a user; returns the API key (shown once)."""
    check_identifier(name, "name")
    if agent_id is not None:
        check_identifier(agent_id, "--agent-id")
    if team is not None:
        check_identifier(team, "--team")
    if role not in ROLES:
        raise ConfigError(f"--role: {role!r} is not a role; choose from {', '.join(ROLES)}")
    if role == "agent" and not agent_id:
        raise ConfigError("--agent-id: an agent user must be linked to the agent id their calls carry")
    key = new_key()
    now = utcnow()
    expires = now + expires_in if expires_in else None
    try:
        with store.session() as s:
            if team and s.get(Team, team) is None:
                s.add(Team(name=team))
                s.flush()
            if agent_id and s.get(Agent, agent_id) is None:
                s.add(Agent(id=agent_id, team=team))
                s.flush()
            u = User(
                name=name,
                role=role,
                agent_id=agent_id,
                team=team,
                key_hash=hash_key(key),
                key_created_at=now,
                expires_at=expires,
            )
            s.add(u)
            s.flush()
            audit.record(
                s,
                actor or Actor.cli(),
                "user.create",
                "user",
                name,
                {"role": role, "agent_id": agent_id, "team": team, "expires_at": expires},
                team=team,
                agent_id=agent_id,
            )
    except IntegrityError:
        raise ConfigError(f"user {name!r} already exists") from None
    return key


def list_users(store: Store) -> list[UserInfo]:
    with store.session() as s:
        return [_info(u) for u in s.scalars(select(User).order_by(User.name))]


def _user(s, name: str) -> User:
    u = s.scalar(select(User).where(User.name == name))
    if u is None:
        raise ConfigError(f"no user {name!r} (qa user list shows them)")
    return u


def set_active(store: Store, name: str, active: bool, actor: Actor | None = None) -> UserInfo:
    """Disable (the key stops working at once) or enable a user."""
    with store.session() as s:
        u = _user(s, name)
        before = bool(u.active)
        u.active = active
        audit.record(
            s,
            actor or Actor.cli(),
            "user.enable" if active else "user.disable",
            "user",
            name,
            {"before": {"active": before}, "after": {"active": active}},
            team=u.team,
            agent_id=u.agent_id,
        )
        return _info(u)


def rotate_key(
    store: Store, name: str, expires_in: dt.timedelta | None = None, actor: Actor | None = None
) -> tuple[str, UserInfo]:
    """A new key for ``name`` (shown once); the old key stops working at once. The expiry starts again."""
    key = new_key()
    now = utcnow()
    with store.session() as s:
        u = _user(s, name)
        before = u.expires_at
        u.key_hash, u.key_created_at = hash_key(key), now
        u.expires_at = now + expires_in if expires_in else None
        audit.record(
            s,
            actor or Actor.cli(),
            "user.rotate_key",
            "user",
            name,
            {"before": {"expires_at": before}, "after": {"expires_at": u.expires_at}},
            team=u.team,
            agent_id=u.agent_id,
        )
        return key, _info(u)


class AuthResult(Enum):
    OK = "ok"
    UNKNOWN = "unknown"  # no such key, or the user is disabled: the same answer for both
    EXPIRED = "expired"


def authenticate(store: Store, key: str) -> tuple[AuthResult, User | None]:
    with store.session() as s:
        u = s.scalar(select(User).where(User.key_hash == hash_key(key)))
    if u is None or not u.active:
        return AuthResult.UNKNOWN, None
    if u.expires_at is not None and u.expires_at <= utcnow():
        return AuthResult.EXPIRED, u
    return AuthResult.OK, u


def touch(store: Store, user_id: int, when: dt.datetime) -> None:
    """Record a key's last use (called off the request path; a failure only costs the timestamp)."""
    with store.session() as s:
        s.execute(update(User).where(User.id == user_id).values(last_used_at=when))
