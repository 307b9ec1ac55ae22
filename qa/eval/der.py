"""Diarization error rate, NIST md-eval style: a no-score collar around reference boundaries, optional exclusion of
overlapped reference speech, and the optimal one-to-one speaker mapping (Hungarian algorithm).

DER = (missed speech + false alarm + speaker confusion) / scored reference speech, all time-weighted.
Reproduces md-eval's 7.169 % on SpeechBrain's AMI ES2014c conformance pair (collar 0.25 s, overlap ignored).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from qa import intervals as iv
from qa.types import SpeakerSegment


@dataclass(frozen=True, slots=True)
class DerResult:
    scored_s: float  # reference speech in the scored region
    missed_s: float
    false_alarm_s: float
    confusion_s: float
    mapping: tuple[tuple[str, str], ...]  # (reference speaker, system speaker)

    @property
    def der(self) -> float:
        return (self.missed_s + self.false_alarm_s + self.confusion_s) / self.scored_s if self.scored_s else 0.0

    def __add__(self, other: DerResult) -> DerResult:
        return DerResult(
            self.scored_s + other.scored_s,
            self.missed_s + other.missed_s,
            self.false_alarm_s + other.false_alarm_s,
            self.confusion_s + other.confusion_s,
            self.mapping + other.mapping,
        )


def diarization_error(
    reference: Sequence[SpeakerSegment],
    hypothesis: Sequence[SpeakerSegment],
    collar: float = 0.25,
    skip_overlap: bool = False,
    uem: tuple[float, float] | None = None,
    mapping: Mapping[str, str] | None = None,
) -> DerResult:
    """``mapping`` (reference speaker -> system speaker) fixes the mapping instead of choosing the best one: with
    role labels on both sides this is the role-attributed error (:func:`role_error`)."""
    from scipy.optimize import linear_sum_assignment

    ref_spk = sorted({s.speaker for s in reference})
    hyp_spk = sorted({s.speaker for s in hypothesis})
    ref = {k: iv.merge([(s.start, s.end) for s in reference if s.speaker == k]) for k in ref_spk}
    hyp = {k: iv.merge([(s.start, s.end) for s in hypothesis if s.speaker == k]) for k in hyp_spk}
    if uem is None:  # md-eval without a UEM scores the extent of the reference
        uem = (min((s.start for s in reference), default=0.0), max((s.end for s in reference), default=0.0))
    scored = iv.as_array([uem])
    if collar > 0 and reference:
        bounds = np.array([b for s in reference for b in (s.start, s.end)])
        scored = iv.subtract(scored, np.stack([bounds - collar, bounds + collar], axis=1))
    # Elementary regions between every boundary; in each, who speaks in the reference and in the hypothesis.
    edges = np.unique(
        np.concatenate([scored.ravel(), *[a.ravel() for a in ref.values()], *[a.ravel() for a in hyp.values()]])
    )
    if len(edges) < 2:
        return DerResult(0.0, 0.0, 0.0, 0.0, ())
    starts, ends = edges[:-1], edges[1:]
    mids = (starts + ends) / 2
    dur = ends - starts
    in_scored = iv._contains(scored, mids) if len(scored) else np.zeros(len(mids), bool)
    R = np.array([iv._contains(ref[k], mids) if len(ref[k]) else np.zeros(len(mids), bool) for k in ref_spk]).reshape(
        len(ref_spk), len(mids)
    )
    H = np.array([iv._contains(hyp[k], mids) if len(hyp[k]) else np.zeros(len(mids), bool) for k in hyp_spk]).reshape(
        len(hyp_spk), len(mids)
    )
    n_ref, n_hyp = R.sum(axis=0), H.sum(axis=0)
    keep = in_scored & ((n_ref <= 1) if skip_overlap else True)
    w = dur * keep
    # Optimal mapping maximises the time where a reference speaker and their mapped system speaker both speak.
    overlap = np.zeros((len(ref_spk), len(hyp_spk)))
    if overlap.size:
        overlap = (R[:, None, :] & H[None, :, :]) @ w
    if mapping is not None:
        pairs = [(ref_spk.index(r), hyp_spk.index(h)) for r, h in mapping.items() if r in ref_spk and h in hyp_spk]
        rows, cols = np.array([p[0] for p in pairs], int), np.array([p[1] for p in pairs], int)
    elif overlap.size:
        rows, cols = linear_sum_assignment(-overlap)
    else:
        rows, cols = np.array([], int), np.array([], int)
    correct = np.zeros(len(mids))
    for r, c in zip(rows, cols, strict=True):
        correct += R[r] & H[c]
    scored_s = float((n_ref * w).sum())
    missed = float((np.maximum(n_ref - n_hyp, 0) * w).sum())
    fa = float((np.maximum(n_hyp - n_ref, 0) * w).sum())
    conf = float(((np.minimum(n_ref, n_hyp) - correct) * w).sum())
    mapping = tuple((ref_spk[r], hyp_spk[c]) for r, c in zip(rows, cols, strict=True))
    return DerResult(scored_s, missed, fa, conf, mapping)


def role_error(
    reference: Sequence[SpeakerSegment],
    hypothesis: Sequence[SpeakerSegment],
    collar: float = 0.0,
    skip_overlap: bool = False,
    uem: tuple[float, float] | None = None,
) -> DerResult:
    """Role-attributed error: missed speech + false alarm + speech given the wrong role, over reference speech.

    Both sides are labelled by role (``agent``, ``caller``; a system speaker without a role keeps its own label and
    so counts as wrong). Every system speaker with the same role is one party here, so two clusters of the agent's
    voice both called agent cost nothing; a swapped call costs all its speech.
    """
    return diarization_error(
        reference, hypothesis, collar, skip_overlap, uem, mapping={"agent": "agent", "caller": "caller"}
    )
