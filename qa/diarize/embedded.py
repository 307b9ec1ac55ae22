"""Speaker backend ``diarize.embedded``: offline clustering of speaker embeddings on one channel.

Steps: speech regions (energy activity joined with recognised words) -> windows of ``window_s`` every ``hop_s``
inside them -> one embedding per window (:mod:`qa.diarize.embeddings`: MFCC statistics or the resemblyzer encoder)
-> agglomerative clustering; the number of speakers is given (``num_speakers``) or found from the clustering
(cosine distance threshold, clamped to ``max_speakers``) and then settled into the call's parties
(:mod:`qa.diarize.parties`; a single cluster is split in two when the halves' words confirm an agent and a caller)
-> every speech frame takes the majority label of the windows covering it, runs shorter than ``min_segment_s`` are
merged into a neighbour -> speaker segments.
Words are then attributed by time overlap and turns built; roles come from :mod:`qa.diarize.roles`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from qa import intervals as iv
from qa.audio.activity import as_intervals
from qa.config import DiarizeConfig, TurnsConfig
from qa.diarize import backchannels
from qa.diarize.embeddings import HOP_S, Embedder, get_embedder, speech_mask
from qa.diarize.parties import centroids, settle_parties
from qa.diarize.turns import attribute
from qa.types import Audio, ChannelActivity, ChannelTranscript, Role, Speakers, SpeakerSegment


def speech_for_diarization(words, energy: np.ndarray, vad_speech) -> np.ndarray:
    """Recognised words, plus energetic signal where Silero also hears speech: words alone miss short utterances,
    energy alone counts chairs and paper as speech."""
    spans = iv.merge([(w.start, w.end) for w in words], gap=0.3)
    vouched = iv.intersect(energy, [(i.start, i.end) for i in vad_speech])
    return iv.drop_shorter(iv.merge(np.concatenate([spans, vouched]), gap=0.1), 0.1)


def windows_in(speech: np.ndarray, win_s: float, hop_s: float, min_s: float = 0.4) -> list[tuple[float, float]]:
    """Windows sliding through each speech region; a region shorter than a window is one window."""
    out = []
    for s, e in speech:
        if e - s < min_s:
            continue
        if e - s <= win_s:
            out.append((float(s), float(e)))
            continue
        starts = np.arange(s, e - win_s + 1e-9, hop_s)
        out.extend((float(a), float(a + win_s)) for a in starts)
        if starts[-1] + win_s < e - hop_s / 2:  # cover the tail
            out.append((float(e - win_s), float(e)))
    return out


def cluster(embs: np.ndarray, num_speakers: int | None, max_speakers: int, threshold: float) -> np.ndarray:
    """Average-linkage clustering on cosine distance. With ``num_speakers`` unset the tree is cut at ``threshold``
    and the count clamped to [1, max_speakers]."""
    from sklearn.cluster import AgglomerativeClustering

    n = len(embs)
    if n < 2:
        return np.zeros(n, dtype=int)
    z = normalised(embs)
    if num_speakers:
        k = min(num_speakers, n)
    else:
        labels = AgglomerativeClustering(
            n_clusters=None, distance_threshold=threshold, metric="cosine", linkage="average"
        ).fit_predict(z)
        # Tiny clusters (a few windows: a cough, a crosstalk burst) do not make a speaker.
        sizes = np.bincount(labels)
        k = int(np.clip((sizes >= max(2, 0.05 * n)).sum(), 1, max_speakers))
    if k == 1:
        return np.zeros(n, dtype=int)
    return AgglomerativeClustering(n_clusters=k, metric="cosine", linkage="average").fit_predict(z)


def voices(z: np.ndarray, labels: np.ndarray) -> dict[str, np.ndarray]:
    """Each cluster's voice (its centroid), named as its segments are."""
    ks = sorted(set(labels.tolist()))
    return {f"spk{k}": c for k, c in zip(ks, centroids(z, labels, ks), strict=True)}


def normalised(embs: np.ndarray) -> np.ndarray:
    z = embs - embs.mean(axis=0, keepdims=True) if embs.shape[1] != 256 else embs  # centre non-neural features
    return z / np.maximum(np.linalg.norm(z, axis=1, keepdims=True), 1e-9)


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
    """Relabel speech runs shorter than ``min_run`` frames with the label of the longer neighbouring run."""
    lab = labels.copy()
    for _ in range(5):
        edges = np.flatnonzero(np.diff(lab)) + 1
        starts = np.concatenate([[0], edges])
        ends = np.concatenate([edges, [len(lab)]])
        runs = list(zip(starts, ends, strict=True))
        changed = False
        for i, (s, e) in enumerate(runs):
            if lab[s] < 0 or e - s >= min_run:
                continue
            nbrs = [(runs[j][1] - runs[j][0], lab[runs[j][0]]) for j in (i - 1, i + 1) if 0 <= j < len(runs)]
            nbrs = [(length, lb) for length, lb in nbrs if lb >= 0]
            if nbrs:
                new = max(nbrs)[1]
                if new != lab[s]:
                    lab[s:e] = new
                    changed = True
        if not changed:
            break
    return lab


def segments_from_labels(labels: np.ndarray, speech: np.ndarray) -> list[SpeakerSegment]:
    out = []
    for k in sorted(set(labels[labels >= 0].tolist())):
        spans = iv.intersect(iv.from_mask(labels == k, HOP_S), speech)
        out.extend(SpeakerSegment(f"spk{k}", float(s), float(e)) for s, e in spans)
    return sorted(out, key=lambda s: (s.start, s.end))


SPLIT_MIN_ROLE_CONFIDENCE = 0.75
SPLIT_MIN_SHARE = 0.15


def split_confirmed(speakers: Speakers) -> float | None:
    """The count confidence of a forced two-voice split when its roles confirm it (one agent, one caller, the agent
    clearly so, each with at least ``SPLIT_MIN_SHARE`` of the speech); None when they do not."""
    if speakers.count != 2 or len(speakers.roles) != 2:
        return None
    if {r.role for r in speakers.roles} != {Role.AGENT, Role.CALLER}:
        return None
    conf = min(r.confidence for r in speakers.roles)
    talk = {r.speaker: 0.0 for r in speakers.roles}
    for s in speakers.segments:
        talk[s.speaker] = talk.get(s.speaker, 0.0) + s.end - s.start
    total = sum(talk.values()) or 1.0
    if conf < SPLIT_MIN_ROLE_CONFIDENCE or min(talk.values()) / total < SPLIT_MIN_SHARE:
        return None
    return round(conf, 3)


@dataclass
class EmbeddedDiarizer:
    config: DiarizeConfig
    turns_config: TurnsConfig
    name: str = "diarize.embedded"
    version: str = "3"
    embedder: Embedder = field(init=False)

    def __post_init__(self) -> None:
        self.embedder = get_embedder(self.config.embedding)
        backchannels_on = self.config.backchannels and self.embedder.name == "resemblyzer"
        self.version = f"{4 if backchannels_on else 3}-{self.embedder.name}"

    def load(self) -> None:
        import sklearn.cluster  # noqa: F401

        self.embedder.load()

    def diarize(
        self, x: np.ndarray, rate: int, speech: np.ndarray, split: bool = False
    ) -> tuple[list[SpeakerSegment], float | None, dict[str, np.ndarray]]:
        """Who speaks when, within the given speech regions (seconds), and how sure the speaker count is.
        ``split``: cut the windows into two voices (Ward linkage, which does not isolate outliers as average linkage
        does) whatever the threshold says; see :meth:`__call__`."""
        mask = speech_mask(x, rate, speech)
        n_frames = len(mask)
        wins = windows_in(speech, self.config.window_s, self.config.hop_s)
        if not wins:
            return [SpeakerSegment("spk0", float(s), float(e)) for s, e in speech], 0.0, {}
        embs = self.embedder.embed(x, rate, wins, mask)
        threshold = self.config.threshold.get(self.embedder.name, 0.5)
        if split and len(embs) >= 4:
            from sklearn.cluster import AgglomerativeClustering

            labels = AgglomerativeClustering(n_clusters=2, linkage="ward").fit_predict(normalised(embs))
        else:
            labels = cluster(embs, self.config.num_speakers, self.config.max_speakers, threshold)
        count_conf = 1.0 if self.config.num_speakers else None
        if not self.config.num_speakers and self.config.parties:
            times = np.array([(a + b) / 2 for a, b in wins])
            labels, count_conf = settle_parties(
                normalised(embs), labels, times, self.config.parties, step=self.config.hop_s * 1.5
            )
        spans = np.array([(int(s / HOP_S), min(int(e / HOP_S), n_frames)) for s, e in wins])
        frames = frame_labels(n_frames, spans, labels, int(labels.max()) + 1)
        frames[~mask] = -1
        frames = smooth(frames, int(self.config.min_segment_s / HOP_S))
        return segments_from_labels(frames, speech), count_conf, voices(normalised(embs), labels)

    def _backchannels(self, x, rate, speech, words, segments, voice) -> list[SpeakerSegment]:
        """Short "okay / uh-huh" runs inside one speaker's speech given back to the voice that said them
        (qa/diarize/backchannels.py)."""
        if not self.config.backchannels or self.embedder.name != "resemblyzer":  # MFCC vectors are call-centred
            return segments
        mask = speech_mask(x, rate, speech)

        def embed_spans(spans: list[tuple[float, float]]) -> np.ndarray:
            return normalised(self.embedder.embed(x, rate, spans, mask))

        out, _ = backchannels.reassign(words, segments, voice, embed_spans)
        return out

    def __call__(
        self,
        audio: Audio,
        layout: str,
        transcripts: tuple[ChannelTranscript, ...],
        activity: tuple[ChannelActivity, ...],
    ) -> Speakers:
        words = [w for tr in transcripts for w in tr.words]
        speech = speech_for_diarization(words, as_intervals(activity[0]), transcripts[0].vad_speech)
        x, rate, gap = audio.samples[0], audio.sample_rate, self.turns_config.max_gap_s
        segments, count_conf, voice = self.diarize(x, rate, speech)
        segments = self._backchannels(x, rate, speech, words, segments, voice)
        speakers = replace(attribute(self.name, segments, words, gap), count_confidence=count_conf)
        if speakers.count == 1 and self.config.parties >= 2 and not self.config.num_speakers:
            # Two similar voices can fall into one cluster. Split them by voice, and keep the split only when what the
            # two halves say confirms it: one clearly the agent, the other the caller, both with a real share of speech.
            split, _, voice = self.diarize(x, rate, speech, split=True)
            split = self._backchannels(x, rate, speech, words, split, voice)
            alt = attribute(self.name, split, words, gap)
            confirmed = split_confirmed(alt)
            if confirmed is not None:
                return replace(alt, count_confidence=confirmed)
        return speakers
