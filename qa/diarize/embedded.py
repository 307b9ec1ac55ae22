"""Speaker backend ``diarize.embedded``: offline clustering of acoustic embeddings on one channel.

Steps: speech regions (energy activity joined with recognised words) -> 1.5 s windows every 0.75 s -> an embedding per
window (MFCC statistics from librosa, 300-3400 Hz so that wideband and telephone audio look alike) -> agglomerative
clustering (Ward) with the number of speakers chosen by silhouette score (1 when no split is convincing) -> every
speech frame takes the majority label of the windows covering it, short runs are smoothed away -> speaker segments.
Words are then attributed by time overlap and turns built; roles come from :mod:`qa.diarize.roles`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from qa.config import DiarizeConfig, TurnsConfig
from qa.diarize.base import activity_array
from qa.diarize.roles import assign_roles
from qa.diarize.turns import assign_words, build_turns
from qa.metrics import intervals as iv
from qa.types import Audio, ChannelActivity, ChannelTranscript, Speakers, SpeakerSegment

HOP_S = 0.01


def mfcc_frames(x: np.ndarray, rate: int) -> np.ndarray:
    """(frames, 19) MFCCs without c0, mean-normalised over the recording, 25 ms windows every 10 ms."""
    import librosa

    m = librosa.feature.mfcc(
        y=x, sr=rate, n_mfcc=20, n_fft=512, win_length=400, hop_length=int(HOP_S * rate), n_mels=40, fmin=300, fmax=3400
    )[1:].T
    return m - m.mean(axis=0, keepdims=True)


def window_embeddings(
    feats: np.ndarray, speech: np.ndarray, win_s: float, hop_s: float
) -> tuple[np.ndarray, np.ndarray]:
    """Embeddings (mean and std of MFCCs over speech frames) of windows sliding through each speech region."""
    n = len(feats)
    is_speech = np.zeros(n, dtype=bool)
    for s, e in speech:
        is_speech[int(s / HOP_S) : int(e / HOP_S)] = True
    spans, embs = [], []
    w, h = int(win_s / HOP_S), int(hop_s / HOP_S)
    for s, e in speech:
        a, b = int(s / HOP_S), min(int(e / HOP_S), n)
        starts = list(range(a, max(a + 1, b - w + 1), h)) if b - a >= w else [a]
        for st in starts:
            en = min(st + w, b)
            f = feats[st:en][is_speech[st:en]]
            if len(f) < 20:  # under 0.2 s of speech: too little to say who it is
                continue
            spans.append((st, en))
            embs.append(np.concatenate([f.mean(axis=0), f.std(axis=0)]))
    return np.array(spans, dtype=int).reshape(-1, 2), np.array(embs).reshape(len(embs), -1)


def cluster(embs: np.ndarray, max_speakers: int, min_silhouette: float) -> np.ndarray:
    """Labels per window; the count maximises the silhouette score, 1 speaker when none reaches ``min_silhouette``."""
    from sklearn.cluster import AgglomerativeClustering
    from sklearn.metrics import silhouette_score
    from sklearn.preprocessing import StandardScaler

    if len(embs) < 4:
        return np.zeros(len(embs), dtype=int)
    z = StandardScaler().fit_transform(embs)
    best, best_score = np.zeros(len(embs), dtype=int), min_silhouette
    for k in range(2, min(max_speakers, len(embs) - 1) + 1):
        labels = AgglomerativeClustering(n_clusters=k, linkage="ward").fit_predict(z)
        score = silhouette_score(z, labels)
        if score > best_score:
            best, best_score = labels, score
    return best


def frame_labels(n_frames: int, spans: np.ndarray, labels: np.ndarray, n_labels: int) -> np.ndarray:
    """Majority vote of the windows covering each frame (-1 where no window covers it)."""
    votes = np.zeros((n_frames + 1, n_labels))
    for (a, b), lab in zip(spans, labels, strict=True):
        votes[a, lab] += 1
        votes[b, lab] -= 1
    votes = np.cumsum(votes, axis=0)[:n_frames]
    out = votes.argmax(axis=1)
    out[votes.max(axis=1) <= 0] = -1
    return out


def smooth(labels: np.ndarray, min_run: int) -> np.ndarray:
    """Relabel runs shorter than ``min_run`` frames with the label of the longer neighbour (repeat until stable)."""
    lab = labels.copy()
    for _ in range(5):
        edges = np.flatnonzero(np.diff(lab)) + 1
        starts = np.concatenate([[0], edges])
        ends = np.concatenate([edges, [len(lab)]])
        changed = False
        for i, (s, e) in enumerate(zip(starts, ends, strict=True)):
            if lab[s] < 0 or e - s >= min_run:
                continue
            left = lab[starts[i - 1]] if i > 0 else -1
            right = lab[s if i + 1 >= len(starts) else starts[i + 1]] if i + 1 < len(starts) else -1
            left_len = ends[i - 1] - starts[i - 1] if i > 0 else 0
            right_len = ends[i + 1] - starts[i + 1] if i + 1 < len(starts) else 0
            new = left if (left >= 0 and left_len >= right_len) or right < 0 else right
            if new >= 0 and new != lab[s]:
                lab[s:e] = new
                changed = True
        if not changed:
            break
    return lab


def segments_from_labels(labels: np.ndarray, speech: np.ndarray) -> list[SpeakerSegment]:
    out = []
    for k in sorted(set(labels[labels >= 0].tolist())):
        spans = iv.from_mask(labels == k, HOP_S)
        spans = iv.intersect(spans, speech)
        out.extend(SpeakerSegment(f"spk{k}", float(s), float(e)) for s, e in spans)
    return sorted(out, key=lambda s: (s.start, s.end))


@dataclass
class EmbeddedDiarizer:
    config: DiarizeConfig
    turns_config: TurnsConfig
    name: str = "diarize.embedded"
    version: str = "1"

    def load(self) -> None:
        import librosa  # noqa: F401 - pay the import once per worker, not on the first call
        import sklearn.cluster  # noqa: F401

    def diarize(self, x: np.ndarray, rate: int, speech: np.ndarray) -> list[SpeakerSegment]:
        feats = mfcc_frames(x, rate)
        spans, embs = window_embeddings(feats, speech, self.config.window_s, self.config.hop_s)
        if len(embs) == 0:
            return [SpeakerSegment("spk0", float(s), float(e)) for s, e in speech]
        labels = cluster(embs, self.config.max_speakers, self.config.min_silhouette)
        frames = frame_labels(len(feats), spans, labels, int(labels.max()) + 1)
        frames = smooth(frames, int(self.config.min_segment_s / HOP_S))
        return segments_from_labels(frames, speech)

    def __call__(
        self,
        audio: Audio,
        layout: str,
        transcripts: tuple[ChannelTranscript, ...],
        activity: tuple[ChannelActivity, ...],
    ) -> Speakers:
        words = [w for tr in transcripts for w in tr.words]
        energy = activity_array(activity[0])
        speech = iv.merge(np.concatenate([energy, iv.as_array([(w.start, w.end) for w in words])]), gap=0.1)
        segments = self.diarize(audio.samples[0], audio.sample_rate, speech)
        owners = assign_words(words, segments)
        provisional = build_turns(words, owners, {}, self.turns_config.max_gap_s)
        roles = assign_roles(provisional, sorted({s.speaker for s in segments}))
        role_of = {r.speaker: r.role for r in roles}
        turns = build_turns(words, owners, role_of, self.turns_config.max_gap_s)
        return Speakers(self.name, tuple(segments), turns, roles)
