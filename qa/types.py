"""Typed, frozen values passed between pipeline stages.

No untyped dicts cross a stage boundary: each stage takes and returns these. ``to_jsonable`` turns any of them into
plain JSON types for the output file.
"""

from __future__ import annotations

import dataclasses
import enum
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np


class Role(enum.StrEnum):
    AGENT = "agent"
    CALLER = "caller"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class AudioInfo:
    """What the file says about itself (before resampling)."""

    path: str
    duration_s: float
    sample_rate: int
    channels: int
    codec: str
    sha256: str


@dataclass(frozen=True, slots=True, eq=False)
class Audio:
    """Decoded audio at ``sample_rate`` (16 kHz for Whisper), shape (channels, samples), float32 in [-1, 1]."""

    info: AudioInfo
    samples: np.ndarray
    sample_rate: int

    @property
    def duration_s(self) -> float:
        return float(self.samples.shape[1] / self.sample_rate)

    @property
    def n_channels(self) -> int:
        return int(self.samples.shape[0])


@dataclass(frozen=True, slots=True)
class Interval:
    start: float
    end: float

    @property
    def duration(self) -> float:
        return self.end - self.start


@dataclass(frozen=True, slots=True)
class Word:
    start: float
    end: float
    word: str
    probability: float


@dataclass(frozen=True, slots=True)
class ChannelActivity:
    """Where a channel carries signal, from frame energy: the yardstick that shows when VAD or ASR dropped speech."""

    channel: int
    active: tuple[Interval, ...]
    noise_floor_db: float
    threshold_db: float

    @property
    def active_s(self) -> float:
        return sum(i.duration for i in self.active)


@dataclass(frozen=True, slots=True)
class VadReport:
    """How speech regions for ASR were chosen, and how much of the energetic signal they cover."""

    method: str  # "silero" | "silero-relaxed" | "energy" | "silero+energy"
    speech_s: float
    energy_active_s: float
    coverage: float  # fraction of energy-active time inside the chosen speech regions
    silero_coverage: float  # the same for Silero at default settings, for the record


@dataclass(frozen=True, slots=True)
class ChannelTranscript:
    channel: int
    words: tuple[Word, ...]
    language: str
    vad: VadReport
    word_coverage: float  # fraction of energy-active time covered by recognised words (padded)
    rejected_segments: int = 0  # segments from fallback-only regions that failed the plausibility test
    vad_speech: tuple[Interval, ...] = ()  # regions Silero (default or relaxed) marked as speech
    hotword_stretches: int = 0  # street stretches decoded again with the city's street names (asr.city_hotwords)
    hotword_replaced: int = 0  # of those, how many replaced the first pass's words
    language_probability: float | None = None  # Whisper's detection, when the language was detected (not configured)


@dataclass(frozen=True, slots=True)
class SpeakerSegment:
    """A stretch of time attributed to one speaker (diarization output, overlap allowed)."""

    speaker: str
    start: float
    end: float


@dataclass(frozen=True, slots=True)
class Turn:
    speaker: str
    role: Role
    start: float
    end: float
    text: str
    words: tuple[Word, ...]


@dataclass(frozen=True, slots=True)
class SpeakerRole:
    speaker: str
    role: Role
    confidence: float
    method: str


@dataclass(frozen=True, slots=True)
class VoiceMatch:
    """What an agent voiceprint said about a mono call (never the vector: voiceprints stay in their own store)."""

    agent_id: str
    speaker: str  # the call's speaker that matched
    score: float  # cosine similarity of that speaker to the print
    margin: float  # score minus the next speaker's score
    suggested: bool  # True: the call had no agent_id; this is the best-matching enrolled agent (agent_id_suggested)


@dataclass(frozen=True, slots=True)
class VoiceLearned:
    """A two-channel call whose agent channel was added to the agent's voiceprint (never the vector)."""

    agent_id: str
    seconds: float  # of the agent's speech added
    added: bool  # False: this call was already in the print (re-processed), nothing added


@dataclass(frozen=True, slots=True)
class Speakers:
    """The diarization stage's output: who spoke when, words attributed, roles decided."""

    backend: str
    segments: tuple[SpeakerSegment, ...]
    turns: tuple[Turn, ...]
    roles: tuple[SpeakerRole, ...]
    count_confidence: float | None = None  # how sure the number of speakers is (None: not estimated)
    voice_match: VoiceMatch | None = None  # an enrolled agent's voiceprint, when one was checked
    voice_learned: VoiceLearned | None = None  # this call refined its agent's voiceprint (diarize.voiceprint_learning)

    @property
    def count(self) -> int:
        return len({s.speaker for s in self.segments})


@dataclass(frozen=True, slots=True)
class Silence:
    start: float
    end: float
    duration_s: float


@dataclass(frozen=True, slots=True)
class Interruption:
    by: str  # role (or speaker label when roles are unknown) who cut in
    of: str
    at: float
    overlap_s: float


@dataclass(frozen=True, slots=True)
class Metrics:
    duration_s: float
    speech_s: float
    non_talk_s: float
    talk_time_s: Mapping[str, float]
    talk_share: Mapping[str, float]
    talk_listen_ratio: float | None  # agent talk / caller talk
    longest_silence: Silence | None
    holds: tuple[Silence, ...]
    hold_s: float
    overtalk_count: int
    overtalk_s: float
    interruptions: tuple[Interruption, ...]
    interruptions_by: Mapping[str, int]
    speaking_rate_wpm: Mapping[str, float | None]
    word_count: Mapping[str, int]
    turn_count: Mapping[str, int]
    agent_first_words_s: float | None


@dataclass(frozen=True, slots=True)
class Prediction:
    """A classifier's answer: label, calibrated confidence, the next best labels, and whether a person should look."""

    label: str
    confidence: float
    alternatives: tuple[tuple[str, float], ...]
    needs_review: bool
    model: str
    reason: str | None = None  # set when a rule, not the model's top class, decided the label


@dataclass(frozen=True, slots=True)
class Emergency:
    """The caller described an emergency: what was said (category and cue: the sentence), in which turn, when; the
    model's score, whether a person should check (``needs_review``), and what decided (``rule`` or ``model``)."""

    flag: bool
    category: str | None = None
    cue: str | None = None
    turn: int | None = None
    time: float | None = None
    score: float | None = None
    needs_review: bool = False
    method: str | None = None
    reason: str | None = None  # e.g. "unsupported_language: es": why a person must check


@dataclass(frozen=True, slots=True)
class Entity:
    """Something named in a turn, with the recognised words it covers (first..last, inclusive) and their times."""

    type: str  # ADDRESS, CROSS_STREETS, STREET, SR_NUMBER, PHONE, EMAIL, SSN, CARD, DOB, DATE, TIME, PERSON, ...
    value: str  # normalised: spoken numbers as digits
    turn: int
    first_word: int
    last_word: int
    start: float
    end: float
    # addresses, when the city's street list is configured: the canonical street name(s) from the list (never the
    # house number, which stays personal data in ``value``), the match score, and whether a person should check
    normalized: str | None = None
    score: float | None = None
    needs_review: bool = False


@dataclass(frozen=True, slots=True)
class Location:
    """Where the caller's request is, as matched to the city's street list: ``valid`` when an address, intersection
    or street said in the call matched a listed street. ``entity`` indexes the call's entities (the house number, if
    any, stays there: it is personal data)."""

    valid: bool
    street: str | None
    cross_street: str | None
    house_number: bool
    score: float | None
    needs_review: bool
    entity: int | None
    gazetteer: str  # the street list's content hash


@dataclass(frozen=True, slots=True)
class TurnSentiment:
    turn: int
    role: str
    label: str  # negative | neutral | positive
    score: float  # compound, -1 .. 1


@dataclass(frozen=True, slots=True)
class RoleSentiment:
    label: str
    score: float


@dataclass(frozen=True, slots=True)
class CallerArc:
    """How the caller felt at the start and at the end, and whether the agent brought them round."""

    start: RoleSentiment
    end: RoleSentiment
    change: float
    de_escalated: bool
    was_negative: bool
    most_negative_turn: int
    upset: bool | None = None  # the caller-state model (qa/nlp/caller_state.py); an emergency caller counts as upset
    upset_score: float | None = None
    upset_review: bool = False  # within the review band of the threshold: a person decides
    upset_turn: int | None = None
    upset_time: float | None = None


@dataclass(frozen=True, slots=True)
class Sentiment:
    model: str
    turns: tuple[TurnSentiment, ...]
    caller: CallerArc | None
    agent: RoleSentiment | None
    reason: str | None = None  # e.g. "unsupported_language: es": the lexicon and the caller-state model read English


@dataclass(frozen=True, slots=True)
class Evidence:
    """Why an item got its answer: where in the call (turn, role, times) and what was said or measured. A semantic
    match adds its similarity (``score``) and the scorecard example it matched."""

    turn: int | None
    role: str | None
    start: float | None
    end: float | None
    quote: str
    rule: str
    score: float | None = None
    example: str | None = None


@dataclass(frozen=True, slots=True)
class ItemResult:
    id: str
    section: str
    answer: str | None  # yes | no | na | None (manual, or undecidable: needs review)
    points: float
    max_points: float
    confidence: float
    needs_review: bool
    evidence: tuple[Evidence, ...]
    # From the scorecard, beside each answer: what a report shows and what an override needs to recompute totals.
    question: str = ""
    critical: bool = False
    points_possible: float = 0.0


@dataclass(frozen=True, slots=True)
class SectionResult:
    id: str
    score: float
    max_score: float
    percent: float | None


@dataclass(frozen=True, slots=True)
class TotalsRules:
    """A scorecard's totals rule (qa/scoring/totals.py applies it): kept with every evaluation, so a reviewer's
    override recomputes the totals exactly as the scorecard did."""

    pass_percent: float = 80.0
    critical_fails: str = "call"  # "call" | "section"
    section_weights: Mapping[str, float] = field(default_factory=dict)

    @classmethod
    def of_card(cls, card: Any) -> TotalsRules:
        return cls(float(card.pass_percent), card.critical_fails, {s.id: float(s.weight) for s in card.sections})

    @classmethod
    def of_dict(cls, rules: Mapping[str, Any] | None) -> TotalsRules:
        """From an evaluation's stored ``rules`` block (older evaluations may lack it: the defaults then)."""
        rules = rules or {}
        return cls(
            float(rules.get("pass_percent", 80.0)),
            str(rules.get("critical_fails", "call")),
            {k: float(v) for k, v in (rules.get("section_weights") or {}).items()},
        )


@dataclass(frozen=True, slots=True)
class Evaluation:
    scorecard_id: str
    scorecard_version: str
    scorecard_hash: str
    score: float
    max_score: float
    percent: float | None  # weighted by section
    passed: bool
    critical_failed: tuple[str, ...]
    sections: tuple[SectionResult, ...]
    items: tuple[ItemResult, ...]
    rules: TotalsRules = field(default_factory=TotalsRules)


@dataclass(frozen=True, slots=True)
class Sentence:
    """A sentence of a turn: its words ``first_word..last_word`` (inclusive) and their times."""

    turn: int
    first_word: int
    last_word: int
    start: float
    end: float


@dataclass(frozen=True, slots=True, eq=False)
class SentenceVectors:
    """The call's sentences and one unit vector each from ``encoder``: what semantic scorecard items and emergency
    triage read. Kept with the analysis, so re-scoring with a changed scorecard runs no encoder on the call."""

    encoder: str
    sentences: tuple[Sentence, ...]
    vectors: np.ndarray  # (len(sentences), dim) float32, unit length


@dataclass(frozen=True, slots=True)
class LanguageReport:
    """The call's language (``und`` when nothing telling was said), every language spoken in it (main first), the
    language of each turn (``""``: too short to tell), of each speaker and of each recognised channel, and for each
    language stage the languages of this call it does not support (what sends its answers to review)."""

    language: str
    languages: tuple[str, ...]
    method: str  # text | asr | config
    turns: tuple[str, ...]
    speakers: Mapping[str, str]
    channels: Mapping[str, str]
    switched: bool
    unsupported: Mapping[str, tuple[str, ...]]


@dataclass(frozen=True, slots=True)
class Summary:
    """What the call was about, written by the LLM stage from the redacted turns. Every number and name in it was
    found in the call; a field that stated one that was not is dropped (``dropped`` names the fields, never the
    words). ``text`` joins the fields that remain."""

    text: str
    reason: str | None
    actions: str | None
    outcome: str | None
    request_number: str | None
    dropped: tuple[str, ...]
    model: str  # the model's SHA-256 (first 16 hex)
    prompt_version: str
    transcript_sha256: str  # of the redacted turns it was written from: unchanged -> reused, not regenerated
    truncated: bool = False  # the call was longer than the context window; the middle was left out


@dataclass(frozen=True, slots=True)
class AskAnswer:
    """The LLM's answer to a scorecard ``ask`` question: the sentence it copied (``quote``) or ``None`` (it said
    NO). The scorer checks the copy against the call before it counts as evidence."""

    question: str
    role: str
    quote: str | None
    model: str
    prompt_version: str
    transcript_sha256: str
    truncated: bool = False


@dataclass(frozen=True, slots=True)
class Warning_:
    """Something the user must know about a result that was still produced (e.g. VAD fell back to energy)."""

    code: str
    message: str
    channel: int | None = None


@dataclass(frozen=True, slots=True)
class CallMetadata:
    agent_id: str | None = None
    team: str | None = None
    queue: str | None = None
    started_at: str | None = None
    direction: str | None = None
    channels: str | None = None
    roles: str | None = None  # "agent-first" | "caller-first": pins roles on a mono call
    extra: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ModelInfo:
    name: str
    source: str
    path: str | None
    compute_type: str
    beam_size: int
    language: str | None
    cpu_threads: int
    vad: str


@dataclass(frozen=True, slots=True)
class CallAnalysis:
    """Everything the pipeline knows about one call: the contents of the per-call JSON."""

    schema_version: str
    call_id: str
    source: str
    audio: AudioInfo
    channel_layout: str
    metadata: CallMetadata
    model: ModelInfo
    stages: Mapping[str, str]
    config_hash: str
    transcripts: tuple[ChannelTranscript, ...]
    speakers: Speakers
    metrics: Metrics
    request_type: Prediction | None
    emergency: Emergency | None
    sentiment: Sentiment | None
    entities: tuple[Entity, ...]
    redacted: tuple[Turn, ...]
    warnings: tuple[Warning_, ...]
    timings_s: Mapping[str, float]
    input_sha256: str | None = None  # hash of the file read when it was not the audio (an imported transcript)
    sentences: SentenceVectors | None = None
    location: Location | None = None  # where the request is, checked against the city's street list
    language: LanguageReport | None = None
    summary: Summary | None = None  # the LLM stage (qa/llm), when it is on
    asks: tuple[AskAnswer, ...] = ()  # the LLM's raw answers to the scorecard's ``ask`` items (checked when scoring)
    # The scorecard's answers; None when the call was not scored or the scorecard does not apply to it (``stages``
    # names the scorecard when it was scored).
    evaluation: Evaluation | None = None

    @property
    def turns(self) -> tuple[Turn, ...]:
        return self.speakers.turns


_FIELDS: dict[type, tuple[str, ...]] = {}  # a dataclass type's field names (dataclasses.fields() is slow)


def to_jsonable(value: Any, ndigits: int = 3) -> Any:
    """Dataclasses, enums, tuples and floats -> plain JSON types (floats rounded, NaN/inf -> None)."""
    t = type(value)  # the common plain types first, by exact type (a str-valued Enum is not a str here)
    if value is None or t is str or t is int or t is bool:
        return value
    if t is float:
        return None if not math.isfinite(value) else round(value, ndigits)
    if t is dict:
        return {str(k): to_jsonable(v, ndigits) for k, v in value.items()}
    if t is list or t is tuple:
        return [to_jsonable(v, ndigits) for v in value]
    names = _FIELDS.get(t)
    if names is None and dataclasses.is_dataclass(value) and not isinstance(value, type):
        names = _FIELDS[t] = tuple(f.name for f in dataclasses.fields(value))
    if names is not None:
        return {
            name: to_jsonable(v, ndigits)
            for name in names
            if not isinstance(v := getattr(value, name), np.ndarray)
        }
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v, ndigits) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v, ndigits) for v in value]
    if isinstance(value, (float, np.floating)):
        v = float(value)
        return None if not math.isfinite(v) else round(v, ndigits)
    if isinstance(value, np.integer):
        return int(value)
    return value
