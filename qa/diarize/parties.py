"""How many people: settle window clusters into the parties of a phone call.

Clustering telephone speech over-splits: a laugh, a raised voice or a few windows of crosstalk become a "speaker",
and one person's voice drifts into two clusters. A service call has two parties, and a third (an IVR prompt, a
transfer) is an exception that must show itself. So, on the windows' embeddings and cluster labels:

1. clusters holding less than ``min_share`` of the windows are not speakers: each of their windows goes to the
   nearest large cluster;
2. while there are more clusters than ``parties``, the smallest extra cluster is merged into the cluster its speech
   runs on to (without a pause) most, when that is at least half of its changes and the voices are not far apart
   (cosine distance < ``far``). Voice distance alone does not decide: two telephone voices of different people can
   be closer (0.12 seen on real calls) than one person's voice to itself, but a split of one person keeps running on
   into that person's other cluster, while a real third party (IVR, transfer) talks in turns of its own;
3. labels are renumbered by first appearance, so the same input always gives the same speaker names.

The count's confidence: how clearly the voices that stayed apart are apart (``tanh(distance / 0.15)``), lowered by
any merge that was close to the line.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np


def _centroids(z: np.ndarray, labels: np.ndarray, ks: Sequence[int]) -> np.ndarray:
    c = np.array([z[labels == k].mean(axis=0) for k in ks])
    return c / np.maximum(np.linalg.norm(c, axis=1, keepdims=True), 1e-9)


def adjacency(labels: np.ndarray, times: np.ndarray, k: int, step: float) -> dict[int, float]:
    """Where cluster ``k``'s speech runs on to: for time-consecutive windows less than ``step`` apart (overlapping
    windows of one speech region), the share of ``k``'s changes that go to (or come from) each other cluster."""
    order = np.argsort(times, kind="stable")
    lab, t = labels[order], times[order]
    near = np.diff(t) < step
    a, b = lab[:-1][near], lab[1:][near]
    other = np.concatenate([b[(a == k) & (b != k)], a[(b == k) & (a != k)]])
    if not len(other):
        return {}
    ks, counts = np.unique(other, return_counts=True)
    return {int(x): float(c) / len(other) for x, c in zip(ks, counts, strict=True)}


def settle_parties(
    z: np.ndarray,
    labels: np.ndarray,
    times: np.ndarray,
    parties: int = 2,
    far: float = 0.45,
    min_share: float = 0.08,
    step: float = 1.0,
) -> tuple[np.ndarray, float]:
    """Returns (labels 0..K-1 by first appearance, count confidence). ``z``: L2-normalised window embeddings;
    ``times``: window mid-points (s); ``step``: windows closer than this are one stretch of speech."""
    labels = labels.copy()
    n = len(labels)
    if n == 0:
        return labels, 0.0
    sizes = np.bincount(labels)
    large = [k for k in range(len(sizes)) if sizes[k] >= max(2, min_share * n)]
    if not large:
        large = [int(sizes.argmax())]
    small = ~np.isin(labels, large)
    if small.any():
        cent = _centroids(z, labels, large)
        labels[small] = np.array(large)[(z[small] @ cent.T).argmax(axis=1)]
    margins: list[float] = []
    while len(large) > parties:
        b = min(large, key=lambda k: ((labels == k).sum(), k))  # the smallest extra cluster
        adj = {k: v for k, v in adjacency(labels, times, b, step).items() if k in large}
        if not adj:
            break
        a = max(adj, key=lambda k: (adj[k], -k))
        cent = _centroids(z, labels, [a, b])
        d = float(1.0 - cent[0] @ cent[1])
        if adj[a] < 0.5 or d >= far:  # its speech runs on to several voices, or its voice is far: a third party
            break
        labels[labels == b] = a
        large.remove(b)
        margins.append(min(adj[a] - 0.5, far - d))
    conf = 1.0
    if len(large) > 1:
        cent = _centroids(z, labels, large)
        dist = 1.0 - cent @ cent.T
        np.fill_diagonal(dist, np.inf)
        conf = math.tanh(float(dist.min()) / 0.15)
    if margins:
        conf = min(conf, math.tanh(4 * min(margins)))
    order = sorted(large, key=lambda k: float(times[labels == k].min()))
    renum = {k: i for i, k in enumerate(order)}
    return np.array([renum[k] for k in labels], dtype=int), round(conf, 3)
