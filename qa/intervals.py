"""Interval algebra on sorted (n, 2) float arrays of [start, end) pairs, vectorised with numpy.

Every function accepts any iterable of pairs and returns a canonical array: sorted, non-overlapping, non-empty
intervals. These are the building blocks of VAD coverage, speaker segments and every conversation metric.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

Intervals = np.ndarray  # shape (n, 2), float64


def as_array(pairs: Iterable[tuple[float, float]] | np.ndarray) -> Intervals:
    arr = np.asarray(pairs if isinstance(pairs, np.ndarray) else list(pairs), dtype=np.float64)
    if arr.size == 0:
        return np.zeros((0, 2))
    arr = arr.reshape(-1, 2)
    return arr[arr[:, 1] > arr[:, 0]]


def merge(pairs: Iterable[tuple[float, float]] | np.ndarray, gap: float = 0.0) -> Intervals:
    """Union of intervals; intervals separated by at most ``gap`` seconds are joined."""
    arr = as_array(pairs)
    if len(arr) == 0:
        return arr
    arr = arr[np.argsort(arr[:, 0], kind="stable")]
    # Running maximum of ends tells where a new group starts: start > max(end so far) + gap.
    run_end = np.maximum.accumulate(arr[:, 1])
    new_group = np.empty(len(arr), dtype=bool)
    new_group[0] = True
    new_group[1:] = arr[1:, 0] > run_end[:-1] + gap
    idx = np.flatnonzero(new_group)
    starts = arr[idx, 0]
    ends = np.maximum.reduceat(arr[:, 1], idx)
    return np.stack([starts, ends], axis=1)


def total(pairs: Iterable[tuple[float, float]] | np.ndarray) -> float:
    arr = merge(pairs)
    return float((arr[:, 1] - arr[:, 0]).sum()) if len(arr) else 0.0


def intersect(
    a: Iterable[tuple[float, float]] | np.ndarray, b: Iterable[tuple[float, float]] | np.ndarray
) -> Intervals:
    """Intersection of two interval sets (each merged first)."""
    a, b = merge(a), merge(b)
    if len(a) == 0 or len(b) == 0:
        return np.zeros((0, 2))
    # Sweep over all boundaries: a point is inside the intersection when it is inside both sets.
    bounds = np.unique(np.concatenate([a.ravel(), b.ravel()]))
    mids = (bounds[:-1] + bounds[1:]) / 2
    inside = _contains(a, mids) & _contains(b, mids)
    return merge(np.stack([bounds[:-1][inside], bounds[1:][inside]], axis=1))


def subtract(a: Iterable[tuple[float, float]] | np.ndarray, b: Iterable[tuple[float, float]] | np.ndarray) -> Intervals:
    a, b = merge(a), merge(b)
    if len(a) == 0 or len(b) == 0:
        return a
    bounds = np.unique(np.concatenate([a.ravel(), b.ravel()]))
    mids = (bounds[:-1] + bounds[1:]) / 2
    inside = _contains(a, mids) & ~_contains(b, mids)
    return merge(np.stack([bounds[:-1][inside], bounds[1:][inside]], axis=1))


def complement(pairs: Iterable[tuple[float, float]] | np.ndarray, start: float, end: float) -> Intervals:
    """The gaps of ``pairs`` within [start, end]."""
    return subtract([(start, end)], pairs)


def dilate(
    pairs: Iterable[tuple[float, float]] | np.ndarray, pad: float, lo: float = 0.0, hi: float = np.inf
) -> Intervals:
    arr = as_array(pairs)
    if len(arr) == 0:
        return arr
    out = np.stack([np.maximum(arr[:, 0] - pad, lo), np.minimum(arr[:, 1] + pad, hi)], axis=1)
    return merge(out)


def drop_shorter(pairs: Iterable[tuple[float, float]] | np.ndarray, min_len: float) -> Intervals:
    arr = merge(pairs)
    return arr[(arr[:, 1] - arr[:, 0]) >= min_len] if len(arr) else arr


def coverage(
    covered: Iterable[tuple[float, float]] | np.ndarray, of: Iterable[tuple[float, float]] | np.ndarray
) -> float:
    """Fraction of ``of``'s total length that lies inside ``covered`` (1.0 when ``of`` is empty)."""
    denom = total(of)
    if denom <= 0:
        return 1.0
    return total(intersect(covered, of)) / denom


def from_mask(mask: np.ndarray, hop_s: float, frame_s: float = 0.0) -> Intervals:
    """Runs of True in a frame mask -> intervals in seconds (frame i spans [i*hop, i*hop + max(hop, frame)))."""
    m = np.concatenate([[False], np.asarray(mask, dtype=bool), [False]])
    edges = np.flatnonzero(np.diff(m.astype(np.int8)))
    starts, ends = edges[0::2], edges[1::2]
    width = max(hop_s, frame_s)
    return merge(np.stack([starts * hop_s, (ends - 1) * hop_s + width], axis=1)) if len(starts) else np.zeros((0, 2))


def _contains(arr: Intervals, points: np.ndarray) -> np.ndarray:
    """For merged ``arr``: is each point inside some interval? (searchsorted, no loops)."""
    i = np.searchsorted(arr[:, 0], points, side="right") - 1
    ok = i >= 0
    res = np.zeros(len(points), dtype=bool)
    res[ok] = points[ok] < arr[i[ok], 1]
    return res
