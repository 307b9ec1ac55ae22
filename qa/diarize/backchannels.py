"""Backchannels on one channel: a short "uh-huh / okay / right" said by one party inside the other's speech keeps its
own speaker when its voice says so (issue #15, item 5).

The clusterer labels speech in 1.5 s windows and then folds runs shorter than ``min_segment_s`` into their
neighbours, so a listener's half-second "okay" between two sentences of the speaker is given to the speaker. Here,
after clustering, every short run of backchannel words (at most ``MAX_WORDS`` words, ``MAX_S`` seconds, every word
from :data:`WORDS`) that sits between words of one speaker is embedded alone and compared with each speaker's voice
(the mean of that speaker's window embeddings). When another speaker's voice is closer by at least ``MARGIN``
(cosine), the run's time is carved out of the surrounding speaker's segment and given to the other one; words are
then attributed as usual, so the backchannel becomes a turn of its own. A run that is the speaker's own ("okay, so
the address is...") keeps its speaker: its voice is the speaker's.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from qa.diarize.turns import assign_words
from qa.types import SpeakerSegment, Word

WORDS = frozenset(
    "okay ok uh-huh uh huh mm-hmm mhm mm hmm hm right yeah yes yep yup sure alright all i see got it oh no wow "
    "good great gotcha exactly true sí ajá claro vale bueno".split()
)
MAX_WORDS = 3
MAX_S = 1.2
PAD_S = 0.15  # audio taken around the run's words (word times from recognition are tight)
CONTEXT_S = 2.5  # the surrounding speaker's words must be this close on both sides
MARGIN = 0.05  # cosine: how much closer the other voice must be (set before measuring: bench/backchannels.py)
_STRIP = re.compile(r"^[^\w]+|[^\w]+$")


def _bare(word: str) -> str:
    return _STRIP.sub("", word.lower())


def is_backchannel(words: Sequence[Word]) -> bool:
    if not 1 <= len(words) <= MAX_WORDS or words[-1].end - words[0].start > MAX_S:
        return False
    return all(_bare(w.word) in WORDS for w in words)


@dataclass(frozen=True, slots=True)
class Candidate:
    first: int  # word indices, inclusive
    last: int
    speaker: str  # the speaker it was given (the one around it)


def candidates(words: Sequence[Word], speakers: Sequence[str | None]) -> list[Candidate]:
    """Runs of backchannel words given to the speaker whose words surround them (within ``CONTEXT_S``), where the run
    is a sentence of its own (the word before ends a sentence or a pause precedes it)."""
    out = []
    i = 0
    while i < len(words):
        spk = speakers[i]
        if _bare(words[i].word) not in WORDS:
            i += 1
            continue
        j = i  # the run: backchannel words of one speaker, up to the first that ends a sentence
        while (
            j + 1 < len(words)
            and j + 1 - i < MAX_WORDS
            and speakers[j + 1] == spk
            and _bare(words[j + 1].word) in WORDS
            and not words[j].word.rstrip().endswith((".", "?", "!"))
        ):
            j += 1
        run = words[i : j + 1]
        if spk is not None and 0 < i and j + 1 < len(words) and is_backchannel(run):
            before, after = words[i - 1], words[j + 1]
            own_sentence = before.word.rstrip().endswith((".", "?", "!", ",")) or run[0].start - before.end >= 0.3
            ends_sentence = run[-1].word.rstrip().endswith((".", "?", "!", ",")) or after.start - run[-1].end >= 0.3
            close = run[0].start - before.end <= CONTEXT_S and after.start - run[-1].end <= CONTEXT_S
            if speakers[i - 1] == spk and speakers[j + 1] == spk and own_sentence and ends_sentence and close:
                out.append(Candidate(i, j, spk))
        i = j + 1
    return out


def reassign(
    words: Sequence[Word],
    segments: Sequence[SpeakerSegment],
    voices: Mapping[str, np.ndarray],
    embed_spans: Callable[[list[tuple[float, float]]], np.ndarray],
) -> tuple[list[SpeakerSegment], int]:
    """``segments`` with each backchannel run that another voice claims given to that voice, and how many.
    ``voices``: speaker -> unit mean embedding; ``embed_spans(spans)`` -> one unit embedding per (start, end)."""
    if len(voices) < 2 or not words:
        return list(segments), 0
    found = candidates(words, assign_words(words, segments))
    if not found:
        return list(segments), 0
    spans = [(max(0.0, words[c.first].start - PAD_S), words[c.last].end + PAD_S) for c in found]
    embs = embed_spans(spans)
    moved: list[tuple[float, float, str]] = []
    for c, e in zip(found, embs, strict=True):
        sims = {spk: float(np.dot(e, v)) for spk, v in voices.items()}
        other = max((s for s in sims if s != c.speaker), key=sims.__getitem__)
        if sims[other] - sims.get(c.speaker, -1.0) >= MARGIN:
            moved.append((words[c.first].start, words[c.last].end, other))
    if not moved:
        return list(segments), 0
    out: list[SpeakerSegment] = []
    for s in segments:
        pieces = [(s.start, s.end)]
        for a, b, _ in moved:
            pieces = [p for x, y in pieces for p in ((x, min(y, a)), (max(x, b), y)) if p[1] - p[0] > 1e-6]
        out.extend(SpeakerSegment(s.speaker, x, y) for x, y in pieces)
    out.extend(SpeakerSegment(spk, a, b) for a, b, spk in moved)
    return sorted(out, key=lambda s: (s.start, s.end)), len(moved)
