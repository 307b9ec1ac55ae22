"""API users and keys. A key is shown once when created; only its SHA-256 is stored."""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from qa.errors import ConfigError
from qa.store.db import Store
from qa.store.models import Agent, Team, User

ROLES = ("admin", "reviewer", "supervisor", "hr", "agent")


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def add_user(store: Store, name: str, role: str, agent_id: str | None = None, team: str | None = None) -> str:
    """Create a user; returns the API key (shown once)."""
    if role not in ROLES:
        raise ConfigError(f"--role: {role!r} is not a role; choose from {', '.join(ROLES)}")
    if role == "agent" and not agent_id:
        raise ConfigError("--agent-id: an agent user must be linked to the agent id their calls carry")
    key = "cqa_" + secrets.token_urlsafe(32)
    try:
        with store.session() as s:
            if team and s.get(Team, team) is None:
                s.add(Team(name=team))
                s.flush()
            if agent_id and s.get(Agent, agent_id) is None:
                s.add(Agent(id=agent_id, team=team))
                s.flush()
            s.add(User(name=name, role=role, agent_id=agent_id, team=team, key_hash=hash_key(key)))
    except IntegrityError:
        raise ConfigError(f"user {name!r} already exists") from None
    return key


def authenticate(store: Store, key: str) -> User | None:
    with store.session() as s:
        return s.scalar(select(User).where(User.key_hash == hash_key(key), User.active.is_(True)))
