"""Stage ``asr.city_hotwords``: a second recognition pass over the stretches of a channel where a street was named,
with the city's closest street names as faster-whisper ``hotwords``; the rest of the call keeps its first-pass words.

A city has thousands of streets, far more than a prompt holds, so each stretch gets only the names closest to what
the first pass heard there ("To Hunga Avenue" -> Tujunga Avenue, Tuxford Street, ...). A stretch is the words before
a street suffix ("... Avenue") that follows a capitalised word or a number, padded into the surrounding pauses. The
new words replace the old ones only when they name a listed street better than the old ones did, so a stretch
without a street name keeps its words: the profile cannot invent a street where none was said.

Needs faster-whisper's ``hotwords`` argument of ``WhisperModel.transcribe`` (faster-whisper >= 1.0; checked with
1.2.1, where hotwords go into the prompt unless a ``prefix`` is given, which this pass never does).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, replace

import numpy as np

from qa.city.gazetteer import Gazetteer, StreetName, parse_street, similarity
from qa.types import ChannelTranscript, Word

log = logging.getLogger("qa.asr")
VERSION = "2"  # 2: a stretch with two names is decoded again unless both are exact
RATE = 16000
ANCHORS = frozenset({
    "street", "st", "avenue", "ave", "boulevard", "blvd", "road", "rd", "drive", "dr", "lane", "ln", "highway",
    "hwy", "parkway", "pkwy", "terrace", "place", "way", "court", "canyon",
})  # fmt: skip
ANCHORS |= {f"{a}s" for a in ANCHORS if len(a) > 3}  # "Verdugo roads" is how "Verdugo Road." is sometimes heard
STRONG = frozenset(
    {"boulevard", "blvd", "avenue", "ave", "highway", "parkway", "boulevards", "avenues"}
)  # hardly ever a common word
NOT_NAMES = frozenset({"the", "a", "an", "this", "that", "my", "our", "your", "his", "her", "their", "no", "any",
                       "which", "what", "same", "other", "next", "i", "it", "and", "on"})  # fmt: skip
BACK_WORDS = 5  # words before the suffix that may belong to the name (and its house number)
MAX_GAP_S = 0.6  # a longer pause ends the stretch
PAD_S = 0.4
CLOSE_MARGIN = 0.1  # set on bench/city.py's dev calls (see README)


@dataclass(frozen=True, slots=True)
class Stretch:
    first: int
    last: int
    start: float
    end: float
    heard: tuple[str, ...]  # what the first pass heard before each suffix (its 1..3 last words + the suffix)


def _bare(word: str) -> str:
    return re.sub(r"[^\w'-]", "", word)


def _names_a_street(words: tuple[Word, ...] | list[Word], i: int) -> bool:
    """Word ``i`` is a street suffix that ends a name: after a capitalised word or a number ("no way", "The street
    light" are not names), or a suffix that is hardly ever a common word ("... and boulevard" is a name misheard)."""
    if i == 0 or _bare(words[i].word).lower() not in ANCHORS:
        return False
    prev = _bare(words[i - 1].word)
    named = (prev[:1].isupper() or prev[:1].isdigit()) and prev.lower() not in NOT_NAMES
    return named or _bare(words[i].word).lower() in STRONG


def all_listed(words: tuple[Word, ...] | list[Word], gazetteer: Gazetteer, min_score: float) -> bool:
    """Every street name in ``words`` is already a listed street, exactly (nothing for a second pass to improve).
    A stretch can hold two names ("on Alvarado Street between the Tidra Boulevard"): one exact name is not enough."""
    ends = [i for i in range(len(words)) if _names_a_street(words, i)]
    exact = {i for _, i, _, score in street_spans(words, gazetteer, min_score) if score >= 0.999}
    return bool(ends) and all(i in exact for i in ends)


def street_stretches(words: tuple[Word, ...]) -> list[Stretch]:
    """Where the first pass heard a street name: runs of words ending in a street suffix, merged when they touch."""
    out: list[Stretch] = []
    for i, w in enumerate(words):
        if not _names_a_street(words, i):
            continue
        first = i
        while first > 0 and i - first < BACK_WORDS and words[first].start - words[first - 1].end < MAX_GAP_S:
            first -= 1
        last = min(i + 1, len(words) - 1) if i + 1 < len(words) and words[i + 1].start - w.end < MAX_GAP_S else i
        heard = tuple(" ".join(_bare(x.word) for x in words[j : i + 1]) for j in range(max(first, i - 3), i))
        start = words[first].start - PAD_S
        if first > 0:
            start = max(start, (words[first - 1].end + words[first].start) / 2)
        end = words[last].end + PAD_S
        if last + 1 < len(words):
            end = min(end, (words[last].end + words[last + 1].start) / 2)
        s = Stretch(first, last, max(0.0, start), end, heard)
        if out and s.first <= out[-1].last + 1:
            p = out.pop()
            s = Stretch(p.first, max(p.last, s.last), p.start, max(p.end, s.end), p.heard + s.heard)
        out.append(s)
    return out


def street_spans(words: list[Word] | tuple[Word, ...], gazetteer: Gazetteer, min_score: float):
    """(first, last, street, score) of each listed street named by ``words``: the 1..3 words before a suffix, and
    the suffix."""
    toks = [_bare(w.word) for w in words]
    out = []
    for i, t in enumerate(toks):
        if t.lower() not in ANCHORS or i == 0:
            continue
        found = [(gazetteer.match(" ".join(toks[j : i + 1]), min_score), j) for j in range(max(0, i - 3), i)]
        found = [(m.score, j, m.street) for m, j in found if m.street]
        if found:
            score, j, street = max(found, key=lambda f: (f[0], -f[1]))  # the best score, then the longest name
            out.append((j, i, street, score))
    return out


def _heard(words: list[Word] | tuple[Word, ...]) -> list[StreetName]:
    """What the first pass heard as a street name: the 1..3 words before each suffix, with the suffix."""
    toks = [_bare(w.word) for w in words]
    return [
        parse_street(" ".join(toks[j : i + 1]))
        for i, t in enumerate(toks)
        if t.lower() in ANCHORS
        for j in range(max(0, i - 3), i)
    ]


def _old_name(words: tuple[Word, ...], old: list[int], street: str) -> tuple[int, int]:
    """The first pass's words for the street the second pass found (``old``: the words under it in time): the last
    suffix among them and the 1..3 words before it that sound most like ``street``. Words before those ("near",
    "outside of") stay even when the second decoding dropped them."""
    anchors = [k for k in old if _bare(words[k].word).lower() in ANCHORS]
    if not anchors:
        return old[0], old[-1]
    a = anchors[-1]
    target = parse_street(street)
    starts = list(range(max(old[0], a - 3), a)) or [a]
    toks = [_bare(w.word) for w in words]
    j = max(starts, key=lambda j: (similarity(parse_street(" ".join(toks[j : a + 1])), target), -j))
    return j, a


def _sounds_like_heard(street: str, heard: list[StreetName], gazetteer: Gazetteer) -> bool:
    """The second pass's street is (about) the listed street closest to what the first pass heard: within
    ``CLOSE_MARGIN`` of the best. Hotwords tempt the decoder to say a listed name; this keeps it to the name that
    sounds like what was said ("last negative boulevard": La Cienega, not Cahuenga)."""
    if not heard:
        return False
    target = parse_street(street)
    new = max(similarity(h, target) for h in heard)
    best = max((gazetteer.candidates(h)[:1] or [("", 0.0)])[0][1] for h in heard)
    return new >= best - CLOSE_MARGIN


def best_street(words: list[Word] | tuple[Word, ...], gazetteer: Gazetteer, min_score: float) -> float:
    """The score of the best listed street named by ``words`` (0 when none reaches ``min_score``)."""
    return max((sc for *_, sc in street_spans(words, gazetteer, min_score)), default=0.0)


def refine_streets(
    model, x: np.ndarray, tr: ChannelTranscript, gazetteer: Gazetteer, *, language: str | None, beam_size: int,
    max_hotwords: int, min_score: float,
) -> ChannelTranscript:  # fmt: skip
    """The channel transcript with the street names of each stretch taken from a second decoding with hotwords,
    where that names a listed street better; every other word stays the first pass's."""
    words = tr.words
    stretches = street_stretches(words)
    edits: list[tuple[int, int, list[Word]]] = []  # first pass words first..last -> new words
    tried = 0
    for s in stretches:
        if all_listed(words[s.first : s.last + 1], gazetteer, min_score):
            continue  # already listed names, exactly
        hot = gazetteer.closest(list(s.heard), max_hotwords)
        if not hot:
            continue
        tried += 1
        a, b = int(s.start * RATE), min(len(x), int(s.end * RATE))
        segments, _ = model.transcribe(
            x[a:b].astype(np.float32, copy=False),
            language=language,
            beam_size=beam_size,
            word_timestamps=True,
            vad_filter=False,
            condition_on_previous_text=False,
            temperature=0.0,  # no fallback loops on a short clip: the first pass's words are there if this fails
            hotwords=", ".join(hot),
        )
        new = [
            Word(s.start + w.start, s.start + w.end, w.word.strip(), float(w.probability))
            for seg in segments
            for w in seg.words or ()
            if w.word.strip()
        ]
        for j, i, street, score in street_spans(new, gazetteer, min_score):
            t0, t1 = new[j].start - 0.05, new[i].end + 0.05
            old = [k for k in range(s.first, s.last + 1) if t0 <= (words[k].start + words[k].end) / 2 <= t1]
            if not old or len(old) > 2 * (i - j + 1) + 1:
                continue  # the new name lies where the first pass heard nothing, or far more: not the same words
            if not any(_bare(words[k].word).lower() in ANCHORS for k in old):
                continue  # the first pass heard no street there: a hotword the decoder made up
            first, last = _old_name(words, old, street)
            before = words[first : last + 1]
            better = score > best_street(before, gazetteer, min_score)
            if better and _sounds_like_heard(street, _heard(before), gazetteer):
                edits.append((first, last, new[j : i + 1]))
    out = list(words)
    done: list[tuple[int, int]] = []
    for first, last, new_words in sorted(edits, key=lambda e: -e[0]):
        if any(first <= b and a <= last for a, b in done):
            continue
        out[first : last + 1] = new_words
        done.append((first, last))
    log.info("channel %d: %d street stretch(es), %d decoded again, %d name(s) replaced", tr.channel, len(stretches),
             tried, len(done))  # fmt: skip
    return replace(tr, words=tuple(out), hotword_stretches=tried, hotword_replaced=len(done))
