"""How many people: settle window clusters into the parties of a phone call.

Clustering telephone speech over-splits: a laugh, a raised voice or a few windows of crosstalk become a "speaker",
and one person's voice drifts into two clusters. A service call has two parties, and a third (an IVR prompt, a
transfer) is an exception that must show itself. So, on the windows' embeddings and cluster labels:

1. clusters holding less than ``min_share`` of the windows are not speakers: each of their windows goes to the
   nearest large cluster;
2. while there are more clusters than ``parties``, the smallest extra cluster is merged whole into the cluster its
   speech runs on to (without a pause) in at least ``RUNS_ON`` of its speaker changes: one person's raised voice or
   laugh keeps running on into that person's other cluster. Otherwise, when its voice is near another cluster
   (cosine distance < ``far``), it is a mixed cluster (crosstalk, turn changes) and each of its windows goes to the
   nearest remaining voice. A far voice that talks in turns of its own (an IVR, a transfer) stays a third party.
   Voice distance alone never merges whole clusters: two telephone voices of different people can be closer (0.12
   seen on a real call) than one person's voice to itself;
3. labels are renumbered by first appearance, so the same input always gives the same speaker names.

The count's confidence: how clearly the voices that stayed apart are apart (``tanh(distance / 0.15)``), lowered by
any merge that was close to the line.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

RUNS_ON = 0.7  # share of a cluster's speaker changes into one other cluster that makes them one person


def centroids(z: np.ndarray, labels: np.ndarray, ks: Sequence[int]) -> np.ndarray:
    """The unit mean of each cluster's (normalised) embeddings, in the order of ``ks``."""
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
        cent = centroids(z, labels, large)
        labels[small] = np.array(large)[(z[small] @ cent.T).argmax(axis=1)]
    margins: list[float] = []
    while len(large) > parties:
        b = min(large, key=lambda k: ((labels == k).sum(), k))  # the smallest extra cluster
        rest = [k for k in large if k != b]
        adj = {k: v for k, v in adjacency(labels, times, b, step).items() if k in rest}
        cent = centroids(z, labels, rest + [b])
        dist = 1.0 - cent[:-1] @ cent[-1]
        a = max(adj, key=lambda k: (adj[k], -k)) if adj else None
        if a is not None and adj[a] >= RUNS_ON:  # its speech runs on into one cluster: the same person
            labels[labels == b] = a
            margins.append(adj[a] - RUNS_ON)
        elif float(dist.min()) < far:  # no clear partner, a near voice: a mixed cluster, window by window
            mine = labels == b
            labels[mine] = np.array(rest)[(z[mine] @ cent[:-1].T).argmax(axis=1)]
            margins.append(far - float(dist.min()))
        else:  # a far voice talking in turns of its own: a third party
            break
        large.remove(b)
    conf = 1.0
    if len(large) > 1:
        cent = centroids(z, labels, large)
        dist = 1.0 - cent @ cent.T
        np.fill_diagonal(dist, np.inf)
        conf = math.tanh(float(dist.min()) / 0.15)
    if margins:
        conf = min(conf, math.tanh(4 * min(margins)))
    order = sorted(large, key=lambda k: float(times[labels == k].min()))
    renum = {k: i for i, k in enumerate(order)}
    return np.array([renum[k] for k in labels], dtype=int), round(conf, 3)
