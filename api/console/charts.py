"""Inline SVG charts for the console, drawn on the server: geometry only (the template writes the elements, a
caption and a table with the same numbers beside each chart). Colours are SVG attributes, not style: the pages'
Content-Security-Policy allows no inline style."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

# Okabe-Ito: told apart with the common colour-vision deficiencies
PALETTE = ("#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9", "#000000", "#7f6000")
W, H, PAD = 600, 180, 40  # user units; PAD: room for the axis labels


@dataclass(frozen=True, slots=True)
class Line:
    name: str
    colour: str
    segments: tuple[str, ...]  # polyline "x,y x,y" runs, broken where a value is missing
    dots: tuple[tuple[float, float, str], ...]  # x, y, the value as text


@dataclass(frozen=True, slots=True)
class LineChart:
    lines: tuple[Line, ...]
    x_labels: tuple[tuple[float, str], ...]
    y_ticks: tuple[tuple[float, str], ...]
    width: int = W
    height: int = H
    pad: int = PAD


def line_chart(
    series: dict[str, Sequence[float | None]], labels: Sequence[str], top: float = 100.0, unit: str = "%"
) -> LineChart:
    """One line per series over ``labels`` (same length), y from 0 to ``top``."""
    n = max(len(labels), 1)

    def x(i: int) -> float:
        return round(PAD + (W - 2 * PAD) * (i / (n - 1) if n > 1 else 0.5), 1)

    def y(v: float) -> float:
        return round(H - PAD - (H - 2 * PAD) * max(0.0, min(v, top)) / top, 1)

    lines = []
    for k, (name, values) in enumerate(series.items()):
        runs: list[list[str]] = [[]]
        dots = []
        for i, v in enumerate(values):
            if v is None:
                runs.append([])
                continue
            runs[-1].append(f"{x(i)},{y(v)}")
            dots.append((x(i), y(v), f"{v:.0f}{unit}"))
        segments = tuple(" ".join(r) for r in runs if len(r) > 1)
        lines.append(Line(name, PALETTE[k % len(PALETTE)], segments, tuple(dots)))
    ticks = tuple((y(v), f"{v:.0f}{unit}") for v in (0, top / 2, top))
    return LineChart(tuple(lines), tuple((x(i), lab) for i, lab in enumerate(labels)), ticks)


@dataclass(frozen=True, slots=True)
class Bar:
    x: float
    y: float
    w: float
    h: float
    label: str
    value: str


def bar_chart(values: Sequence[tuple[str, float]], unit: str = "") -> tuple[Bar, ...]:
    """Bars over the chart's width, the tallest reaching the top."""
    if not values:
        return ()
    top = max(v for _, v in values) or 1.0
    slot = (W - 2 * PAD) / len(values)
    out = []
    for i, (label, v) in enumerate(values):
        h = (H - 2 * PAD) * v / top
        out.append(Bar(round(PAD + i * slot + slot * 0.15, 1), round(H - PAD - h, 1), round(slot * 0.7, 1),
                       round(h, 1), label, f"{v:g}{unit}"))  # fmt: skip
    return tuple(out)
