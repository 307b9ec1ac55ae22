"""Evaluate a call against a scorecard: every item gets an answer, points, a confidence and the evidence behind it.

Works on the stored call document (the per-call JSON), so changing a scorecard re-scores calls without running any
model again. Phrase matching normalises case, punctuation and numbers ("three one one", "3 -1 -1" and "311" are the
same) and lets a word of five or more letters be off by one letter (recognition errors).
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from qa.nlp.tokens import lines_of_doc, norm_tokens
from qa.objcache import PerObject
from qa.scoring import language as L
from qa.scoring import schema as S
from qa.scoring.totals import Scored, TotalsRules, totals
from qa.types import Evaluation, Evidence, ItemResult

OPS = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge, "==": operator.eq, "!=": operator.ne}




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
class _Result:
    passed: bool | None  # None: cannot be decided automatically
    evidence: tuple[Evidence, ...] = ()
    confidence: float = 0.9
    na: bool = False  # the rule itself found the item does not apply (an ``ask`` rule with ``none: na``)


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
    role_code: np.ndarray  # ROLE_CODE of each sentence's turn
    vectors: np.ndarray


class CallView:
    """What rules read from a call document, prepared once per call: normalised tokens per turn, and (on the first
    phrase rule) an inverted index from scorecard phrase words to where the call says them."""

    def __init__(self, doc: Mapping[str, Any]):
        self.doc = doc
        self.duration = float(doc.get("audio", {}).get("duration_s", 0.0))
        self.turns = lines_of_doc(doc.get("turns", []))
        self._generation = -1
        self.postings: dict[str, list[tuple[int, int]]] = {}
        self.matched: list[list[frozenset[str]]] = []
        self._sentences: _Sentences | None | bool = False  # False: not read yet
        self._sims: np.ndarray | None = None
        self._sims_generation = -1
        # (layout, best per rule, row per rule, eligible per rule, example per rule)
        self._semantic: tuple[_SemanticLayout, list[float], list[int], list[bool], list[int]] | None = None
        self.layout: _SemanticLayout | None = None  # the scorecard's semantic rules (set by evaluate_call)
        self.card_languages: tuple[str, ...] = ("en",)  # what the scorecard's words are written in
        self.spoken_by_role: dict[str, frozenset[str]] = {}  # languages said per role (qa/scoring/language.py)

    def sentences(self) -> _Sentences | None:
        """The call's sentence block (None when the analysis has none: made before semantic scoring existed)."""
        if self._sentences is False:
            data = self.doc.get("sentences")
            if not data:
                self._sentences = None
            else:
                from qa.nlp.sentences import unpack_times, unpack_vectors

                spans = np.asarray(data["spans"], dtype=np.intp).reshape(-1, 3)
                starts, ends = unpack_times(data, self.doc.get("turns", []))
                roles = np.asarray([ROLE_CODE.get(t.role, 2) for t in self.turns], dtype=np.int8)
                self._sentences = _Sentences(
                    str(data["encoder"]),
                    spans[:, 0],
                    spans[:, 1],
                    spans[:, 2],
                    starts,
                    ends,
                    spans[:, 2] - spans[:, 1] + 1,
                    roles[spans[:, 0]] if len(roles) else np.zeros(len(spans), np.int8),
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
            matches, known = LEXICON.matches, LEXICON.cache
            for t in self.turns:
                row = [known[tok] if tok in known else matches(tok) for tok in t.tokens]
                ti = t.index
                for pos, ws in enumerate(row):
                    for w in ws:
                        hit = postings.get(w)
                        if hit is None:
                            postings[w] = [(ti, pos)]
                        else:
                            hit.append((ti, pos))
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
    n = len(phrase)
    if n == 1:  # every place the word is said: the exact one of a turn if there is one
        word = phrase[0]
        for ti, pos in view.postings.get(word, ()):
            if ti not in out or (view.turns[ti].tokens[pos] == word and view.turns[ti].tokens[out[ti]] != word):
                out[ti] = pos
        return out
    exact: set[int] = set()
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


class _PhrasePlan(NamedTuple):
    """A phrase or forbidden rule prepared once per rule object: each phrase as normalised tokens with the set of
    its words, and the rule's time limits."""

    phrases: tuple[tuple[tuple[str, ...], frozenset[str]], ...]
    within: float | None
    last: float | None
    by_first: dict[str, tuple[int, ...]]  # first word -> the phrases (indices, in the rule's order) it starts


_RULE_PHRASES: PerObject[_PhrasePlan] = PerObject()


def _rule_phrases(rule: S.PhraseRule | S.ForbiddenRule) -> _PhrasePlan:
    """A rule's phrases (translations included) as normalised tokens, once per rule object."""
    return _RULE_PHRASES.get(rule, lambda: _plan(rule))


def _plan(rule: S.PhraseRule | S.ForbiddenRule) -> _PhrasePlan:
    phrases = tuple(p for p in (phrase_tokens(x) for x in rule.all_phrases()) if p)
    by_first: dict[str, list[int]] = {}
    for i, p in enumerate(phrases):
        by_first.setdefault(p[0], []).append(i)
    return _PhrasePlan(
        tuple((p, frozenset(p)) for p in phrases),
        rule.within_s if isinstance(rule, S.PhraseRule) else None,
        rule.last_s if isinstance(rule, S.PhraseRule) else None,
        {w: tuple(ix) for w, ix in by_first.items()},
    )


def _phrase_hits(view: CallView, rule: S.PhraseRule | S.ForbiddenRule, rule_name: str) -> list[Evidence]:
    plan = _rule_phrases(rule)
    view.index()
    within, last = plan.within, plan.last
    found: dict[int, int] = {}  # turn -> position of the first phrase (in the rule's order) said in it
    lengths: dict[int, int] = {}
    postings = view.postings
    said = postings.keys()
    # the phrases whose first word the call says (most phrases, most calls: none), in the rule's order
    started = sorted(i for w in plan.by_first.keys() & said for i in plan.by_first[w])
    for p, words in (plan.phrases[i] for i in started):
        if not words <= said:  # another word of it is nowhere in the call
            continue
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


ROLE_CODE = {"agent": 0, "caller": 1, "unknown": 2}


class _SemanticLayout:
    """Every semantic rule of a scorecard, laid out so that one call is scored for all of them with a fixed number of
    array operations (not a few per rule): the bank columns of all examples side by side (one group per rule), the
    counter-examples likewise, and each rule's role, length and time limits as arrays."""

    def __init__(self, rules: list[S.SemanticRule]):
        self.rules = rules
        self.index = {id(r): k for k, r in enumerate(rules)}
        pos = [BANK.columns(tuple(r.examples)) for r in rules]
        self.cols = pos  # each rule's own example columns (to name the example a sentence matched)
        self.pos_cols = np.concatenate(pos) if pos else np.zeros(0, np.intp)
        self.pos_starts = np.cumsum([0] + [len(c) for c in pos[:-1]]).astype(np.intp)
        group = np.repeat(np.arange(len(pos)), [len(c) for c in pos]) if pos else np.zeros(0, np.intp)
        self.own = group[None, :] == np.arange(len(pos))[:, None]  # (rules, example columns): the rule's own
        with_neg = [k for k, r in enumerate(rules) if r.counter_examples]
        neg = [BANK.columns(tuple(rules[k].counter_examples)) for k in with_neg]
        self.neg_rules = np.asarray(with_neg, np.intp)
        self.neg_cols = np.concatenate(neg) if neg else np.zeros(0, np.intp)
        self.neg_starts = np.cumsum([0] + [len(c) for c in neg[:-1]]).astype(np.intp)
        self.role = np.array([ROLE_CODE.get(r.role, -1) for r in rules])
        self.min_words = np.array([r.min_words for r in rules])
        self.within = np.array([r.within_s or np.inf for r in rules])
        self.last = np.array([r.last_s or np.inf for r in rules])
        self.generation = BANK.generation


_LAYOUTS: dict[int, tuple[object, _SemanticLayout]] = {}


def _semantic_rules(rule: Any, out: list[S.SemanticRule]) -> list[S.SemanticRule]:
    if isinstance(rule, S.SemanticRule):
        out.append(rule)
    for child in (getattr(rule, "rules", None) or []) + [getattr(rule, a, None) for a in ("rule", "first", "then")]:
        if child is not None:
            _semantic_rules(child, out)
    return out


def _layout(owner: object, rules_of: Callable[[], list[S.SemanticRule]]) -> _SemanticLayout:
    """The layout of ``owner``'s semantic rules (a scorecard, or one rule), built once and kept while it lives."""
    hit = _LAYOUTS.get(id(owner))
    if hit is None or hit[0] is not owner or hit[1].generation != BANK.generation:
        layout = _SemanticLayout(rules_of())
        if layout.generation != BANK.generation:  # building it embedded new examples
            layout = _SemanticLayout(rules_of())
        if len(_LAYOUTS) > 64:
            _LAYOUTS.clear()
        hit = _LAYOUTS[id(owner)] = (owner, layout)
    return hit[1]


def _semantic_scores(
    view: CallView, layout: _SemanticLayout
) -> tuple[list[float], list[int], list[bool], list[int]]:
    """For every rule of the layout: the best qualifying sentence's similarity (-1 if none), its row, whether any
    sentence had the rule's role, length and time at all, and which of the rule's examples that sentence matched."""
    cached = view._semantic
    if cached is not None and cached[0] is layout:
        return cached[1], cached[2], cached[3], cached[4]
    sent = view.sentences()
    assert sent is not None
    sims = view.similarities()
    pos = np.maximum.reduceat(sims[:, layout.pos_cols], layout.pos_starts, axis=1)  # (sentences, rules)
    ok = (sent.words[:, None] >= layout.min_words) & (sent.start[:, None] <= layout.within)
    ok &= sent.end[:, None] >= view.duration - layout.last
    ok &= (layout.role == -1) | (sent.role_code[:, None] == layout.role)
    # a rule with no sentence of its role, length and time: its "no" is an absence
    eligible = np.asarray(ok.any(axis=0), dtype=bool)
    if len(layout.neg_rules):
        neg = np.maximum.reduceat(sims[:, layout.neg_cols], layout.neg_starts, axis=1)
        ok[:, layout.neg_rules] &= pos[:, layout.neg_rules] > neg
    score = np.where(ok, pos, -1.0)
    rows = score.argmax(axis=0)
    best = score[rows, np.arange(score.shape[1])]
    # the example each rule's best sentence matched: its row of similarities, other rules' examples masked out
    at = sims[rows][:, layout.pos_cols]
    at[~layout.own] = -np.inf
    example = at.argmax(axis=1) - layout.pos_starts
    out = (best.tolist(), rows.tolist(), eligible.tolist(), example.tolist())
    view._semantic = (layout, *out)
    return out


def _semantic(view: CallView, rule: S.SemanticRule, name: str) -> _Result:
    sent = view.sentences()
    if sent is None or len(sent.turn) == 0:
        if not view.turns:
            return _Result(False, (), ABSENT)
        note = "no sentence embeddings in this analysis: re-run `qa process` (or import its JSON) to score this item"
        return _Result(None, (Evidence(None, None, None, None, note, name),))
    layout = view.layout if view.layout is not None and id(rule) in view.layout.index else None
    if layout is None:
        layout = _layout(rule, lambda: [rule])
    if sent.encoder != BANK.encoder_name:
        note = f"sentences embedded with {sent.encoder}, the scorecard with {BANK.encoder_name}: re-run `qa process`"
        return _Result(None, (Evidence(None, None, None, None, note, name),))
    k = layout.index[id(rule)]
    best_all, rows, eligible, example = _semantic_scores(view, layout)
    best, i = best_all[k], rows[k]
    if best < 0:
        return _Result(False, (), 0.9 if eligible[k] else ABSENT)
    t = int(sent.turn[i])
    ev = Evidence(
        t,
        view.turns[t].role,
        float(sent.start[i]),
        float(sent.end[i]),
        view.sentence_text(i),
        name,
        round(best, 3),
        rule.examples[example[k]],
    )
    if best >= rule.threshold:
        return _Result(True, (ev,), 0.9)
    if best >= rule.threshold - rule.review_band:
        return _Result(None, (ev,), 0.5)
    # a near miss is a less certain "no" than a sentence nowhere near any example
    return _Result(False, (ev,), 0.95 if best < rule.threshold - 2 * rule.review_band else 0.75)


def _note(text: str, name: str) -> tuple[Evidence, ...]:
    return (Evidence(None, None, None, None, text, name),)


def _ask(view: CallView, rule: S.AskRule, name: str) -> _Result:
    """The LLM stage's answer (stored in the document by ``qa.llm.ask.attach_answers``), checked against the call:
    yes only with the quote found in ``rule.role``'s turns; the evidence is the call's words, never the model's."""
    from qa.llm.ask import find_answer, no_answer_reason
    from qa.llm.verify import find_quote

    turns = view.doc.get("redacted") or None
    if not turns:
        return _Result(None, _note("no transcript text in this analysis: nothing to ask about", name), 0.0)
    answer = find_answer(view.doc, rule.role, rule.question)
    if answer is None:
        return _Result(None, _note(no_answer_reason(), name), 0.0)
    if answer.get("quote") is None:
        if answer.get("truncated"):
            note = "the model answered NO but did not read the whole call (longer than llm.n_ctx)"
            return _Result(None, _note(note, name), 0.5)
        note = f"the LLM found no {rule.role} sentence that answers yes (it answered NO)"
        return _Result(False, _note(note, name), 0.8, na=rule.none == "na")
    match = find_quote(str(answer["quote"]), lines_of_doc(turns), rule.role)
    if match is None:  # an invented (or another role's) sentence: never shown, never counted
        note = f"the LLM's quote is not in the {rule.role}'s turns: not used as evidence"
        return _Result(None, _note(note, name), 0.3)
    ev = Evidence(match.turn, match.role, match.start, match.end, match.quote, name)
    return _Result(True, (ev,), 0.85 if match.exact else 0.8)


def evaluate_rule(rule: S.Rule, view: CallView, name: str) -> _Result:
    r = _evaluate_rule(rule, view, name)
    missing = L.gap(rule, view)  # the call speaks a language this rule cannot read: absence is no proof
    if missing and not L.found_something(rule, r.passed):
        return _Result(None, (*r.evidence, L.note(missing, name)), 0.5)
    return r


def _phrase(rule: S.PhraseRule, view: CallView, name: str) -> _Result:
    hits = _phrase_hits(view, rule, name)
    return _Result(bool(hits), tuple(hits), 0.9 if hits else ABSENT)


def _forbidden(rule: S.ForbiddenRule, view: CallView, name: str) -> _Result:
    hits = _phrase_hits(view, rule, name)
    return _Result(not hits, tuple(hits), 0.95 if hits else ABSENT)


def _metric(rule: S.MetricRule, view: CallView, name: str) -> _Result:
    value = view.get(f"metrics.{rule.metric}")
    if value is None:
        return _Result(None)
    ok = OPS[rule.op](float(value), rule.value)
    return _Result(ok, (Evidence(None, None, None, None, f"{rule.metric} = {value}", name),), 0.95)


def _field(rule: S.FieldRule, view: CallView, name: str) -> _Result:
    value = view.get(rule.field)
    if value is None:
        return _Result(None)
    found = value in rule.value if rule.op == "in" and isinstance(rule.value, list) else OPS[rule.op](value, rule.value)
    return _Result(bool(found), (Evidence(None, None, None, None, f"{rule.field} = {value}", name),), 0.95)


def _entity(rule: S.EntityRule, view: CallView, name: str) -> _Result:
    roles = {t.index: t.role for t in view.turns}
    hits = [
        Evidence(e["turn"], roles.get(e["turn"]), e["start"], e["end"], f"{e['type']}: {e['value']}", name)
        for e in view.doc.get("entities", [])
        if e["type"] in rule.types
        and (rule.role == "any" or roles.get(e["turn"]) == rule.role)
        and (rule.within_s is None or e["start"] <= rule.within_s)
    ]
    return _Result(bool(hits), tuple(hits), 0.9 if hits else ABSENT)


def _order(rule: S.OrderRule, view: CallView, name: str) -> _Result:
    a, b = evaluate_rule(rule.first, view, name + ".first"), evaluate_rule(rule.then, view, name + ".then")
    if a.passed is None or b.passed is None:
        return _Result(None, a.evidence + b.evidence)
    starts_a = [e.start for e in a.evidence if e.start is not None]
    starts_b = [e.start for e in b.evidence if e.start is not None]
    ok = bool(a.passed and b.passed and starts_a and starts_b and min(starts_a) < max(starts_b))
    return _Result(ok, a.evidence + b.evidence, min(a.confidence, b.confidence))


def _all_any(rule: S.AllRule | S.AnyRule, view: CallView, name: str) -> _Result:
    parts = [evaluate_rule(r, view, f"{name}[{i}]") for i, r in enumerate(rule.rules)]
    values = [p.passed for p in parts]
    decisive = False if isinstance(rule, S.AllRule) else True  # the value that settles it on its own
    if decisive in values:
        decided: bool | None = decisive
        chosen = [p for p in parts if p.passed is decisive]
        conf = max(p.confidence for p in chosen)
    elif None in values:
        decided, chosen, conf = None, [p for p in parts if p.passed is None], 0.5
    else:
        decided, chosen = not decisive, parts
        conf = min(p.confidence for p in parts)
    # evidence: what decided the answer first, then the rest
    rest = [p for p in parts if all(p is not c for c in chosen)]
    evidence = tuple(e for p in (*chosen, *rest) for e in p.evidence)
    return _Result(decided, evidence, conf)


def _not(rule: S.NotRule, view: CallView, name: str) -> _Result:
    inner = evaluate_rule(rule.rule, view, name + ".not")
    return _Result(None if inner.passed is None else not inner.passed, inner.evidence, inner.confidence)


def _manual(rule: S.Rule, view: CallView, name: str) -> _Result:
    return _Result(None, (), 0.0)


# Each rule type's evaluation (looked up by the rule's class: one dictionary lookup, not a chain of isinstance).
_RULES: dict[type, Callable[[Any, CallView, str], _Result]] = {
    S.PhraseRule: _phrase,
    S.ForbiddenRule: _forbidden,
    S.SemanticRule: lambda rule, view, name: _semantic(view, rule, name),
    S.AskRule: lambda rule, view, name: _ask(view, rule, name),
    S.MetricRule: _metric,
    S.FieldRule: _field,
    S.EntityRule: _entity,
    S.OrderRule: _order,
    S.AllRule: _all_any,
    S.AnyRule: _all_any,
    S.NotRule: _not,
}


def _evaluate_rule(rule: S.Rule, view: CallView, name: str) -> _Result:
    return _RULES.get(type(rule), _manual)(rule, view, name)


def _label_check(view: CallView, holds: Callable[[Any], bool]) -> bool | None:
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
    if (within := cond.request_type_in) is not None:
        checks.append(_label_check(view, lambda lab: lab in within))
    if (outside := cond.request_type_not_in) is not None:
        checks.append(_label_check(view, lambda lab: lab not in outside))
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


class _ItemSpec(NamedTuple):
    question: str
    critical: bool
    points_possible: float


UNSURE_BELOW = 0.75  # an answer with less confidence is flagged for review (and may get a second opinion)


def unsure(r: _Result, applicable: bool | None) -> bool:
    """The rules leave the item to a person: no answer, a "no" on an item that may not apply, or low confidence."""
    if r.na:
        return applicable is None  # "does not apply" said by the rule, of an item that may apply: left to a person
    if r.passed is None or (applicable is None and not r.passed):
        return True
    return (min(r.confidence, 0.8) if applicable is None else r.confidence) < UNSURE_BELOW


def unsure_items(card: S.Scorecard, evaluation: Evaluation) -> list[S.AskRule]:
    """The second-opinion questions of the items this evaluation leaves to a person."""
    flagged = {r.id for r in evaluation.items if r.needs_review}
    return [
        it.second_opinion
        for sec in card.sections
        for it in sec.items
        if it.second_opinion is not None and it.id in flagged
    ]


def evaluate_call(doc: Mapping[str, Any], card: S.Scorecard, card_hash: str) -> Evaluation:
    view = CallView(doc)
    if view.doc.get("sentences"):
        view.layout = _layout(
            card, lambda: [r for sec in card.sections for it in sec.items for r in _semantic_rules(it.rule, [])]
        )
    view.card_languages = tuple(card.languages)
    items: list[ItemResult] = []
    critical = {item.id for sec in card.sections for item in sec.items if item.critical}
    for sec in card.sections:
        for item in sec.items:
            spec = _ItemSpec(item.question, item.critical, float(item.points))
            applicable = applies(item.applies_if, view)
            if applicable is False:
                items.append(ItemResult(item.id, sec.id, "na", 0.0, 0.0, 1.0, False, (), *spec))
                continue
            r = evaluate_rule(item.rule, view, item.rule.type)
            if item.second_opinion is not None and unsure(r, applicable):
                second = evaluate_rule(item.second_opinion, view, "second_opinion")
                if second.passed is not None:  # the LLM's verified answer decides
                    r = second
                else:  # the rules' evidence stays, with why the second opinion did not decide (for the reviewer)
                    r = _Result(r.passed, (*r.evidence, *second.evidence), r.confidence, na=r.na)
            if r.na and applicable is True:
                items.append(ItemResult(item.id, sec.id, "na", 0.0, 0.0, r.confidence, False, r.evidence))
                continue
            if r.passed is None or (applicable is None and not r.passed):
                # Undecidable, or a "no" on an item that may not apply at all: a person decides, never a guess.
                items.append(ItemResult(item.id, sec.id, None, 0.0, 0.0, 0.0, True, r.evidence, *spec))
                continue
            answer = "yes" if r.passed else "no"
            conf = min(r.confidence, 0.8) if applicable is None else r.confidence
            pts = item.points if r.passed else 0.0
            items.append(
                ItemResult(item.id, sec.id, answer, pts, item.points, conf, conf < UNSURE_BELOW, r.evidence, *spec)
            )
    rules = TotalsRules.of_card(card)
    t = totals(
        (Scored(it.id, it.section, it.answer, it.points, it.max_points, it.id in critical) for it in items),
        rules,
        [sec.id for sec in card.sections],
    )
    return Evaluation(
        scorecard_id=card.id,
        scorecard_version=card.version,
        scorecard_hash=card_hash,
        score=t.score,
        max_score=t.max_score,
        percent=t.percent,
        passed=t.passed,
        critical_failed=t.critical_failed,
        sections=t.sections,
        items=tuple(items),
        rules=rules,
    )
