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

import numpy as np

from qa.nlp.language import fold_accents
from qa.nlp.numbers import normalize_numbers
from qa.scoring import language as L
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
    if not text.isascii():  # "dirección" and "direccion" are one word (accents come and go in recognition)
        text = fold_accents(text)
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
    confidence: float = 0.9


class _SemanticBank:
    """Every example (and counter-example) sentence of every semantic rule seen so far, embedded once with the
    sentence encoder. A call's sentence vectors are multiplied with the whole bank once (one matrix product per call
    and bank generation); each rule reads its own columns."""

    def __init__(self) -> None:
        self.texts: list[str] = []
        self.index: dict[str, int] = {}
        self.vectors: np.ndarray | None = None
        self.encoder_name: str | None = None
        self.generation = 0
        self._columns: dict[tuple[str, ...], np.ndarray] = {}

    def columns(self, texts: tuple[str, ...]) -> np.ndarray:
        cols = self._columns.get(texts)
        if cols is None:
            new = [t for t in dict.fromkeys(texts) if t not in self.index]
            if new:
                from qa.nlp.static_encoder import load_encoder

                enc = load_encoder()
                vecs = enc.encode(new)
                for t in new:
                    self.index[t] = len(self.texts)
                    self.texts.append(t)
                self.vectors = vecs if self.vectors is None else np.vstack([self.vectors, vecs])
                self.encoder_name = enc.name
                self.generation += 1
            cols = self._columns[texts] = np.array([self.index[t] for t in texts], dtype=np.intp)
        return cols


BANK = _SemanticBank()


@dataclass(frozen=True, slots=True)
class _Sentences:
    """A call's sentences as arrays (what semantic rules filter on), and their vectors."""

    encoder: str
    turn: np.ndarray
    first: np.ndarray
    last: np.ndarray
    start: np.ndarray
    end: np.ndarray
    words: np.ndarray
    role: np.ndarray
    vectors: np.ndarray


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
        self._sentences: _Sentences | None | bool = False  # False: not read yet
        self._sims: np.ndarray | None = None
        self._sims_generation = -1
        self.card_languages: tuple[str, ...] = ("en",)  # what the scorecard's words are written in

    def sentences(self) -> _Sentences | None:
        """The call's sentence block (None when the analysis has none: made before semantic scoring existed)."""
        if self._sentences is False:
            data = self.doc.get("sentences")
            if not data:
                self._sentences = None
            else:
                from qa.nlp.sentences import unpack_vectors

                spans = np.asarray(data["spans"], dtype=np.intp).reshape(-1, 3)
                turns = self.doc.get("turns", [])
                starts = [float(turns[t]["words"][a]["start"]) for t, a, _ in spans]
                ends = [float(turns[t]["words"][b]["end"]) for t, _, b in spans]
                self._sentences = _Sentences(
                    str(data["encoder"]),
                    spans[:, 0],
                    spans[:, 1],
                    spans[:, 2],
                    np.asarray(starts),
                    np.asarray(ends),
                    spans[:, 2] - spans[:, 1] + 1,
                    np.asarray([self.turns[t].role for t in spans[:, 0]], dtype=object),
                    unpack_vectors(data),
                )
        return self._sentences  # type: ignore[return-value]

    def similarities(self) -> np.ndarray:
        """Cosine similarity of every sentence with every example in the bank (computed once per bank state)."""
        if self._sims_generation != BANK.generation:
            sent = self.sentences()
            assert sent is not None and BANK.vectors is not None
            self._sims = sent.vectors @ BANK.vectors.T
            self._sims_generation = BANK.generation
        return self._sims  # type: ignore[return-value]

    def sentence_text(self, i: int) -> str:
        sent = self.sentences()
        assert sent is not None
        words = self.doc["turns"][int(sent.turn[i])]["words"][int(sent.first[i]) : int(sent.last[i]) + 1]
        return " ".join(w["word"] for w in words)

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
    phrases = [p for p in (phrase_tokens(x) for x in rule.all_phrases()) if p]
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


ABSENT = 0.8  # a "no" because a phrase or an entity is absent: recognition may have missed the words


def _semantic(view: CallView, rule: S.SemanticRule, name: str) -> _Result:
    sent = view.sentences()
    if sent is None or len(sent.turn) == 0:
        if not view.turns:
            return _Result(False, (), ABSENT)
        note = "no sentence embeddings in this analysis: re-run `qa process` (or import its JSON) to score this item"
        return _Result(None, (Evidence(None, None, None, None, note, name),))
    pos_cols = BANK.columns(tuple(rule.examples))
    neg_cols = BANK.columns(tuple(rule.counter_examples)) if rule.counter_examples else None
    if sent.encoder != BANK.encoder_name:
        note = f"sentences embedded with {sent.encoder}, the scorecard with {BANK.encoder_name}: re-run `qa process`"
        return _Result(None, (Evidence(None, None, None, None, note, name),))
    sims = view.similarities()
    mask = sent.words >= rule.min_words
    if rule.role != "any":
        mask &= sent.role == rule.role
    if rule.within_s:
        mask &= sent.start <= rule.within_s
    if rule.last_s:
        mask &= sent.end >= view.duration - rule.last_s
    if not mask.any():
        return _Result(False, (), ABSENT)
    pos = sims[:, pos_cols]
    best_example = pos.argmax(axis=1)
    score = pos.max(axis=1)
    if neg_cols is not None:
        score = np.where(score > sims[:, neg_cols].max(axis=1), score, -1.0)
    score = np.where(mask, score, -1.0)
    i = int(score.argmax())
    best = float(score[i])
    if best < 0:
        return _Result(False, (), 0.9)
    t = int(sent.turn[i])
    ev = Evidence(
        t,
        view.turns[t].role,
        float(sent.start[i]),
        float(sent.end[i]),
        view.sentence_text(i),
        name,
        round(best, 3),
        rule.examples[int(best_example[i])],
    )
    if best >= rule.threshold:
        return _Result(True, (ev,), 0.9)
    if best >= rule.threshold - rule.review_band:
        return _Result(None, (ev,), 0.5)
    # a near miss is a less certain "no" than a sentence nowhere near any example
    return _Result(False, (ev,), 0.95 if best < rule.threshold - 2 * rule.review_band else 0.75)


def evaluate_rule(rule, view: CallView, name: str) -> _Result:
    r = _evaluate_rule(rule, view, name)
    missing = L.gap(rule, view)  # the call speaks a language this rule cannot read: absence is no proof
    if missing and not L.found_something(rule, r.passed):
        return _Result(None, (*r.evidence, L.note(missing, name)), 0.5)
    return r


def _evaluate_rule(rule, view: CallView, name: str) -> _Result:
    if isinstance(rule, S.PhraseRule):
        hits = _phrase_hits(view, rule, name)
        return _Result(bool(hits), tuple(hits), 0.9 if hits else ABSENT)
    if isinstance(rule, S.ForbiddenRule):
        hits = _phrase_hits(view, rule, name)
        return _Result(not hits, tuple(hits), 0.95 if hits else ABSENT)
    if isinstance(rule, S.SemanticRule):
        return _semantic(view, rule, name)
    if isinstance(rule, S.MetricRule):
        value = view.get(f"metrics.{rule.metric}")
        if value is None:
            return _Result(None)
        ok = OPS[rule.op](float(value), rule.value)
        return _Result(ok, (Evidence(None, None, None, None, f"{rule.metric} = {value}", name),), 0.95)
    if isinstance(rule, S.FieldRule):
        value = view.get(rule.field)
        if value is None:
            return _Result(None)
        ok = value in rule.value if rule.op == "in" else OPS[rule.op](value, rule.value)
        return _Result(bool(ok), (Evidence(None, None, None, None, f"{rule.field} = {value}", name),), 0.95)
    if isinstance(rule, S.EntityRule):
        roles = {t.index: t.role for t in view.turns}
        hits = [
            Evidence(e["turn"], roles.get(e["turn"]), e["start"], e["end"], f"{e['type']}: {e['value']}", name)
            for e in view.doc.get("entities", [])
            if e["type"] in rule.types
            and (rule.role == "any" or roles.get(e["turn"]) == rule.role)
            and (rule.within_s is None or e["start"] <= rule.within_s)
        ]
        return _Result(bool(hits), tuple(hits), 0.9 if hits else ABSENT)
    if isinstance(rule, S.OrderRule):
        a, b = evaluate_rule(rule.first, view, name + ".first"), evaluate_rule(rule.then, view, name + ".then")
        if a.passed is None or b.passed is None:
            return _Result(None, a.evidence + b.evidence)
        starts_a = [e.start for e in a.evidence if e.start is not None]
        starts_b = [e.start for e in b.evidence if e.start is not None]
        ok = bool(a.passed and b.passed and starts_a and starts_b and min(starts_a) < max(starts_b))
        return _Result(ok, a.evidence + b.evidence, min(a.confidence, b.confidence))
    if isinstance(rule, (S.AllRule, S.AnyRule)):
        parts = [evaluate_rule(r, view, f"{name}[{i}]") for i, r in enumerate(rule.rules)]
        values = [p.passed for p in parts]
        decisive = False if isinstance(rule, S.AllRule) else True  # the value that settles it on its own
        if decisive in values:
            ok: bool | None = decisive
            chosen = [p for p in parts if p.passed is decisive]
            conf = max(p.confidence for p in chosen)
        elif None in values:
            ok, chosen, conf = None, [p for p in parts if p.passed is None], 0.5
        else:
            ok, chosen = not decisive, parts
            conf = min(p.confidence for p in parts)
        # evidence: what decided the answer first, then the rest
        rest = [p for p in parts if all(p is not c for c in chosen)]
        evidence = tuple(e for p in (*chosen, *rest) for e in p.evidence)
        return _Result(ok, evidence, conf)
    if isinstance(rule, S.NotRule):
        inner = evaluate_rule(rule.rule, view, name + ".not")
        return _Result(None if inner.passed is None else not inner.passed, inner.evidence, inner.confidence)
    return _Result(None, (), 0.0)  # manual


def _label_check(view: CallView, holds) -> bool | None:
    """A request-type condition: certain when the classifier is, else uncertain if a likely alternative label
    (probability >= ``UNSURE_ALTERNATIVE``) would change the outcome."""
    rt = view.get("request_type") or {}
    if L.request_type_unreadable(view.doc):
        return None
    verdict = bool(holds(rt.get("label")))
    if rt.get("needs_review"):
        for label, p in rt.get("alternatives") or ():
            if p >= UNSURE_ALTERNATIVE and bool(holds(label)) != verdict:
                return None
    return verdict


UNSURE_ALTERNATIVE = 0.2


def _flag_check(view: CallView, flag: str, review: str, want: bool) -> bool | None:
    """A yes/no fact from a classifier that may say it is unsure (``review`` true): uncertain then."""
    value = view.get(flag)
    if value is None:
        return None
    if view.get(review):
        return None
    return bool(value) == want


def applies(cond: S.Condition | None, view: CallView) -> bool | None:
    """True, False, or None when it depends on a classifier output that is itself uncertain."""
    if cond is None:
        return True
    checks: list[bool | None] = []
    if cond.request_type_in is not None:
        checks.append(_label_check(view, lambda lab: lab in cond.request_type_in))
    if cond.request_type_not_in is not None:
        checks.append(_label_check(view, lambda lab: lab not in cond.request_type_not_in))
    if cond.emergency is not None:
        checks.append(_flag_check(view, "emergency.flag", "emergency.needs_review", cond.emergency))
    if cond.hold is not None:
        checks.append(bool(view.get("metrics.holds")) == cond.hold)
    if cond.caller_negative is not None:
        checks.append(bool(view.get("sentiment.caller.was_negative")) == cond.caller_negative)
    if cond.caller_upset is not None:
        checks.append(_flag_check(view, "sentiment.caller.upset", "sentiment.caller.upset_review", cond.caller_upset))
    if False in checks:
        return False
    return None if None in checks else True


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
    view.card_languages = tuple(card.languages)
    items: list[ItemResult] = []
    sections: list[SectionResult] = []
    critical_failed: list[str] = []
    weighted, weights = 0.0, 0.0
    for sec in card.sections:
        got, possible, sec_critical = 0.0, 0.0, False
        for item in sec.items:
            applicable = applies(item.applies_if, view)
            if applicable is False:
                items.append(ItemResult(item.id, sec.id, "na", 0.0, 0.0, 1.0, False, ()))
                continue
            r = evaluate_rule(item.rule, view, item.rule.type)
            if r.passed is None or (applicable is None and not r.passed):
                # Undecidable, or a "no" on an item that may not apply at all: a person decides, never a guess.
                items.append(ItemResult(item.id, sec.id, None, 0.0, 0.0, 0.0, True, r.evidence))
                continue
            answer = "yes" if r.passed else "no"
            conf = min(r.confidence, 0.8) if applicable is None else r.confidence
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
