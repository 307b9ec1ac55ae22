"""Evaluate a call against a scorecard: every item gets an answer, points, a confidence and the evidence behind it.

Works on the stored call document (the per-call JSON), so changing a scorecard re-scores calls without running any
model again. Phrase matching normalises case, punctuation and numbers ("three one one", "3 -1 -1" and "311" are the
same) and lets a word of five or more letters be off by one letter (recognition errors).
"""

from __future__ import annotations

import functools
import operator
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from qa.nlp.numbers import normalize_numbers
from qa.scoring import schema as S
from qa.types import Evaluation, Evidence, ItemResult, SectionResult

OPS = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge, "==": operator.eq, "!=": operator.ne}


_NUMBER_WORD = re.compile(
    r"\b(?:zero|oh|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|\w+teen|twenty|thirty|forty|fifty"
    r"|sixty|seventy|eighty|ninety|hundred)\b"
)
_TOKEN = re.compile(r"[a-z0-9']+")
_DIGIT_DASH = re.compile(r"(\d)\s+-(?=\d)")


def norm_tokens(text: str) -> list[str]:
    text = _DIGIT_DASH.sub(r"\1", text).lower().replace("-", " ")  # Whisper's "3 -1 -1" is 311
    if _NUMBER_WORD.search(text):  # most turns hold no spoken number: skip the normaliser
        text = normalize_numbers(text)
    return _TOKEN.findall(text)


@functools.lru_cache(maxsize=4096)
def phrase_tokens(phrase: str) -> tuple[str, ...]:
    toks = tuple(norm_tokens(phrase))
    LEXICON.add(toks)
    return toks


def _close(a: str, b: str) -> bool:
    if a == b:
        return True
    if min(len(a), len(b)) < 5 or abs(len(a) - len(b)) > 1:
        return False
    # one substitution, insertion or deletion
    if len(a) == len(b):
        return sum(x != y for x, y in zip(a, b, strict=True)) == 1
    short, long_ = (a, b) if len(a) < len(b) else (b, a)
    return any(long_[:i] + long_[i + 1 :] == short for i in range(len(long_)))


def _deletions(w: str) -> tuple[str, ...]:
    return tuple(w[:i] + w[i + 1 :] for i in range(len(w)))


class _Lexicon:
    """Every word of every scorecard phrase, and for any spoken token the phrase words it matches (itself, or one
    letter off for words of five or more letters). Fuzzy candidates come from a symmetric-deletion map (two words
    within one edit share a one-letter deletion), so a token costs a few dictionary lookups, and its answer is cached
    (spoken vocabulary repeats across calls)."""

    MAX_CACHE = 500_000

    def __init__(self) -> None:
        self.words: set[str] = set()
        self.by_key: dict[str, set[str]] = {}
        self.cache: dict[str, frozenset[str]] = {}
        self.generation = 0

    def add(self, words: tuple[str, ...]) -> None:
        new = [w for w in words if w not in self.words]
        if not new:
            return
        for w in new:
            self.words.add(w)
            if len(w) >= 5:
                for key in (w, *_deletions(w)):
                    self.by_key.setdefault(key, set()).add(w)
        self.cache.clear()
        self.generation += 1

    def matches(self, token: str) -> frozenset[str]:
        hit = self.cache.get(token)
        if hit is not None:
            return hit
        out = {token} if token in self.words else set()
        if len(token) >= 5:
            by_key = self.by_key
            for key in (token, *_deletions(token)):
                for w in by_key.get(key, ()):
                    if w not in out and _close(token, w):
                        out.add(w)
        if len(self.cache) >= self.MAX_CACHE:
            self.cache.clear()
        hit = self.cache[token] = frozenset(out)
        return hit


LEXICON = _Lexicon()


@dataclass(frozen=True, slots=True)
class _Turn:
    index: int
    role: str
    start: float
    end: float
    tokens: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class _Result:
    passed: bool | None  # None: cannot be decided automatically
    evidence: tuple[Evidence, ...] = ()


class CallView:
    """What rules read from a call document, prepared once per call: normalised tokens per turn, and (on the first
    phrase rule) an inverted index from scorecard phrase words to where the call says them."""

    def __init__(self, doc: Mapping[str, Any]):
        self.doc = doc
        self.duration = float(doc.get("audio", {}).get("duration_s", 0.0))
        self.turns = tuple(
            _Turn(i, t.get("role", "unknown"), float(t["start"]), float(t["end"]), tuple(norm_tokens(t["text"])))
            for i, t in enumerate(doc.get("turns", []))
        )
        self._generation = -1
        self.postings: dict[str, list[tuple[int, int]]] = {}
        self.matched: list[list[frozenset[str]]] = []

    def index(self) -> CallView:
        if self._generation != LEXICON.generation:
            postings: dict[str, list[tuple[int, int]]] = {}
            matched = []
            matches = LEXICON.matches
            for t in self.turns:
                row = [matches(tok) for tok in t.tokens]
                for pos, ws in enumerate(row):
                    for w in ws:
                        postings.setdefault(w, []).append((t.index, pos))
                matched.append(row)
            self.postings, self.matched, self._generation = postings, matched, LEXICON.generation
        return self

    def get(self, dotted: str) -> Any:
        node: Any = self.doc
        for part in dotted.split("."):
            if isinstance(node, Mapping) and part in node:
                node = node[part]
            else:
                return None
        return node


def _find_all(view: CallView, phrase: tuple[str, ...]) -> dict[int, int]:
    """Turn index -> position of ``phrase`` in that turn (an exact occurrence if there is one, else the first
    fuzzy one)."""
    out: dict[int, int] = {}
    exact: set[int] = set()
    n = len(phrase)
    for ti, pos in view.postings.get(phrase[0], ()):
        if ti in exact:
            continue
        row = view.matched[ti]
        if pos + n > len(row) or not all(phrase[k] in row[pos + k] for k in range(1, n)):
            continue
        if view.turns[ti].tokens[pos : pos + n] == phrase:
            out[ti] = pos
            exact.add(ti)
        else:
            out.setdefault(ti, pos)
    return out


def _phrase_hits(view: CallView, rule, rule_name: str) -> list[Evidence]:
    phrases = [p for p in (phrase_tokens(x) for x in rule.phrases) if p]
    view.index()
    within, last = getattr(rule, "within_s", None), getattr(rule, "last_s", None)
    found: dict[int, int] = {}  # turn -> position of the first phrase (in the rule's order) said in it
    lengths: dict[int, int] = {}
    for p in phrases:
        for ti, pos in _find_all(view, p).items():
            if ti in found:
                continue
            t = view.turns[ti]
            if (rule.role != "any" and t.role != rule.role) or (within and t.start > within):
                continue
            if last and t.end < view.duration - last:
                continue
            found[ti], lengths[ti] = pos, len(p)
    hits = []
    for ti in sorted(found):
        t, i = view.turns[ti], found[ti]
        quote = " ".join(t.tokens[max(0, i - 2) : i + lengths[ti] + 2])
        hits.append(Evidence(t.index, t.role, t.start, t.end, quote, rule_name))
    return hits


def evaluate_rule(rule, view: CallView, name: str) -> _Result:
    if isinstance(rule, S.PhraseRule):
        hits = _phrase_hits(view, rule, name)
        return _Result(bool(hits), tuple(hits))
    if isinstance(rule, S.ForbiddenRule):
        hits = _phrase_hits(view, rule, name)
        return _Result(not hits, tuple(hits))
    if isinstance(rule, S.MetricRule):
        value = view.get(f"metrics.{rule.metric}")
        if value is None:
            return _Result(None)
        ok = OPS[rule.op](float(value), rule.value)
        return _Result(ok, (Evidence(None, None, None, None, f"{rule.metric} = {value}", name),))
    if isinstance(rule, S.FieldRule):
        value = view.get(rule.field)
        if value is None:
            return _Result(None)
        ok = value in rule.value if rule.op == "in" else OPS[rule.op](value, rule.value)
        return _Result(bool(ok), (Evidence(None, None, None, None, f"{rule.field} = {value}", name),))
    if isinstance(rule, S.EntityRule):
        roles = {t.index: t.role for t in view.turns}
        hits = [
            Evidence(e["turn"], roles.get(e["turn"]), e["start"], e["end"], f"{e['type']}: {e['value']}", name)
            for e in view.doc.get("entities", [])
            if e["type"] in rule.types and (rule.role == "any" or roles.get(e["turn"]) == rule.role)
        ]
        return _Result(bool(hits), tuple(hits))
    if isinstance(rule, S.OrderRule):
        a, b = evaluate_rule(rule.first, view, name + ".first"), evaluate_rule(rule.then, view, name + ".then")
        if a.passed is None or b.passed is None:
            return _Result(None, a.evidence + b.evidence)
        starts_a = [e.start for e in a.evidence if e.start is not None]
        starts_b = [e.start for e in b.evidence if e.start is not None]
        ok = bool(a.passed and b.passed and starts_a and starts_b and min(starts_a) < max(starts_b))
        return _Result(ok, a.evidence + b.evidence)
    if isinstance(rule, (S.AllRule, S.AnyRule)):
        parts = [evaluate_rule(r, view, f"{name}[{i}]") for i, r in enumerate(rule.rules)]
        evidence = tuple(e for p in parts for e in p.evidence)
        values = [p.passed for p in parts]
        if isinstance(rule, S.AllRule):
            ok = False if False in values else (None if None in values else True)
        else:
            ok = True if True in values else (None if None in values else False)
        return _Result(ok, evidence)
    if isinstance(rule, S.NotRule):
        inner = evaluate_rule(rule.rule, view, name + ".not")
        return _Result(None if inner.passed is None else not inner.passed, inner.evidence)
    return _Result(None)  # manual


def applies(cond: S.Condition | None, view: CallView) -> bool:
    if cond is None:
        return True
    label = view.get("request_type.label")
    checks = [
        cond.request_type_in is None or label in cond.request_type_in,
        cond.request_type_not_in is None or label not in cond.request_type_not_in,
        cond.emergency is None or bool(view.get("emergency.flag")) == cond.emergency,
        cond.hold is None or bool(view.get("metrics.holds")) == cond.hold,
        cond.caller_negative is None or bool(view.get("sentiment.caller.was_negative")) == cond.caller_negative,
    ]
    return all(checks)


def card_applies(card: S.Scorecard, doc: Mapping[str, Any]) -> bool:
    a = card.applies_to
    meta = doc.get("metadata") or {}
    label = (doc.get("request_type") or {}).get("label")
    return (
        (a.request_types is None or label in a.request_types)
        and (a.queues is None or meta.get("queue") in a.queues)
        and (a.directions is None or meta.get("direction") in a.directions)
    )


def evaluate_call(doc: Mapping[str, Any], card: S.Scorecard, card_hash: str) -> Evaluation:
    view = CallView(doc)
    items: list[ItemResult] = []
    sections: list[SectionResult] = []
    critical_failed: list[str] = []
    weighted, weights = 0.0, 0.0
    for sec in card.sections:
        got, possible, sec_critical = 0.0, 0.0, False
        for item in sec.items:
            if not applies(item.applies_if, view):
                items.append(ItemResult(item.id, sec.id, "na", 0.0, 0.0, 1.0, False, ()))
                continue
            r = evaluate_rule(item.rule, view, item.rule.type)
            if r.passed is None:
                items.append(ItemResult(item.id, sec.id, None, 0.0, 0.0, 0.0, True, r.evidence))
                continue
            answer = "yes" if r.passed else "no"
            # A missing phrase may be a recognition miss: "no" from absence is less certain than "yes" from a hit.
            conf = 0.9 if r.passed else (0.7 if _absence_based(item.rule) else 0.95)
            pts = item.points if r.passed else 0.0
            items.append(ItemResult(item.id, sec.id, answer, pts, item.points, conf, conf < 0.75, r.evidence))
            got, possible = got + pts, possible + item.points
            if item.critical and not r.passed:
                critical_failed.append(item.id)
                sec_critical = True
        if sec_critical and card.critical_fails == "section":
            got = 0.0
        sections.append(SectionResult(sec.id, got, possible, (100.0 * got / possible) if possible else None))
        if possible:
            weighted += sec.weight * got / possible
            weights += sec.weight
    score = sum(s.score for s in sections)
    max_score = sum(s.max_score for s in sections)
    percent = 100.0 * weighted / weights if weights else None
    passed = (
        percent is not None and percent >= card.pass_percent and not (critical_failed and card.critical_fails == "call")
    )
    return Evaluation(
        scorecard_id=card.id,
        scorecard_version=card.version,
        scorecard_hash=card_hash,
        score=score,
        max_score=max_score,
        percent=percent,
        passed=passed,
        critical_failed=tuple(critical_failed),
        sections=tuple(sections),
        items=tuple(items),
    )


def _absence_based(rule) -> bool:
    return isinstance(rule, (S.PhraseRule, S.EntityRule, S.OrderRule, S.AllRule, S.AnyRule))
