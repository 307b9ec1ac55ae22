"""Who may do what, and what each role sees: every role decision of the API is in this module.

- ``PERMISSIONS``: one table, read by every route (``require``) and by the permission-matrix test.
- One function per cut: ``text_access`` (transcript text raw / redacted / none), ``released_only`` (agents see
  released evaluations only), ``answers_blind`` (reviewers answer a calibration before they see the others),
  ``scope_calls``, ``scope_notes``, ``scope_jobs``, ``scope_audit`` (which rows a user's
  queries can reach), ``sees_server_paths``.

Roles:
- admin: everything.
- reviewer: reads calls with personal data, overrides answers, scores calibration sessions, uploads recordings,
  releases evaluations.
- supervisor: reads calls (redacted; of their team when they have one), releases and finalizes evaluations,
  resolves disputes, writes coaching notes, sees trends, exports and the audit trail of their team.
- hr: evaluations, trends and exports; never any transcript text (no turns, entities, quotes, cues), no audio.
- agent: their own calls (redacted) and their released evaluations; acknowledges or disputes them; reads their
  coaching notes and their own trend.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Select, false

from api.views import TextAccess
from qa.store.models import Agent, AuditRow, Call, CoachingNote, Job

ALL = frozenset({"admin", "reviewer", "supervisor", "hr", "agent"})

PERMISSIONS: dict[str, frozenset[str]] = {
    "calls:upload": frozenset({"admin", "reviewer"}),
    "jobs:read": frozenset({"admin", "reviewer", "supervisor"}),
    "calls:list": ALL,
    "calls:read": ALL,  # agents: only their own calls (enforced by the query)
    "calls:transcript": frozenset({"admin", "reviewer", "supervisor", "agent"}),
    "calls:audio": frozenset({"admin", "reviewer", "supervisor", "agent"}),
    "calls:roles": frozenset({"admin", "reviewer", "supervisor"}),  # confirm which speaker is the agent
    "evaluations:read": ALL,
    "evaluations:override": frozenset({"admin", "reviewer"}),
    "evaluations:release": frozenset({"admin", "reviewer", "supervisor"}),
    "evaluations:acknowledge": frozenset({"agent"}),
    "evaluations:finalize": frozenset({"admin", "supervisor"}),
    "calibration:manage": frozenset({"admin", "reviewer", "supervisor"}),
    "calibration:score": frozenset({"admin", "reviewer"}),
    "calibration:read": frozenset({"admin", "reviewer", "supervisor"}),
    "disputes:create": frozenset({"agent"}),
    "disputes:read": frozenset({"admin", "reviewer", "supervisor", "agent"}),
    "disputes:resolve": frozenset({"admin", "supervisor"}),
    "coaching:write": frozenset({"admin", "supervisor"}),
    "coaching:read": frozenset({"admin", "supervisor", "agent"}),
    "trends:read": frozenset({"admin", "supervisor", "hr", "agent"}),
    "dashboard:read": frozenset({"admin", "supervisor"}),  # a team's agents side by side
    "queue:read": frozenset({"admin", "reviewer", "supervisor"}),  # the review queue and its weekly sample
    "exports:read": frozenset({"admin", "supervisor", "hr"}),
    "audit:read": frozenset({"admin", "supervisor"}),
    "users:manage": frozenset({"admin"}),
    "me:read": ALL,
}

PII_ROLES = frozenset({"admin", "reviewer"})  # see transcripts and entities without redaction
NO_MATCH = "\x00"  # compared against ids that can never contain it: an empty result, not an error


@dataclass(frozen=True)
class Principal:
    id: int
    name: str
    role: str
    agent_id: str | None
    team: str | None

    @property
    def sees_pii(self) -> bool:
        return self.role in PII_ROLES

    @property
    def limited_to_team(self) -> bool:
        return self.role == "supervisor" and bool(self.team)


def text_access(user: Principal) -> TextAccess:
    """Transcript text (turns, entities, evidence quotes, emergency cue, request-type reason): raw for admins and
    reviewers, redacted for supervisors and agents, none for HR."""
    if user.role in PII_ROLES:
        return TextAccess.RAW
    if user.role in PERMISSIONS["calls:transcript"]:
        return TextAccess.REDACTED
    return TextAccess.NONE


def released_only(user: Principal) -> bool:
    """Agents see an evaluation (and their calls' scores) only once it has been released to them."""
    return user.role == "agent"


def answers_blind(user: Principal) -> bool:
    """Calibration: a reviewer sees the others' answers (and the automatic ones) only after giving their own.
    Admins and supervisors run the sessions and read the results at any time."""
    return user.role == "reviewer"


def sees_server_paths(user: Principal) -> bool:
    """Job paths and errors name server folders: admins only; everyone else gets file names."""
    return user.role == "admin"


def scope_calls(q: Select, user: Principal) -> Select:
    """An agent sees only their own calls; a supervisor linked to a team only that team's."""
    if user.role == "agent":
        return q.where(Call.agent_id == (user.agent_id or NO_MATCH))
    if user.limited_to_team:
        return q.where(Call.team == user.team)
    return q


def scope_notes(q: Select, user: Principal) -> Select:
    """Coaching notes: an agent's own; a team supervisor's agents' (read and write alike)."""
    if user.role == "agent":
        return q.where(CoachingNote.agent_id == (user.agent_id or NO_MATCH))
    if user.limited_to_team:
        return q.join(Agent, Agent.id == CoachingNote.agent_id).where(Agent.team == user.team)
    return q


def agent_in_scope(agent: Agent | None, user: Principal) -> bool:
    return agent is not None and (not user.limited_to_team or agent.team == user.team)


def scope_jobs(q: Select, user: Principal) -> Select:
    if user.limited_to_team:
        return q.where(Job.team == user.team)
    return q


def scope_audit(q: Select, user: Principal) -> Select:
    """Admins: the whole trail. Supervisors: rows about their team's calls and agents (without a team: rows about
    any team; never rows about users' keys without a team). Others: nothing (the route refuses them first)."""
    if user.role == "admin":
        return q
    if user.role == "supervisor":
        return q.where(AuditRow.team == user.team) if user.team else q.where(AuditRow.team.is_not(None))
    return q.where(false())
