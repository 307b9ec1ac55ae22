"""Inline SVG figures for the console, drawn on the server: the dashboard's line and bar charts, a call's timeline
(who spoke when, silences, holds, overtalk) and its sentiment curve. Geometry only: the template writes the elements,
a caption and, for the charts, a table with the same numbers. Colours are SVG attributes, not style: the pages'
Content-Security-Policy allows no inline style."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

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


# ------------------------------------------------------------------------------------------------ a call


TIMELINE_W = 1000  # the timeline's SVG user units across the whole call


def timeline(view: dict[str, Any]) -> dict[str, Any] | None:
    """Who spoke when (from the view's turn times), holds and interruptions (from its metrics), in SVG units. Times
    only: no text. None without turns (HR) or without a duration."""
    duration = float(view.get("duration_s") or 0)
    if not view.get("turns") or duration <= 0:
        return None
    scale = TIMELINE_W / duration

    def span(start: float, end: float) -> dict[str, float]:
        return {"x": round(start * scale, 2), "w": round(max(end - start, 0.05) * scale, 2), "start": start, "end": end}

    metrics = view.get("metrics") or {}
    holds = [(float(h["start"]), float(h["end"])) for h in metrics.get("holds") or []]
    return {
        "turns": [{**span(t["start"], t["end"]), "role": t["role"]} for t in view["turns"]],
        "silences": [span(a, b) for a, b in silences(view["turns"], duration, holds)],
        "holds": [span(h["start"], h["end"]) for h in metrics.get("holds") or []],
        "overtalk": [
            span(i["at"], i["at"] + float(i.get("overlap_s") or 0.2)) for i in metrics.get("interruptions") or []
        ],
        "scale": scale,
    }


SILENCE_S = 1.5  # a gap with nobody speaking at least this long is drawn as silence


def silences(
    turns: list[dict[str, Any]], duration: float, holds: list[tuple[float, float]], least: float = SILENCE_S
) -> list[tuple[float, float]]:
    """Gaps of at least ``least`` seconds in which no turn is spoken and no hold runs (times only)."""
    busy = sorted([(float(t["start"]), float(t["end"])) for t in turns] + holds)
    out, at = [], 0.0
    for start, end in busy:
        if start - at >= least:
            out.append((at, start))
        at = max(at, end)
    if duration - at >= least:
        out.append((at, duration))
    return out


CURVE_W, CURVE_H = 1000, 80


def sentiment_curve(view: dict[str, Any]) -> dict[str, Any] | None:
    """Per-turn sentiment (-1..1) of caller and agent as SVG polylines, over the call's time when the role sees turn
    times, else over the turn order (HR: labels and scores are no transcript text); with a caption that says in
    words what the curve shows."""
    points = (view.get("sentiment") or {}).get("turns") or []
    if not points:
        return None
    times = {t["index"]: (t["start"] + t["end"]) / 2 for t in view.get("turns") or []}
    duration = float(view.get("duration_s") or 0)
    timed = bool(times) and duration > 0 and all(p["turn"] in times for p in points)
    last = max(p["turn"] for p in points) or 1

    def x(p) -> float:
        return round(CURVE_W * (times[p["turn"]] / duration if timed else p["turn"] / last), 1)

    def y(score: float) -> float:
        return round(CURVE_H / 2 - (CURVE_H / 2 - 6) * max(-1.0, min(1.0, float(score))), 1)

    lines, dots, said = {}, [], []
    for role in ("caller", "agent"):
        mine = sorted((p for p in points if p["role"] == role), key=lambda p: p["turn"])
        if not mine:
            continue
        lines[role] = " ".join(f"{x(p)},{y(p['score'])}" for p in mine)
        for p in mine:
            dot = {"x": x(p), "y": y(p["score"]), "role": role, "label": p["label"], "score": p["score"]}
            dots.append({**dot, "at": times.get(p["turn"]) if timed else None})
        low = min(mine, key=lambda p: p["score"])
        where = f" at {_clock(times[low['turn']])}" if timed else f" in turn {low['turn'] + 1}"
        said.append(
            f"{role}: started {mine[0]['label']} ({mine[0]['score']:+.2f}), lowest {low['score']:+.2f}{where}, "
            f"ended {mine[-1]['label']} ({mine[-1]['score']:+.2f})"
        )
    return {"lines": lines, "dots": dots, "timed": timed, "caption": "; ".join(said), "mid": CURVE_H / 2}


def _clock(t: float) -> str:
    return f"{int(t // 60)}:{t % 60:04.1f}"
