"""Open311 GeoReport v2: one service request per call, from the call's JSON document.

The fields are GeoReport v2's (http://wiki.open311.org/GeoReport_v2): the POST fields a city's system takes
(``service_code``, ``address_string``, ``description``, ``attribute``...) and the response fields a request shows
(``service_name``, ``requested_datetime``, ``agency_responsible``, ``status``). The description is the caller's words
from the redacted transcript (names, phone numbers, house numbers... as ``[PERSON]``-style placeholders); the address
is the location matched to the city's street list (the house number included: it is where the work is), or the
address said in the call when no street list is configured. The call id goes in ``attribute`` as a reference.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from qa.nlp.taxonomy import Taxonomy

POST_FIELDS = frozenset({
    "jurisdiction_id", "service_code", "lat", "long", "address_string", "address_id", "email", "device_id",
    "account_id", "first_name", "last_name", "phone", "description", "media_url", "attribute",
})  # fmt: skip
RESPONSE_FIELDS = frozenset({
    "service_request_id", "status", "status_notes", "service_name", "service_code", "description",
    "agency_responsible", "service_notice", "requested_datetime", "updated_datetime", "expected_datetime", "address",
    "address_id", "zipcode", "lat", "long", "media_url",
})  # fmt: skip
GEOREPORT_FIELDS = POST_FIELDS | RESPONSE_FIELDS
STRING_FIELDS = GEOREPORT_FIELDS - {"lat", "long", "attribute"}
DATETIME_FIELDS = ("requested_datetime", "updated_datetime", "expected_datetime")
STATUSES = ("open", "closed")
MAX_DESCRIPTION = 4000  # GeoReport servers commonly cap descriptions at a few thousand characters
ADDRESS_TYPES = ("ADDRESS", "CROSS_STREETS", "STREET")


def call_documents(results: Path) -> Iterator[tuple[Path, dict[str, Any]]]:
    """The call documents of a results folder (error records and other JSON files skipped)."""
    for path in sorted(results.rglob("*.json")):
        if path.name.endswith(".error.json"):
            continue
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(doc, dict) and "call_id" in doc and "turns" in doc:
            yield path, doc


def caller_words(doc: Mapping[str, Any], limit: int = MAX_DESCRIPTION) -> str:
    """The caller's redacted turns, joined (the whole redacted call when no turn is the caller's)."""
    turns = doc.get("redacted") or []
    said = [t.get("text", "") for t in turns if t.get("role") == "caller"] or [t.get("text", "") for t in turns]
    text = " ".join(s.strip() for s in said if s and s.strip())
    if len(text) > limit:
        text = text[: limit - 1].rsplit(" ", 1)[0] + "…"
    return text


def address_string(doc: Mapping[str, Any]) -> tuple[str | None, bool]:
    """(address, matched to the street list). Matched: '1200 Sepulveda Boulevard', 'Venice Boulevard & 10th Street'.
    Without a street list: the most specific address said, as recognised."""
    entities = doc.get("entities") or []
    loc = doc.get("location")
    if isinstance(loc, dict) and loc.get("valid") and loc.get("street"):
        street = loc["street"] + (f" & {loc['cross_street']}" if loc.get("cross_street") else "")
        e = entities[loc["entity"]] if isinstance(loc.get("entity"), int) and loc["entity"] < len(entities) else None
        if e and e.get("type") == "ADDRESS" and loc.get("house_number"):
            number = str(e.get("value", "")).split(" ", 1)[0]
            if number.isdigit():
                street = f"{number} {street}"
        return street, True
    said = [e for e in entities if e.get("type") in ADDRESS_TYPES]
    if not said:
        return None, False
    best = min(said, key=lambda e: ADDRESS_TYPES.index(e["type"]))
    return str(best.get("value")), False


def requested_datetime(doc: Mapping[str, Any]) -> str | None:
    """When the call started (manifest ``started_at``), W3C ISO 8601 with zone; a time without zone is UTC."""
    raw = (doc.get("metadata") or {}).get("started_at")
    if not raw:
        return None
    try:
        t = dt.datetime.fromisoformat(str(raw).replace("Z", "+00:00"))
    except ValueError:
        return None
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.UTC)
    return t.isoformat(timespec="seconds")


def service_request(doc: Mapping[str, Any], taxonomy: Taxonomy, jurisdiction_id: str | None = None) -> dict[str, Any]:
    """The GeoReport v2 service request for one call document."""
    rt = doc.get("request_type") or {}
    label = rt.get("label") or "other"
    t = taxonomy.types.get(label)
    address, matched = address_string(doc)
    review = bool(rt.get("needs_review")) or not matched or bool((doc.get("location") or {}).get("needs_review"))
    req: dict[str, Any] = {
        "service_code": taxonomy.service_code(label),
        "service_name": taxonomy.service_name(label),
        "description": caller_words(doc),
        "status": "open",
        "attribute": {
            "call_id": str(doc["call_id"]),
            "request_type_confidence": f"{float(rt.get('confidence') or 0.0):.3f}",
            "address_matched": "true" if matched else "false",
            "needs_review": "true" if review else "false",
        },
    }
    if jurisdiction_id:
        req["jurisdiction_id"] = jurisdiction_id
    if t is not None:
        req["agency_responsible"] = t.department
    if address:
        req["address_string"] = address
    when = requested_datetime(doc)
    if when:
        req["requested_datetime"] = when
    return req


def validate_request(req: Mapping[str, Any]) -> list[str]:
    """What makes ``req`` not a GeoReport v2 service request (empty when it is one)."""
    problems = [f"unknown field '{k}'" for k in req if k not in GEOREPORT_FIELDS]
    if not req.get("service_code"):
        problems.append("service_code is required")
    for k in STRING_FIELDS & req.keys():
        if req[k] is not None and not isinstance(req[k], str):
            problems.append(f"{k} must be a string")
    for k in ("lat", "long"):
        if k in req and not isinstance(req[k], (int, float)):
            problems.append(f"{k} must be a number")
    if not any(req.get(k) not in (None, "") for k in ("address_string", "address_id", "lat")):
        problems.append("no location: address_string, address_id or lat/long is required")
    if ("lat" in req) != ("long" in req):
        problems.append("lat and long go together")
    attr = req.get("attribute", {})
    if not isinstance(attr, dict) or not all(
        isinstance(v, str) or (isinstance(v, list) and all(isinstance(x, str) for x in v)) for v in attr.values()
    ):
        problems.append("attribute must map codes to strings or lists of strings")
    for k in DATETIME_FIELDS:
        if k in req:
            try:
                if dt.datetime.fromisoformat(req[k]).tzinfo is None:
                    problems.append(f"{k} needs a time zone (W3C ISO 8601)")
            except (TypeError, ValueError):
                problems.append(f"{k} is not an ISO 8601 date-time")
    if "status" in req and req["status"] not in STATUSES:
        problems.append(f"status must be one of {', '.join(STATUSES)}")
    return problems


def export_open311(
    results: Path, taxonomy: Taxonomy, jurisdiction_id: str | None = None, every_call: bool = False
) -> tuple[list[dict[str, Any]], list[str]]:
    """(service requests, notes). Calls whose request type leaves no ticket (information, status follow-up) are
    left out unless ``every_call``; emergencies are left out too (they go to 911, not to a 311 ticket)."""
    out: list[dict[str, Any]] = []
    notes: list[str] = []
    for path, doc in call_documents(results):
        label = (doc.get("request_type") or {}).get("label")
        if not every_call and (not taxonomy.needs_ticket(label) or (doc.get("emergency") or {}).get("flag")):
            notes.append(f"{path.name}: {label or 'no request type'}: no service request")
            continue
        req = service_request(doc, taxonomy, jurisdiction_id)
        for p in validate_request(req):
            notes.append(f"{path.name}: {p}")
        out.append(req)
    return out, notes
