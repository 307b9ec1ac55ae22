"""Which speaker is the agent: what they say (greeting, "311", their name, asking for the address, giving the request
number, "anything else") and who speaks first. Returns a role and a confidence per speaker.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace

from qa.types import Role, SpeakerRole, Speakers, Turn

# (pattern, weight): phrases a 311 agent says and a caller rarely does.
AGENT_CUES: tuple[tuple[re.Pattern[str], float], ...] = tuple(
    (re.compile(p, re.I), w)
    for p, w in (
        (r"\b(311|3[\s-]*1[\s-]*1|three[\s-]+one[\s-]+one)\b", 2.0),
        (r"\bthank(s| you) for calling\b", 3.0),
        (r"\bcity of \w+", 1.5),
        (r"\b(my name is|this is \w+ speaking|you('ve| have) reached)\b", 2.0),
        (r"\bhow (can|may) i (help|assist)\b", 3.0),
        (
            r"\b(what is|what's|can i have|may i have) (the|your) (address|location|cross streets?|request number)\b",
            2.0,
        ),
        (r"\b(your|the) (service )?request number is\b", 3.0),
        (r"\b(is there )?anything else (i can|today)\b", 2.0),
        (r"\b(place|put) you on (a )?(brief )?hold\b", 2.0),
        (r"\bthank you for (holding|your patience)\b", 2.0),
    )
)
FIRST_SPEAKER_BONUS = 1.0


def agent_score(texts: Sequence[str]) -> float:
    joined = " ".join(texts)
    return sum(w * len(p.findall(joined)) for p, w in AGENT_CUES)


def assign_roles(turns: Sequence[Turn], speakers: Sequence[str]) -> tuple[SpeakerRole, ...]:
    if not speakers:
        return ()
    scores = {s: agent_score([t.text for t in turns if t.speaker == s]) for s in speakers}
    first = next((t.speaker for t in turns if t.words), None)
    if first in scores:
        scores[first] += FIRST_SPEAKER_BONUS
    if len(speakers) == 1:
        s = speakers[0]
        role = Role.AGENT if scores[s] >= 4 else Role.UNKNOWN
        return (SpeakerRole(s, role, 0.5 if role is Role.AGENT else 0.0, "single speaker"),)
    ranked = sorted(speakers, key=lambda s: -scores[s])
    agent, runner_up = ranked[0], ranked[1]
    margin = scores[agent] - scores[runner_up]
    conf = round(margin / (margin + 2.0), 3) if margin > 0 else 0.0
    out = []
    for s in speakers:
        if s == agent and margin > 0:
            out.append(SpeakerRole(s, Role.AGENT, conf, f"agent cues {scores[s]:.1f} vs {scores[runner_up]:.1f}"))
        elif margin > 0:
            out.append(SpeakerRole(s, Role.CALLER, conf, f"agent cues {scores[s]:.1f}; {agent} is the agent"))
        else:
            out.append(SpeakerRole(s, Role.UNKNOWN, 0.0, "no speaker shows agent cues"))
    return tuple(out)


def pin_roles(speakers: Speakers, first: str) -> Speakers:
    """Override automatic roles from call metadata: ``first`` is ``agent-first`` or ``caller-first`` (who speaks
    first in the call). The other speaker(s) get the opposite role; confidence 1.0, method says it was pinned."""
    first_speaker = next((t.speaker for t in speakers.turns if t.words), None)
    if first_speaker is None:
        return speakers
    lead, other = (Role.AGENT, Role.CALLER) if first == "agent-first" else (Role.CALLER, Role.AGENT)
    role_of = {r.speaker: (lead if r.speaker == first_speaker else other) for r in speakers.roles}
    roles = tuple(
        SpeakerRole(r.speaker, role_of[r.speaker], 1.0, f"pinned by metadata ({first})") for r in speakers.roles
    )
    turns = tuple(replace(t, role=role_of.get(t.speaker, t.role)) for t in speakers.turns)
    return replace(speakers, roles=roles, turns=turns)
