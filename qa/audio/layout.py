"""Channel layout: which channel is the agent, and whether a "stereo" file really is two parties."""

from __future__ import annotations

from typing import Literal

import numpy as np

from qa.types import Audio, Warning_

Layout = Literal["auto", "agent-left", "agent-right", "mono"]
LAYOUTS: tuple[str, ...] = ("auto", "agent-left", "agent-right", "mono")


def resolve_layout(audio: Audio, requested: str, explicit: bool = False) -> tuple[str, Audio, tuple[Warning_, ...]]:
    """Decide the effective layout and return audio shaped for it (1 channel for mono, 2 for stereo layouts).

    A two-channel file whose channels carry the same signal (a mono call saved as stereo) is treated as mono, and a
    mono file asked to be split (``explicit``: per call, in the manifest) is treated as mono; both are said in the
    warnings rather than silently changed. ``auto`` stays ``auto`` for a two-channel file: which side is the agent
    is decided after speech recognition (:mod:`qa.diarize.channel_roles`).
    """
    warnings: list[Warning_] = []
    samples = audio.samples
    if samples.shape[0] == 1:
        if requested not in ("mono", "auto") and explicit:
            warnings.append(Warning_("mono_file", f"layout '{requested}' asked for, but the file has one channel"))
        return "mono", audio, tuple(warnings)
    if requested == "mono":
        return "mono", _replace(audio, samples.mean(axis=0, keepdims=True)), ()
    if channels_identical(samples):
        warnings.append(
            Warning_("identical_channels", "both channels carry the same signal; processed as a mono recording")
        )
        return "mono", _replace(audio, samples[:1]), tuple(warnings)
    return requested, audio, ()


def channels_identical(samples: np.ndarray, tol: float = 0.995) -> bool:
    a, b = samples[0].astype(np.float64), samples[1].astype(np.float64)
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    if na == 0 or nb == 0:
        return False
    return float(a @ b / (na * nb)) > tol


def agent_channel(layout: str) -> int:
    return 1 if layout == "agent-right" else 0


def _replace(audio: Audio, samples: np.ndarray) -> Audio:
    return Audio(
        info=audio.info, samples=np.ascontiguousarray(samples, dtype=np.float32), sample_rate=audio.sample_rate
    )
