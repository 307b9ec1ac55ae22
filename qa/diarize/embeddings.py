"""Speaker embeddings for windows of one channel: two swappable sources behind one small interface.

- ``mfcc``: statistics (mean, std) of 19 MFCCs over each window, 300-3400 Hz so that wideband and telephone audio
  look alike. No model, no torch; cheap.
- ``resemblyzer``: the pretrained GE2E speaker encoder shipped inside the ``resemblyzer`` package (needs torch; the
  ``callqa[diarize]`` extra). 40-band mel frames at 16 kHz, 1.6 s partials, 256-d L2-normalised embeddings.
"""

from __future__ import annotations

import functools
import weakref
from collections.abc import Sequence
from typing import Protocol

import numpy as np

HOP_S = 0.01


def speech_mask(x: np.ndarray, rate: int, speech: Sequence[tuple[float, float]] | np.ndarray) -> np.ndarray:
    """The 10 ms frames of a channel (``x`` at ``rate``) inside the speech regions (seconds): what ``embed`` reads."""
    mask = np.zeros(int(len(x) / rate / HOP_S) + 1, dtype=bool)
    for s, e in speech:
        mask[int(s / HOP_S) : int(e / HOP_S)] = True
    return mask


class Embedder(Protocol):
    name: str

    def load(self) -> None: ...

    def embed(
        self, x: np.ndarray, rate: int, windows: Sequence[tuple[float, float]], speech_mask: np.ndarray
    ) -> np.ndarray:
        """One row per window; ``speech_mask`` marks 10 ms frames that are speech."""
        ...


class MfccEmbedder:
    name = "mfcc"

    def load(self) -> None:
        import librosa  # noqa: F401 - pay the import once per worker

    def embed(self, x, rate, windows, speech_mask):
        import librosa

        feats = librosa.feature.mfcc(
            y=x,
            sr=rate,
            n_mfcc=20,
            n_fft=512,
            win_length=400,
            hop_length=int(HOP_S * rate),
            n_mels=40,
            fmin=300,
            fmax=3400,
        )[1:].T
        feats = feats - feats.mean(axis=0, keepdims=True)
        out = []
        n = min(len(feats), len(speech_mask))
        for s, e in windows:
            a, b = int(s / HOP_S), min(int(e / HOP_S), n)
            f = feats[a:b][speech_mask[a:b]]
            f = f if len(f) >= 2 else feats[a : max(b, a + 2)]
            out.append(np.concatenate([f.mean(axis=0), f.std(axis=0)]))
        return np.array(out).reshape(len(out), -1)


@functools.lru_cache(maxsize=1)
def _voice_encoder():
    import warnings

    with warnings.catch_warnings():  # resemblyzer's webrtcvad imports the deprecated pkg_resources; not ours to fix
        warnings.simplefilter("ignore")
        from resemblyzer import VoiceEncoder

    return VoiceEncoder(device="cpu", verbose=False)


class ResemblyzerEmbedder:
    name = "resemblyzer"
    PARTIAL_FRAMES = 160  # 1.6 s of 10 ms mel frames, what the encoder was trained on

    def __init__(self) -> None:
        self._mel: tuple[weakref.ref[np.ndarray], np.ndarray] | None = None

    def load(self) -> None:
        _voice_encoder()

    def _mel_of(self, x: np.ndarray) -> np.ndarray:
        """The channel's mel frames, computed once per signal: a call embeds its windows, then its backchannels (and,
        for one cluster, a forced split) from the same signal."""
        from resemblyzer.audio import wav_to_mel_spectrogram

        if self._mel is not None and self._mel[0]() is x:
            return self._mel[1]
        mel = wav_to_mel_spectrogram(x.astype(np.float32))  # (frames, 40), 10 ms hop
        self._mel = (weakref.ref(x), mel)
        return mel

    def embed(self, x, rate, windows, speech_mask):
        import torch

        enc = _voice_encoder()
        if rate != 16000:
            raise ValueError("resemblyzer expects 16 kHz audio")
        mel = self._mel_of(x)
        batch = []
        for s, e in windows:
            a = int(s / HOP_S)
            b = max(a + 1, min(int(e / HOP_S), len(mel)))
            seg = mel[a:b]
            if len(seg) < self.PARTIAL_FRAMES:  # pad short windows by repeating them
                seg = np.resize(seg, (self.PARTIAL_FRAMES, mel.shape[1]))
            batch.append(seg[: self.PARTIAL_FRAMES])
        if not batch:
            return np.zeros((0, 256))
        with torch.no_grad():
            emb = enc(torch.from_numpy(np.stack(batch)).float()).numpy()
        return emb


EMBEDDERS = {"mfcc": MfccEmbedder, "resemblyzer": ResemblyzerEmbedder}


def get_embedder(name: str) -> Embedder:
    """``auto`` picks resemblyzer when it and torch are installed (lower DER in bench/diarization.py), else mfcc."""
    if name == "auto":
        import importlib.util

        have = all(importlib.util.find_spec(m) for m in ("torch", "resemblyzer"))
        name = "resemblyzer" if have else "mfcc"
    try:
        return EMBEDDERS[name]()
    except KeyError:
        raise ValueError(f"unknown embedding '{name}'; choose from {', '.join(EMBEDDERS)}") from None
