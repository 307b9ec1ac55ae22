"""PII redaction recall/precision on the labelled set ``models/pii/labelled.tsv``, counted per word: a word is
personal data when it lies inside one of the row's expected pieces, and redacted when the redactor marks it."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from qa.resources import model_path
from qa.types import Role, Turn, Word

LABELLED = model_path("pii", "labelled.tsv")


@dataclass(frozen=True, slots=True)
class PiiScores:
    true_pos: int
    false_pos: int
    false_neg: int

    @property
    def recall(self) -> float:
        return self.true_pos / (self.true_pos + self.false_neg) if self.true_pos + self.false_neg else 1.0

    @property
    def precision(self) -> float:
        return self.true_pos / (self.true_pos + self.false_pos) if self.true_pos + self.false_pos else 1.0


def evaluate(path: Path = LABELLED) -> PiiScores:
    from qa.nlp.entities import find_entities
    from qa.nlp.redact import pii_words

    tp = fp = fn = 0
    for row in csv.DictReader(path.read_text(encoding="utf-8").splitlines(), delimiter="\t"):
        words = row["text"].split()
        ws = tuple(Word(i * 0.4, i * 0.4 + 0.3, w, 0.9) for i, w in enumerate(words))
        turn = Turn("s", Role.CALLER, 0.0, ws[-1].end, row["text"], ws)
        predicted = set(pii_words(find_entities([turn]), [turn]).get(0, {}))
        expected: set[int] = set()
        for piece in filter(None, (row["pii"] or "").split("|")):
            target = [p.strip(".,") for p in piece.split()]
            for i in range(len(words) - len(target) + 1):
                if [w.strip(".,") for w in words[i : i + len(target)]] == target:
                    expected |= set(range(i, i + len(target)))
                    break
            else:
                raise ValueError(f"{path}: '{piece}' is not in '{row['text']}'")
        tp += len(predicted & expected)
        fp += len(predicted - expected)
        fn += len(expected - predicted)
    return PiiScores(tp, fp, fn)
