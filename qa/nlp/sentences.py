"""Stage ``nlp.sentences``: each turn cut into sentences (word ranges), each sentence embedded once.

Semantic scorecard items and emergency triage read these vectors; they are stored with the analysis in a compact
form (int8 per dimension + one float16 scale per sentence: ~260 bytes a sentence), so re-scoring with a changed
scorecard never runs an encoder on the call again. A sentence ends at ., ? or ! (Whisper and transcripts punctuate)
or, in unpunctuated speech, after ``MAX_WORDS`` words (cut at the last comma when there is one).
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from qa.types import Sentence, SentenceVectors, Turn

VERSION = "1"
MAX_WORDS = 24
_END = re.compile(r"[.?!][\"')\]]*$")
_COMMA = re.compile(r"[,;:][\"')\]]*$")


def split_turn(ti: int, turn: Turn) -> list[Sentence]:
    out: list[Sentence] = []
    words = turn.words
    first = 0
    last_comma = -1
    for i, w in enumerate(words):
        if _END.search(w.word) or i == len(words) - 1:
            out.append(Sentence(ti, first, i, words[first].start, w.end))
            first, last_comma = i + 1, -1
            continue
        if _COMMA.search(w.word):
            last_comma = i
        if i - first + 1 >= MAX_WORDS:
            cut = last_comma if last_comma >= first + 3 else i
            out.append(Sentence(ti, first, cut, words[first].start, words[cut].end))
            first, last_comma = cut + 1, -1
    return out


def split_sentences(turns: Sequence[Turn]) -> tuple[Sentence, ...]:
    return tuple(s for ti, t in enumerate(turns) for s in split_turn(ti, t))


def sentence_text(turn_words: Sequence[str], s: Sentence) -> str:
    return " ".join(turn_words[s.first_word : s.last_word + 1])


def embed_sentences(turns: Sequence[Turn], encoder) -> SentenceVectors:
    sentences = split_sentences(turns)
    texts = [sentence_text([w.word for w in turns[s.turn].words], s) for s in sentences]
    return SentenceVectors(encoder.name, sentences, encoder.encode(texts))


# ------------------------------------------------------------------------------------------- compact JSON form


def pack(sv: SentenceVectors) -> dict[str, Any]:
    """{"encoder", "dim", "spans": [[turn, first_word, last_word], ...], "q": base64 int8, "scale": base64 float16,
    "times": base64 float64 (start, end) per sentence}. The text is not repeated (it is the words'); the times are the
    words' too, kept as one array so that re-scoring does not walk the words for them."""
    v = sv.vectors.astype(np.float32)
    scale = np.abs(v).max(axis=1) / 127.0 if len(v) else np.zeros(0, np.float32)
    safe = np.where(scale > 0, scale, 1.0)
    q = np.round(v / safe[:, None]).astype(np.int8)
    return {
        "encoder": sv.encoder,
        "dim": int(v.shape[1]) if v.ndim == 2 else 0,
        "spans": [[s.turn, s.first_word, s.last_word] for s in sv.sentences],
        "q": base64.b64encode(q.tobytes()).decode("ascii"),
        "scale": base64.b64encode(scale.astype(np.float16).tobytes()).decode("ascii"),
        "times": base64.b64encode(np.array([(s.start, s.end) for s in sv.sentences], np.float64).tobytes()).decode(),
    }


def unpack_times(data: Mapping[str, Any], turns: Sequence[Mapping[str, Any]]) -> tuple[np.ndarray, np.ndarray]:
    """Start and end of every sentence of a packed block (from its ``times``; blocks from before: from the words)."""
    n = len(data["spans"])
    try:
        t = np.frombuffer(base64.b64decode(data["times"], validate=True), np.float64)
        if len(t) == 2 * n:
            return t[0::2], t[1::2]
    except (KeyError, TypeError, ValueError):  # none (a block from before), or not base64 float64 pairs: the words'
        pass
    starts = [float(turns[t]["words"][a]["start"]) for t, a, _ in data["spans"]]
    ends = [float(turns[t]["words"][b]["end"]) for t, _, b in data["spans"]]
    return np.asarray(starts, np.float64), np.asarray(ends, np.float64)


def unpack_vectors(data: Mapping[str, Any]) -> np.ndarray:
    """The (n, dim) float32 unit vectors of a packed block (a zero row stays zero)."""
    n, dim = len(data["spans"]), int(data["dim"])
    if n == 0 or dim == 0:
        return np.zeros((n, dim), np.float32)
    # each row has its own scale, so the unit vector is the int8 row's own direction: the scale is not needed here
    v = np.frombuffer(base64.b64decode(data["q"]), np.int8).reshape(n, dim).astype(np.float32)
    norms = np.sqrt(np.einsum("ij,ij->i", v, v))[:, None]
    return v / np.where(norms > 0, norms, 1.0)


def unpack(data: Mapping[str, Any], turns: Sequence[Mapping[str, Any]]) -> SentenceVectors:
    """The packed block of a call document back into a :class:`SentenceVectors` (times from the turns' words)."""
    starts, ends = unpack_times(data, turns)
    sentences = [
        Sentence(int(t), int(a), int(b), float(s), float(e))
        for (t, a, b), s, e in zip(data["spans"], starts, ends, strict=True)
    ]
    return SentenceVectors(str(data["encoder"]), tuple(sentences), unpack_vectors(data))
