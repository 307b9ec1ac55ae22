"""Who may do what: one table, read by every route (``require``) and by the permission-matrix test.

- admin: everything.
- reviewer: reads calls with personal data, overrides answers, scores calibration sessions, uploads recordings.
- supervisor: reads calls (redacted), resolves disputes, writes coaching notes, sees trends and exports.
- hr: evaluations, trends and exports (redacted); no audio, no transcripts.
- agent: their own calls and evaluations (redacted), disputes on their own evaluations, their coaching notes.
"""

from __future__ import annotations

ALL = frozenset({"admin", "reviewer", "supervisor", "hr", "agent"})

PERMISSIONS: dict[str, frozenset[str]] = {
    "calls:upload": frozenset({"admin", "reviewer"}),
    "jobs:read": frozenset({"admin", "reviewer", "supervisor"}),
    "calls:list": ALL,
    "calls:read": ALL,  # agents: only their own calls (enforced by the query)
    "calls:transcript": frozenset({"admin", "reviewer", "supervisor", "agent"}),
    "calls:audio": frozenset({"admin", "reviewer", "supervisor", "agent"}),
    "evaluations:read": ALL,
    "evaluations:override": frozenset({"admin", "reviewer"}),
    "calibration:manage": frozenset({"admin", "reviewer", "supervisor"}),
    "calibration:score": frozenset({"admin", "reviewer"}),
    "calibration:read": frozenset({"admin", "reviewer", "supervisor"}),
    "disputes:create": frozenset({"agent"}),
    "disputes:read": frozenset({"admin", "reviewer", "supervisor", "agent"}),
    "disputes:resolve": frozenset({"admin", "supervisor"}),
    "coaching:write": frozenset({"admin", "supervisor"}),
    "coaching:read": frozenset({"admin", "supervisor", "agent"}),
    "trends:read": frozenset({"admin", "supervisor", "hr", "agent"}),
    "exports:read": frozenset({"admin", "supervisor", "hr"}),
    "users:manage": frozenset({"admin"}),
    "me:read": ALL,
}

PII_ROLES = frozenset({"admin", "reviewer"})  # see transcripts and entities without redaction
