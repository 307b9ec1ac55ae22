"""Which channel of a two-channel call is the agent, decided from what each channel says over the whole call.

Modes (``audio.channels`` in the config):

- ``auto`` (default): each channel's words are scored with the role cues of :mod:`qa.diarize.roles`; the manifest's
  layout for the call (or ``audio.channel_prior``) is a prior worth ``PRIOR_WEIGHT`` cue points. A call whose cues
  contradict the prior by more than that is decided by its cues, with a ``layout_overridden`` warning naming them.
  With no prior and no cues the call falls back to ``agent-left`` with confidence 0 and a ``roles_undecided`` warning.
- ``agent-left`` / ``agent-right`` (fixed): the layout is kept as configured; a call that contradicts it by more than
  ``PRIOR_WEIGHT`` gets a ``layout_contradicted`` warning with the evidence, and a low role confidence.

Confidence is on the scale of :func:`qa.diarize.roles.confidence`: ``tanh(support / 4)``, where support is the cue
margin for the chosen side plus the prior's weight when a prior points the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from qa.diarize.roles import RoleEvidence, confidence, evidence
from qa.diarize.turns import build_turns
from qa.types import ChannelTranscript, Role, SpeakerRole, Warning_

PRIOR_WEIGHT = 4.0
SIDES = ("agent-left", "agent-right")


@dataclass(frozen=True, slots=True)
class ChannelDecision:
    layout: str  # agent-left | agent-right
    confidence: float
    method: str
    evidence: tuple[RoleEvidence, ...]
    warnings: tuple[Warning_, ...] = ()

    def roles(self) -> tuple[SpeakerRole, ...]:
        agent = SIDES.index(self.layout)
        return tuple(
            SpeakerRole(channel_label(ch), Role.AGENT if ch == agent else Role.CALLER, self.confidence, self.method)
            for ch in range(2)
        )


def channel_label(channel: int) -> str:
    return f"ch{channel}"


def channel_evidence(transcripts: Sequence[ChannelTranscript], max_gap_s: float) -> tuple[RoleEvidence, RoleEvidence]:
    words, owners = [], []
    for tr in transcripts[:2]:
        words.extend(tr.words)
        owners.extend([channel_label(tr.channel)] * len(tr.words))
    turns = build_turns(words, owners, {}, max_gap_s)
    ev = evidence(turns, [channel_label(0), channel_label(1)])
    return ev[channel_label(0)], ev[channel_label(1)]


def decide_channels(
    transcripts: Sequence[ChannelTranscript], requested: str, auto: bool, prior: str | None, max_gap_s: float
) -> ChannelDecision:
    """``requested``: the configured or manifest layout (used when not ``auto``); ``prior``: the layout expected
    under ``auto`` (manifest or config), or None."""
    left, right = channel_evidence(transcripts, max_gap_s)
    margin = right.net - left.net  # > 0: the right channel sounds like the agent
    said = f"{_describe(left, 'left')}; {_describe(right, 'right')}"
    call_side = "agent-right" if margin > 0 else "agent-left" if margin < 0 else None
    if not auto:
        side = requested if requested in SIDES else "agent-left"
        against = -margin if side == "agent-right" else margin
        support = PRIOR_WEIGHT - against
        warnings: tuple[Warning_, ...] = ()
        if against > PRIOR_WEIGHT:
            warnings = (
                Warning_(
                    "layout_contradicted",
                    f"channel layout {side} is configured, but the call sounds like {call_side} ({said}); roles kept "
                    "as configured: check the manifest, or set audio.channels to auto",
                ),
            )
        return ChannelDecision(side, confidence(support), f"configured layout {side}; {said}", (left, right), warnings)
    sign = {"agent-right": 1.0, "agent-left": -1.0}.get(prior or "", 0.0)
    score = margin + sign * PRIOR_WEIGHT
    if score == 0:
        side = prior if prior in SIDES else "agent-left"
        warn = Warning_("roles_undecided", f"neither channel shows agent cues ({said}); assumed {side}")
        return ChannelDecision(side, 0.0, f"undecided, assumed {side}; {said}", (left, right), (warn,))
    side = "agent-right" if score > 0 else "agent-left"
    how = f"decided from the call (auto{', prior ' + prior if prior else ''}); {said}"
    warnings = ()
    if prior in SIDES and side != prior:
        warnings = (
            Warning_(
                "layout_overridden",
                f"the manifest/config says {prior}, but the call strongly says {side} ({said}); used {side}",
            ),
        )
    return ChannelDecision(side, confidence(abs(score)), how, (left, right), warnings)


def _describe(ev: RoleEvidence, side: str) -> str:
    return f"{side} {ev.summary().split(': ', 1)[1]}"
