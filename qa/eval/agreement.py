"""Agreement of automatic answers with an answer key: per item, with a 95 % interval, and the share sent to review.

An automatic answer of ``None`` (needs review) is counted apart: *strict* agreement counts it as a miss (a person has
to answer it), *decided* agreement leaves it out (how often the answers the system did give are right).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ANSWERS = ("yes", "no", "na")


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95 % Wilson score interval of a proportion k/n (sensible at 0 and n, unlike the normal approximation)."""
    if n == 0:
        return (0.0, 1.0)
    p = k / n
    d = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / d
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / d
    return (max(0.0, centre - half), min(1.0, centre + half))


def norm_answer(value: Any) -> str | None:
    """YAML 1.1 reads a bare yes/no as a boolean: accept both, and None/'review' as "needs review"."""
    if value is True:
        return "yes"
    if value is False:
        return "no"
    if value is None or str(value).lower() in ("review", "none", "null"):
        return None
    v = str(value).lower()
    if v not in ANSWERS:
        raise ValueError(f"not an answer: {value!r} (yes, no or na)")
    return v


@dataclass
class ItemTally:
    n: int = 0
    agree: int = 0
    review: int = 0
    confusions: Counter = field(default_factory=Counter)  # (automatic, key) -> count

    @property
    def strict(self) -> float:
        return self.agree / self.n if self.n else float("nan")

    @property
    def decided(self) -> float:
        d = self.n - self.review
        return self.agree / d if d else float("nan")


@dataclass
class Agreement:
    items: dict[str, ItemTally] = field(default_factory=dict)
    misses: list[tuple[str, str, str | None, str]] = field(default_factory=list)  # (call, item, automatic, key)

    def add(self, call: str, automatic: Mapping[str, str | None], key: Mapping[str, Any]) -> None:
        for item, want in key.items():
            want_n = norm_answer(want)
            got = automatic.get(item)
            t = self.items.setdefault(item, ItemTally())
            t.n += 1
            if got is None:
                t.review += 1
            if got == want_n:
                t.agree += 1
            else:
                t.confusions[(got or "review", want_n)] += 1
                self.misses.append((call, item, got, str(want_n)))

    def total(self) -> ItemTally:
        out = ItemTally()
        for t in self.items.values():
            out.n += t.n
            out.agree += t.agree
            out.review += t.review
            out.confusions.update(t.confusions)
        return out


def load_key(path: str | Path) -> dict[str, dict[str, Any]]:
    """An answers.yaml: call name -> {request_type, emergency, caller_upset, items: {...}, ...}."""
    import yaml

    data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    return {str(k): v for k, v in data.items()}
