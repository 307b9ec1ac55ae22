"""Helpers for store and API tests: distinct stored calls made from real processed sample documents."""

from __future__ import annotations

import copy
import hashlib


def variant(doc: dict, n: int, agent_id: str, team: str, started_at: str) -> dict:
    """The same analysed call as a different recording: its own audio hash and call id, an agent, a team, a date."""
    d = copy.deepcopy(doc)
    sha = hashlib.sha256(f"{doc['audio']['sha256']}-{n}".encode()).hexdigest()
    d["audio"]["sha256"] = sha
    d["call_id"] = sha[:16]
    d["metadata"] = {**(d.get("metadata") or {}), "agent_id": agent_id, "team": team, "started_at": started_at}
    return d


def load(store, docs) -> list[str]:
    from qa.store.calls import import_document

    ids = []
    with store.session() as s:
        for d in docs:
            call, _ = import_document(s, d)
            ids.append(call.id)
    return ids
