"""The tickets agents created, checked against their calls: another request type, another street, or no ticket for
a call that needed one.

A ticket CSV has a header with ``service_request_id``, ``type`` (a request-type key, an Open311 service_code or
service_name), ``address``, and optionally ``agent``, ``time`` (ISO 8601) and ``call_id``. A ticket is linked to its
call by ``call_id`` when given (the call id or its first characters), else by agent and time: the ticket made by the
call's agent closest to the call, from 5 minutes before it started to 30 minutes after it ended.
"""

from __future__ import annotations

import csv
import datetime as dt
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qa.city.gazetteer import Gazetteer, parse_street, similarity
from qa.errors import InputError
from qa.nlp.taxonomy import Taxonomy

REQUIRED = ("service_request_id", "type", "address")
BEFORE = dt.timedelta(minutes=5)
AFTER = dt.timedelta(minutes=30)
SAME_STREET = 0.82


@dataclass(frozen=True, slots=True)
class Ticket:
    id: str
    type: str
    address: str
    agent: str | None
    time: dt.datetime | None
    call_id: str | None


@dataclass(frozen=True, slots=True)
class TicketFlag:
    """A disagreement between a call and its ticket (``kind``: no_ticket, type_mismatch, street_mismatch,
    unknown_type, unknown_call)."""

    call_id: str | None
    source: str | None
    ticket: str | None
    kind: str
    detail: str


def parse_time(value: str | None) -> dt.datetime | None:
    """ISO 8601 (with or without zone, 'Z' allowed) -> naive UTC (as the store keeps times); else None."""
    if not value:
        return None
    try:
        t = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return t.astimezone(dt.UTC).replace(tzinfo=None) if t.tzinfo else t


def load_tickets(path: Path) -> list[Ticket]:
    try:
        fh = path.open(encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror})") from None
    with fh:
        reader = csv.DictReader(fh)
        cols = [c.strip().lower() for c in reader.fieldnames or []]
        missing = [c for c in REQUIRED if c not in cols]
        if missing:
            raise InputError(f"{path}: missing column(s) {', '.join(missing)} (header: {', '.join(REQUIRED)}, "
                             "agent, time, call_id)")  # fmt: skip
        out = []
        for n, row in enumerate(reader, 2):
            r = {(k or "").strip().lower(): (v or "").strip() for k, v in row.items()}
            if not r["service_request_id"]:
                raise InputError(f"{path}: line {n}: empty service_request_id")
            when = parse_time(r.get("time")) if r.get("time") else None
            if r.get("time") and when is None:
                raise InputError(f"{path}: line {n}: time '{r['time']}' is not an ISO 8601 date-time")
            out.append(Ticket(r["service_request_id"], r["type"], r["address"], r.get("agent") or None, when,
                              r.get("call_id") or None))  # fmt: skip
    return out


def _street_of(address: str) -> str:
    """'1200 Sepulveda Blvd, Los Angeles' -> 'Sepulveda Blvd' (house number and city dropped)."""
    first = re.split(r",", address, maxsplit=1)[0]
    return re.sub(r"^\s*\d+[a-zA-Z]?\s+", "", first).strip()


def _call_streets(doc: Mapping[str, Any]) -> list[str]:
    loc = doc.get("location") or {}
    streets = [s for s in (loc.get("street"), loc.get("cross_street")) if s]
    for e in doc.get("entities") or []:
        if e.get("type") in ("ADDRESS", "CROSS_STREETS", "STREET"):
            streets += (e.get("normalized") or "").split(" & ") if e.get("normalized") else []
            if not e.get("normalized") or e.get("needs_review"):
                streets.append(re.sub(r"^\d+\s+", "", str(e.get("value", ""))))
    return [s for s in streets if s]


def _same_street(ticket_street: str, call_streets: Iterable[str], gazetteer: Gazetteer | None) -> bool:
    t = parse_street(ticket_street)
    if gazetteer is not None:
        m = gazetteer.match(ticket_street, SAME_STREET)
        if m.street:
            t = parse_street(m.street)
    return any(similarity(parse_street(s), t) >= SAME_STREET for s in call_streets)


def _link(tickets: list[Ticket], docs: list[tuple[Path, dict[str, Any]]]) -> dict[str, Ticket]:
    """call id -> its ticket."""
    linked: dict[str, Ticket] = {}
    by_time = []
    for t in tickets:
        if t.call_id:
            for _, doc in docs:
                if str(doc["call_id"]).startswith(t.call_id):
                    linked[doc["call_id"]] = t
        elif t.agent and t.time:
            by_time.append(t)
    for _, doc in docs:
        cid = doc["call_id"]
        meta = doc.get("metadata") or {}
        start = parse_time(meta.get("started_at"))
        if cid in linked or start is None or not meta.get("agent_id"):
            continue
        end = start + dt.timedelta(seconds=float((doc.get("audio") or {}).get("duration_s") or 0.0))
        near = [
            t for t in by_time
            if t.agent == meta["agent_id"] and t.time is not None and start - BEFORE <= t.time <= end + AFTER
        ]  # fmt: skip
        if near:
            linked[cid] = min(near, key=lambda t: abs((t.time - end).total_seconds()) if t.time else 0.0)
    return linked


def check_tickets(
    tickets: list[Ticket],
    docs: list[tuple[Path, dict[str, Any]]],
    taxonomy: Taxonomy,
    gazetteer: Gazetteer | None = None,
) -> list[TicketFlag]:
    linked = _link(tickets, docs)
    flags: list[TicketFlag] = []
    for path, doc in docs:
        cid = str(doc["call_id"])
        rt = doc.get("request_type") or {}
        label = rt.get("label")
        t = linked.get(cid)
        if t is None:
            if taxonomy.needs_ticket(label) and not (doc.get("emergency") or {}).get("flag"):
                flags.append(TicketFlag(cid, path.name, None, "no_ticket", f"a {label} call left no ticket"))
            continue
        ticket_label = taxonomy.label_of(t.type)
        if ticket_label is None:
            flags.append(TicketFlag(cid, path.name, t.id, "unknown_type", f"ticket type '{t.type}' is not in the "
                                    "taxonomy"))  # fmt: skip
        elif label and ticket_label != label:
            sure = "" if not rt.get("needs_review") else " (the call's type is uncertain)"
            flags.append(
                TicketFlag(cid, path.name, t.id, "type_mismatch", f"ticket {ticket_label}, call {label}{sure}")
            )
        street = _street_of(t.address)
        call_streets = _call_streets(doc)
        if street and call_streets and not _same_street(street, call_streets, gazetteer):
            flags.append(TicketFlag(cid, path.name, t.id, "street_mismatch",
                                    f"ticket '{street}', call {' / '.join(sorted(set(call_streets)))}"))  # fmt: skip
    known = {str(doc["call_id"]) for _, doc in docs}
    for t in tickets:
        if t.call_id and not any(k.startswith(t.call_id) for k in known):
            flags.append(TicketFlag(t.call_id, None, t.id, "unknown_call", "no processed call has this id"))
    return flags
