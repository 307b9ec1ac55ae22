"""Stage ``city.addresses``: the ADDRESS, CROSS_STREETS and STREET entities of a call matched to the city's street
list, and the call's location chosen from them.

An address entity that matches gets the canonical street name(s) in ``normalized`` and the score; one whose best
candidate scores below the threshold gets ``needs_review`` (a person hears the name), and an intersection keeps the one
street that matched in ``normalized``. The house number stays in the entity's ``value`` only: it is personal data and
is redacted like before. A PLACE entity (a park, a facility) that matches the optional place list gets the listed
name too.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace

from qa.city.gazetteer import SUFFIXES, Gazetteer
from qa.nlp.entities import STREET
from qa.types import Entity, Location, Turn

VERSION = "1"
ADDRESS_TYPES = ("ADDRESS", "CROSS_STREETS", "STREET")
_STREET = re.compile(STREET)
_HOUSE = re.compile(r"^(\d{1,6})\s+(.*)$")


def street_parts(entity: Entity) -> tuple[str | None, list[str]]:
    """(house number, street names said) of an address entity."""
    value = entity.value
    house = None
    if entity.type == "ADDRESS":
        m = _HOUSE.match(value)
        if m:
            house, value = m.group(1), m.group(2)
    if entity.type == "CROSS_STREETS":
        parts = [m.group(0) for m in _STREET.finditer(value)]
        return house, parts or [value]
    return house, [value]


def listed_streets(
    turns: Sequence[Turn], entities: Sequence[Entity], gazetteer: Gazetteer, min_score: float
) -> list[Entity]:
    """Streets of the list named where the entity rules saw none: in lower case ("16 verdugo roads"), as recognition
    sometimes writes them. A name must end in a street suffix and match the list; a number before it makes it an
    ADDRESS."""
    taken = {(e.turn, w) for e in entities for w in range(e.first_word, e.last_word + 1)}
    out = []
    for ti, turn in enumerate(turns):
        toks = [re.sub(r"[^\w'-]", "", w.word) for w in turn.words]
        for i, t in enumerate(toks):
            if i == 0 or t.lower() not in SUFFIXES or (ti, i) in taken:
                continue
            best = None
            for j in range(max(0, i - 3), i):
                if any((ti, k) in taken for k in range(j, i)) or not toks[j] or toks[j].isdigit():
                    continue
                m = gazetteer.match(" ".join(toks[j : i + 1]), min_score)
                if m.street and (best is None or m.score > best[1]):
                    best = (j, m.score)
            if best is None:
                continue
            j = best[0]
            number = j > 0 and toks[j - 1].isdigit() and (ti, j - 1) not in taken
            first = j - 1 if number else j
            value = " ".join(toks[first : i + 1])
            w0, w1 = turn.words[first], turn.words[i]
            out.append(Entity("ADDRESS" if number else "STREET", value, ti, first, i, w0.start, w1.end))
            taken.update((ti, k) for k in range(first, i + 1))
    return out


def match_addresses(
    entities: Sequence[Entity], gazetteer: Gazetteer, min_score: float, turns: Sequence[Turn] = ()
) -> tuple[tuple[Entity, ...], Location]:
    """The entities with addresses matched to the list (and, given the turns, the listed streets the rules missed),
    and the call's location."""
    if turns:
        extra = listed_streets(turns, entities, gazetteer, min_score)
        entities = sorted([*entities, *extra], key=lambda e: (e.turn, e.first_word))
    out: list[Entity] = []
    for e in entities:
        if e.type == "PLACE" and gazetteer.places:
            m = gazetteer.match(e.value, min_score, places=True)
            out.append(replace(e, normalized=m.street, score=m.score) if m.street else e)
            continue  # a place the list does not know is not an error: spaCy's PLACE is broad (cities, countries)
        if e.type not in ADDRESS_TYPES:
            out.append(e)
            continue
        _, parts = street_parts(e)
        matches = [gazetteer.match(p, min_score) for p in parts]
        score = min(m.score for m in matches)
        known = " & ".join(m.street for m in matches if m.street) or None
        # an intersection with one street known keeps that one, and still needs a person for the other
        out.append(replace(e, normalized=known, score=score, needs_review=not all(m.street for m in matches)))
    return tuple(out), choose_location(out, gazetteer.digest)


_RANK = {"ADDRESS": 0, "CROSS_STREETS": 1, "STREET": 2}


def choose_location(entities: Sequence[Entity], digest: str) -> Location:
    """The most specific matched address (a house number beats an intersection beats a street name; then the
    score; then the later mention, which is usually the agent's read-back); else the best unmatched one, for
    review."""
    cands = [(i, e) for i, e in enumerate(entities) if e.type in ADDRESS_TYPES]
    if not cands:
        return Location(False, None, None, False, None, False, None, digest)
    matched = [(i, e) for i, e in cands if e.normalized and not e.needs_review]
    partly = [(i, e) for i, e in cands if e.normalized]
    pool = matched or partly or cands
    i, e = min(pool, key=lambda ie: (_RANK[ie[1].type], -(ie[1].score or 0.0), -ie[0]))
    house, _ = street_parts(e)
    streets = (e.normalized or "").split(" & ") if e.normalized else [None]
    valid = bool(e.normalized) and not e.needs_review
    return Location(
        valid=valid,
        street=streets[0],
        cross_street=streets[1] if len(streets) > 1 else None,
        house_number=house is not None,
        score=e.score,
        needs_review=not valid,
        entity=i,
        gazetteer=digest,
    )
