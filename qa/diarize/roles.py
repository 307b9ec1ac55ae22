"""Which speaker is the agent, read from the whole call: what each speaker says from the first word to the last.

Every speaker's turns are scored against named cues: things an agent says and a caller rarely does (offering help,
"thank you for calling", asking for the address, giving the request number, "anything else", holds, "let me check",
"you're welcome") and things a caller says and an agent rarely does (stating a need, asking for help, "thanks for your
help", "that's all", "my street", "third time I'm calling"). A cue counts at most ``CUE_CAP`` times, so one phrase an
agent repeats cannot outvote the rest of the call. Speaking first is a weak cue: on 311 lines the agent answers, but on
many phone systems the caller says "hello" first.

The agent is the speaker with the highest net score (agent cues minus caller cues); the confidence is
``tanh(margin / 4)``: 0 is a coin toss, 0.64 is one "how can I help" more, 0.9 about two strong cues more. Evidence
names cues only, never what was said (transcripts are personal data).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

from qa.types import Role, SpeakerRole, Speakers, Turn


def _cues(table: tuple[tuple[str, str, float], ...]) -> tuple[tuple[str, re.Pattern[str], float], ...]:
    return tuple((name, re.compile(p), w) for name, p, w in table)


# (name, pattern over lower-cased text without punctuation, weight)
AGENT_CUES = _cues(
    (
        ("311", r"\b(311|3 1 1|three one one)\b", 2.0),
        ("thanks for calling", r"\bthank(s| you)( very much)? for (your )?calling\b", 3.0),
        ("service greeting", r"\b(customer service|service cent(er|re)|city of [a-z]+)\b", 1.5),
        ("introduces self", r"\b(my name is|you ve reached|you have reached)\b", 1.0),
        ("offers help", r"\b(how|what) (can|may|could|do) (i|we) (help|assist|do for)\b|\b(can|may) i help you\b", 3.0),
        (
            "asks for details",
            r"\b(what is|what s|can i (have|get)|may i (have|get)|could i (have|get)|could you (give|tell) me) "
            r"(the|your) ([a-z]+ )?(address|location|cross streets?|name|phone|number|email|date|zip|postcode)\b",
            2.0,
        ),
        ("gives request number", r"\byour ([a-z]+ ){0,2}number is\b", 3.0),
        ("reference number", r"\b(request|reference|confirmation|ticket|case) number\b", 1.0),
        ("anything else I can do", r"\banything (else )?(that )?(i|we) can (do|help|assist)\b", 2.5),
        ("anything else", r"\b(anything else|is there anything)\b", 1.0),
        (
            "hold",
            r"\b(place|put) you on (a )?(brief |short )?hold\b|\b(hold on|wait) (a |one )?(second|moment|minute)\b"
            r"|\bjust a (second|moment|minute)\b|\bbear with me\b",
            1.5,
        ),
        ("thanks for holding", r"\bthank(s| you) for (holding|waiting|your patience)\b", 2.0),
        (
            "looks it up",
            r"\blet me (check|look|see|pull|find|search|confirm|get|transfer|connect)\b"
            r"|\bi ll (check|look|send|create|file|submit|escalate|book|transfer|put)\b"
            r"|\bi (have )?found\b|\bi can (find|book|offer|send|create|recommend)\b",
            1.5,
        ),
        (
            "request made",
            r"\b(booking|reservation|request|report|ticket) (is|was|has been) "
            r"(successful|made|created|submitted|filed|booked|confirmed|complete|entered)\b"
            r"|\bi (ve|have) (booked|created|submitted|filed|made|entered|logged|escalated)\b",
            2.0,
        ),
        (
            "you're welcome",
            r"\b(you re|you are) (most |very )?welcome\b|\bmy pleasure\b|\bglad (to|i could) help\b",
            1.5,
        ),
        ("empathy", r"\b(i m|i am) (so |very )?sorry (to hear|about that|for the|you)\b|\bi apologi[sz]e\b", 1.0),
        ("acknowledges", r"\b(of course|certainly|no problem|absolutely)\b", 0.5),
    )
)
CALLER_CUES = _cues(
    (
        ("states a need", r"\bi (m|am) (looking for|calling (about|to|because|for)|trying to)\b", 2.0),
        (
            "wants",
            r"\bi (need|want|d like|would like) (to|a|an|some|help|someone|information|you to|the city)\b",
            1.5,
        ),
        ("asks for help", r"\b(can|could|would) you (please )?(help|assist|book|find|check|send someone)\b", 1.5),
        ("reports", r"\b(report|complain|make a complaint) (about|a|an|that|the)\b", 1.0),
        (
            "thanks for help",
            r"\bthank(s| you)( so much| very much)? for (your|the|all your) (help|assistance|info)",
            2.0,
        ),
        ("that's all", r"\b(that s|that is|that was) (all|everything)\b|\bi (m|am) all set\b|\bthat s all i need", 1.5),
        ("history", r"\b(the|my) (second|third|fourth|fifth) time\b|\bi (ve|have) (called|been calling)\b", 1.5),
        (
            "my place",
            r"\b(my|our) (street|house|home|car|trash|garbage|bin|neighbou?rs?|building|apartment|yard|driveway"
            r"|block|kids|family|wife|husband)\b",
            1.0,
        ),
    )
)
CUE_CAP = 3
FIRST_SPEAKER = ("speaks first", 0.5)
CONFIDENCE_SCALE = 4.0

_PUNCT = re.compile(r"[^\w\s]")


def normalise(text: str) -> str:
    """Lower case, punctuation to spaces (ASR text has it, reference transcripts do not), single spaces."""
    return " ".join(_PUNCT.sub(" ", text.lower()).split())


@dataclass(frozen=True, slots=True)
class RoleEvidence:
    """What one speaker's words say about their role: cue names with counts, never the words themselves."""

    speaker: str
    agent: float
    caller: float
    cues: tuple[tuple[str, int], ...]

    @property
    def net(self) -> float:
        return self.agent - self.caller

    def summary(self) -> str:
        named = ", ".join(f"{n} x{c}" if c > 1 else n for n, c in self.cues) or "no cues"
        return f"{self.speaker}: agent {self.agent:.1f} / caller {self.caller:.1f} ({named})"


def _count(table, text: str) -> tuple[float, list[tuple[str, int]]]:
    score, fired = 0.0, []
    for name, pat, w in table:
        n = min(len(pat.findall(text)), CUE_CAP)
        if n:
            score += w * n
            fired.append((name, n))
    return score, fired


def evidence(turns: Sequence[Turn], speakers: Sequence[str]) -> dict[str, RoleEvidence]:
    """Cue scores of each speaker over all of their turns."""
    first = next((t.speaker for t in sorted(turns, key=lambda t: t.start) if t.words or t.text), None)
    out = {}
    for s in speakers:
        text = normalise(" ".join(t.text for t in turns if t.speaker == s))
        agent, a_fired = _count(AGENT_CUES, text)
        caller, c_fired = _count(CALLER_CUES, text)
        if s == first:
            agent += FIRST_SPEAKER[1]
            a_fired.append((FIRST_SPEAKER[0], 1))
        out[s] = RoleEvidence(s, agent, caller, tuple(a_fired + [(f"caller: {n}", c) for n, c in c_fired]))
    return out


def agent_score(texts: Sequence[str]) -> float:
    """Agent cue weight in some text (no caller cues subtracted)."""
    return _count(AGENT_CUES, normalise(" ".join(texts)))[0]


def confidence(margin: float) -> float:
    return round(math.tanh(max(margin, 0.0) / CONFIDENCE_SCALE), 3)


def assign_roles(turns: Sequence[Turn], speakers: Sequence[str]) -> tuple[SpeakerRole, ...]:
    if not speakers:
        return ()
    ev = evidence(turns, speakers)
    if len(speakers) == 1:
        s = speakers[0]
        role = Role.AGENT if ev[s].net >= 4 else Role.UNKNOWN
        return (SpeakerRole(s, role, 0.5 if role is Role.AGENT else 0.0, f"single speaker; {ev[s].summary()}"),)
    ranked = sorted(speakers, key=lambda s: (-ev[s].net, s))  # ties broken by label: the same input, the same roles
    agent, runner_up = ranked[0], ranked[1]
    margin = ev[agent].net - ev[runner_up].net
    conf = confidence(margin)
    out = []
    for s in speakers:
        if margin <= 0:
            out.append(SpeakerRole(s, Role.UNKNOWN, 0.0, f"no speaker stands out; {ev[s].summary()}"))
        elif s == agent:
            out.append(SpeakerRole(s, Role.AGENT, conf, f"whole-call cues, margin {margin:.1f}; {ev[s].summary()}"))
        else:
            out.append(SpeakerRole(s, Role.CALLER, conf, f"whole-call cues; {agent} is the agent; {ev[s].summary()}"))
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
