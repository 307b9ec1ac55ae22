"""The one path of a call, top to bottom: every runner (``qa process``, the queue workers, Ray actors, the API's
background worker) calls ``Pipeline.process`` (a recording) or ``Pipeline.process_transcript`` (an imported
transcript) and stores what it returns.

Stages, in order: decode -> channel layout -> energy activity -> ASR per channel (+ the city's street names) ->
speakers, turns and roles -> conversation metrics -> language: the call's language, entities and addresses,
emergency, request type, sentiment, redacted turns, sentence vectors -> the scorecard (``Pipeline.scorer``).
Which stage fills each step comes from the configuration through the registry (qa/stages.py); each has a ``load()``
that runs once per process, so a worker loads its models once and processes many calls. The result is a typed
``CallAnalysis`` (``evaluation`` included); qa/document.py turns it into the stored JSON document.
"""

from __future__ import annotations

import copy
import hashlib
import logging
import socket
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from qa import SCHEMA_VERSION
from qa import stages as registry
from qa.asr.whisper import WhisperTranscriber
from qa.audio import activity as act
from qa.audio.decode import load_audio
from qa.audio.layout import agent_channel, resolve_layout
from qa.config import PipelineConfig
from qa.diarize.base import SpeakerBackend
from qa.diarize.channel_roles import SIDES, ChannelDecision, decide_channels
from qa.diarize.channels import ChannelSpeakers
from qa.diarize.embedded import EmbeddedDiarizer
from qa.diarize.roles import pin_roles
from qa.errors import AudioDecodeError, InputError, SilentAudioError
from qa.metrics.conversation import compute_metrics
from qa.nlp.emergency import EmergencyTriage
from qa.nlp.redact import redact_turns
from qa.nlp.request_type import RequestTypeClassifier
from qa.nlp.stages import EntitiesStage, LanguageStage, SentencesStage, SentimentStage
from qa.types import (
    Audio,
    CallAnalysis,
    CallMetadata,
    ChannelTranscript,
    Emergency,
    Entity,
    LanguageReport,
    Location,
    ModelInfo,
    Prediction,
    Role,
    SentenceVectors,
    Sentiment,
    SpeakerRole,
    Speakers,
    Summary,
    Turn,
    VoiceLearned,
    Warning_,
    Word,
)

if TYPE_CHECKING:
    from qa.diarize.embeddings import Embedder
    from qa.diarize.voiceprints import Voiceprints
    from qa.llm.stage import LlmStage
    from qa.scoring.scorer import Scorer

log = logging.getLogger("qa.pipeline")

LEARN_MIN_CONFIDENCE = 0.9  # a two-channel call adds to its agent's voiceprint only when its roles are this sure

LOW_WORD_COVERAGE = 0.5
_WARM_UP = (
    Turn("s", Role.AGENT, 0.0, 1.0, "hello there", (Word(0.0, 0.5, "hello", 1.0), Word(0.5, 1.0, "there", 1.0))),
)
DAMAGE_CODES = frozenset({"bad_frames", "duration_mismatch", "truncated"})


@dataclass(frozen=True, slots=True)
class _Language:
    """What the language stages found (the CallAnalysis fields they fill, and their warnings)."""

    language: LanguageReport
    warnings: tuple[Warning_, ...]
    request_type: Prediction | None = None
    emergency: Emergency | None = None
    sentiment: Sentiment | None = None
    entities: tuple[Entity, ...] = ()
    redacted: tuple[Turn, ...] = ()
    sentences: SentenceVectors | None = None
    location: Location | None = None
    summary: Summary | None = None

    def fields(self) -> dict[str, Any]:
        """The CallAnalysis fields (every attribute but the warnings, which join the call's)."""
        return {f: getattr(self, f) for f in self.__slots__ if f != "warnings"}


@dataclass
class Pipeline:
    """The stages a configuration chooses (qa/stages.py), built once; ``load()`` loads their models once per process;
    ``process()`` takes one call from the recording to its evaluation. With no ``scorer`` calls are not scored."""

    config: PipelineConfig = field(default_factory=PipelineConfig)
    scorer: Scorer | None = None

    def __post_init__(self) -> None:
        self._prints: Voiceprints | None = None
        self.slots = registry.chosen(self.config)
        self.stages = registry.build(self.config, self.slots)
        st = self.stages
        self.asr = cast(WhisperTranscriber, st["asr"])
        self.language = cast(LanguageStage, st["language"])
        if self.config.nlp.enabled:
            self.request_type = cast(RequestTypeClassifier, st["request_type"])
            self.emergency = cast(EmergencyTriage, st["emergency"])
            self.sentiment = cast(SentimentStage, st["sentiment"])
            self.entities = cast(EntitiesStage, st["entities"])
            self.sentences = cast(SentencesStage, st["sentences"])
        self.gazetteer = None
        city = self.config.city
        if city.streets is not None:
            from qa.city.gazetteer import load_gazetteer

            self.gazetteer = load_gazetteer(city.streets, city.places)
        self.llm = cast("LlmStage", st["llm"]) if "llm" in st else None
        if self.scorer is not None and self.llm is not None and self.scorer.llm is None:
            self.scorer = self.scorer.with_llm(self.llm)  # ``ask`` items are put to this pipeline's LLM

    def with_scorer(self, scorer: Scorer | None) -> Pipeline:
        """The same pipeline (the same built and loaded stages) scoring against ``scorer``."""
        other = copy.copy(self)
        other.scorer = scorer.with_llm(self.llm) if scorer is not None and scorer.llm is None else scorer
        return other

    def load(self, audio: bool = True) -> None:
        """Load every model this configuration uses, once per process (``audio=False``: only what imported
        transcripts need, the language stages)."""
        for slot in registry.chosen(self.config, audio=audio):
            self.stages[slot].load()
        if self.config.nlp.enabled:  # the first spaCy document costs ~0.5 s: pay it here
            self._language(_WARM_UP, {}, summarize=False)

    def stage_versions(self) -> dict[str, str]:
        """Name -> version of every stage this configuration uses (computing it loads no model)."""
        versions = {st.name: st.version for st in self.stages.values()}
        return versions | self._city_stages()

    def _city_stages(self) -> dict[str, str]:
        if self.gazetteer is None or not self.config.nlp.enabled:
            return {}
        from qa.city.addresses import VERSION as ADDRESSES_VERSION

        versions = {"city.addresses": f"{ADDRESSES_VERSION}-{self.gazetteer.digest}"}
        if self.config.city.hotwords:
            from qa.asr.hotwords import VERSION as HOTWORDS_VERSION

            versions["asr.city_hotwords"] = HOTWORDS_VERSION
        return versions

    def _language_stages(self) -> dict[str, str]:
        """The versions of the language stages a call goes through (every call, recording or transcript)."""
        names = ("language", "request_type", "emergency", "sentiment", "entities", "sentences", "llm")
        versions = {self.stages[n].name: self.stages[n].version for n in names if n in self.stages}
        return versions | self._city_stages()

    def _scored(self, call: CallAnalysis) -> CallAnalysis:
        """The last stage: the scorecard's answers (the analysis as it was when there is no scorer)."""
        if self.scorer is None:
            return call
        t = time.perf_counter()
        scored = self.scorer(call)  # the evaluation, and the LLM's answers to ``ask`` items when it asked any
        timings = {**scored.timings_s, "scoring": time.perf_counter() - t}
        timings["total"] = call.timings_s.get("total", 0.0) + timings["scoring"]
        return replace(scored, stages={**call.stages, self.scorer.name: self.scorer.version}, timings_s=timings)

    def call_config_hash(self, metadata: CallMetadata | None = None) -> str:
        """Everything that changes a call's result: config, the call's layout and role pins, stage versions, schema."""
        metadata = metadata or CallMetadata()
        parts = [
            self.config.hash(),
            self.requested_layout(metadata),
            f"{self.config.audio.channels}/{self.config.audio.channel_prior}",
            self._voiceprints_hash(),
            metadata.roles or "",
            SCHEMA_VERSION,
            *sorted(f"{k}={v}" for k, v in self.stage_versions().items()),
        ]
        return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]

    def requested_layout(self, metadata: CallMetadata | None) -> str:
        return (metadata.channels if metadata and metadata.channels else None) or self.config.audio.channels

    def _voiceprint_source(self) -> Voiceprints | None:
        """The configured voiceprints (a file or the store), opened once."""
        spec = self.config.diarize.voiceprints
        if not spec:
            return None
        if self._prints is None:
            from qa.diarize.voiceprints import open_voiceprints
            from qa.store.audit import Actor

            self._prints = open_voiceprints(spec, Actor(None, f"pipeline:{socket.gethostname()}"[:100], "worker"))
        return self._prints

    def _voiceprints_hash(self) -> str:
        """Enrolling or forgetting an agent can change a mono call's roles: who is enrolled, with which encoder, is
        part of the hash (a print refined by learning is not: calls already done are not all redone for it)."""
        from qa.diarize.voiceprints import enrolled_identity

        source = self._voiceprint_source()
        return enrolled_identity(source.load(with_sources=False)) if source is not None else ""

    def _embedder(self) -> Embedder:
        diarizer = self.stages["speakers.voiceprints"]
        assert isinstance(diarizer, EmbeddedDiarizer)
        diarizer.embedder.load()
        return diarizer.embedder

    def _voiceprints(self, speakers: Speakers, audio: Audio, agent_id: str | None) -> Speakers:
        from qa.diarize.voiceprints import apply_match, encoder_identity, match, speaker_vectors

        source = self._voiceprint_source()
        prints = source.load(with_sources=False) if source is not None else None
        if not prints:
            return speakers
        embedder = self._embedder()
        vectors = speaker_vectors(speakers, embedder, audio.samples[0], audio.sample_rate)
        return apply_match(speakers, match(vectors, prints, encoder_identity(embedder), agent_id))

    def _learn_voice(
        self, speakers: Speakers, audio: Audio, decision: ChannelDecision, agent_id: str, call_id: str
    ) -> Speakers:
        """A confidently decided two-channel call adds its agent channel to the agent's voiceprint (once per call).
        Only prints people enrolled are refined (a forgotten agent is not enrolled again by their next call); a
        failure to write the print is logged and never fails the call."""
        from qa.diarize.voiceprints import encoder_identity, voice_of

        source = self._voiceprint_source()
        if source is None or decision.warnings or decision.confidence < LEARN_MIN_CONFIDENCE:
            return speakers
        embedder = self._embedder()
        encoder = encoder_identity(embedder)
        enrolled = source.load(with_sources=False).get(agent_id)
        if enrolled is None or (enrolled.encoder, enrolled.encoder_version) != encoder:
            return speakers
        ch = agent_channel(decision.layout)
        speech = [(s.start, s.end) for s in speakers.segments if s.speaker == f"ch{ch}"]
        try:
            vector, seconds = voice_of(embedder, audio.samples[ch], audio.sample_rate, speech)
        except InputError:  # too little of the agent's speech to say anything
            return speakers
        try:
            added = source.enroll(agent_id, vector, seconds, encoder, source_id=call_id, create=False)
        except Exception as exc:  # noqa: BLE001 - the call's analysis stands without the refinement
            log.warning("call %s: agent %s voiceprint not refined (%s)", call_id, agent_id, type(exc).__name__)
            return speakers
        log.info("call %s: agent %s voiceprint %s", call_id, agent_id, "refined" if added else "already had it")
        return replace(speakers, voice_learned=VoiceLearned(agent_id, round(seconds, 1), added is not None))

    def _channel_mode(self, requested: str) -> tuple[bool, str | None]:
        """(auto, prior): under ``audio.channels: auto`` a manifest layout is only a prior; ``auto`` asked for in the
        manifest decides from the call with the configured prior."""
        auto = self.config.audio.channels == "auto" or requested == "auto"
        prior = requested if requested in SIDES else self.config.audio.channel_prior
        return auto, prior

    def process(self, path: str | Path, metadata: CallMetadata | None = None) -> CallAnalysis:
        metadata = metadata or CallMetadata()
        timings: dict[str, float] = {}
        t0 = time.perf_counter()
        audio, warnings = load_audio(path, max_duration_s=self.config.audio.max_duration_s)
        requested = self.requested_layout(metadata)
        layout, audio, layout_warnings = resolve_layout(audio, requested, explicit=bool(metadata.channels))
        warnings += layout_warnings
        timings["decode"] = time.perf_counter() - t0
        call_id = audio.info.sha256[:16]

        t = time.perf_counter()
        try:
            activity = act.activity(audio)
        except SilentAudioError as exc:
            damage = [w.message for w in warnings if w.code in DAMAGE_CODES]
            if damage:  # a damaged file that decodes to noise is corrupt, not silent
                raise AudioDecodeError(f"{path}: corrupt audio ({'; '.join(damage)}); no usable speech") from exc
            raise
        timings["activity"] = time.perf_counter() - t

        t = time.perf_counter()
        transcripts: list[ChannelTranscript] = []
        for ch in range(audio.n_channels):
            if not activity[ch].active:
                warnings += (Warning_("silent_channel", f"channel {ch} carries no signal", ch),)
            tr = self.asr(audio.samples[ch], ch, act.as_intervals(activity[ch]))
            if self.gazetteer is not None and self.config.city.hotwords:
                tr = self._refine_streets(audio.samples[ch], tr)
            transcripts.append(tr)
            warnings += _asr_warnings(tr)
        timings["asr"] = time.perf_counter() - t

        t = time.perf_counter()
        decision = None
        if layout != "mono":
            decision = decide_channels(
                transcripts, requested, *self._channel_mode(requested), self.config.turns.max_gap_s
            )
            layout = decision.layout
            warnings += decision.warnings
        backend = self._speaker_backend(layout)
        if decision is not None and isinstance(backend, ChannelSpeakers):
            speakers = backend(audio, layout, tuple(transcripts), activity, decision)
        else:
            speakers = backend(audio, layout, tuple(transcripts), activity)
        if layout == "mono" and self.config.diarize.voiceprints:
            speakers = self._voiceprints(speakers, audio, metadata.agent_id)
        elif decision is not None and metadata.agent_id and self.config.diarize.voiceprint_learning:
            speakers = self._learn_voice(speakers, audio, decision, metadata.agent_id, call_id)
        if metadata.roles and layout == "mono":
            speakers = pin_roles(speakers, metadata.roles)
        timings["diarize"] = time.perf_counter() - t

        t = time.perf_counter()
        metrics = compute_metrics(speakers, audio.duration_s, self.config.metrics)
        timings["metrics"] = time.perf_counter() - t

        language = self._language(speakers.turns, timings, tuple(transcripts))
        warnings += language.warnings
        timings["total"] = time.perf_counter() - t0
        log.info("call %s analysed in %.1f s (%d turns)", call_id, timings["total"], len(speakers.turns))
        return self._scored(
            CallAnalysis(
                schema_version=SCHEMA_VERSION,
                call_id=call_id,
                source=str(path),
                audio=audio.info,
                channel_layout=layout,
                metadata=metadata,
                model=self.asr.info(),
                stages={self.asr.name: self.asr.version, backend.name: backend.version, **self._language_stages()},
                config_hash=self.call_config_hash(metadata),
                transcripts=tuple(transcripts),
                speakers=speakers,
                metrics=metrics,
                **language.fields(),
                warnings=tuple(warnings),
                timings_s=timings,
            )
        )

    def _refine_streets(self, x: np.ndarray, tr: ChannelTranscript) -> ChannelTranscript:
        from qa.asr.hotwords import refine_streets

        c = self.config
        if self.gazetteer is None:
            return tr
        # the second pass decodes in the channel's own language (asr.language may be a list of allowed ones)
        return refine_streets(
            self.asr.load(), x, tr, self.gazetteer, language=tr.language or None, beam_size=c.asr.beam_size,
            max_hotwords=c.city.max_hotwords, min_score=c.city.match_min,
        )  # fmt: skip

    def emergency_of(self, turns: tuple[Turn, ...]) -> Emergency:
        """The emergency stage alone (benchmarks, a text typed by a person)."""
        return self.emergency.triage(turns)

    def _language(
        self,
        turns: tuple[Turn, ...],
        timings: dict[str, float],
        transcripts: tuple[ChannelTranscript, ...] = (),
        summarize: bool = True,
    ) -> _Language:
        """The call's language, then entities and the address, emergency, request type, sentiment, the redacted
        turns and sentence vectors (only the language when the language stages are off), then the LLM's summary
        of the redacted turns when that stage is on. A stage that does not support the call's language says so and
        sends its answer to review (qa/nlp/failsafe.py)."""
        found = self._language_stages_run(turns, timings, transcripts)
        if not summarize or self.llm is None or not self.config.llm.summary:
            return found
        t = time.perf_counter()
        summary, warnings = self.llm.summarize([(str(x.role), x.text) for x in found.redacted])
        timings["llm"] = timings.get("llm", 0.0) + time.perf_counter() - t
        return replace(found, summary=summary, warnings=found.warnings + warnings)

    def _language_stages_run(
        self, turns: tuple[Turn, ...], timings: dict[str, float], transcripts: tuple[ChannelTranscript, ...]
    ) -> _Language:
        from qa.nlp import failsafe

        report = self.language(turns, transcripts, self.config.asr.fixed_language())
        if not self.config.nlp.enabled:
            return _Language(report, failsafe.warnings(report), redacted=turns)
        t = time.perf_counter()
        entities = self.entities(turns, [lang or report.language for lang in report.turns])
        location = None
        if self.gazetteer is not None:
            from qa.city.addresses import match_addresses

            entities, location = match_addresses(entities, self.gazetteer, self.config.city.match_min, turns)
        emergency = failsafe.emergency(self.emergency(turns), report, turns)
        rt = self.request_type(turns, emergency)
        out = _Language(
            language=report,
            warnings=failsafe.warnings(report),
            request_type=failsafe.request_type(rt, report, turns, emergency),
            emergency=emergency,
            sentiment=failsafe.sentiment(self.sentiment(turns, emergency.flag), report, turns, emergency),
            entities=entities,
            redacted=redact_turns(turns, entities),
            sentences=self.sentences(turns),
            location=location,
        )
        timings["language"] = time.perf_counter() - t
        return out

    def process_transcript(self, path: str | Path, metadata: CallMetadata | None = None) -> CallAnalysis:
        """An imported transcript (WebVTT with voice tags, or our call JSON): no audio, no speech recognition; roles,
        metrics, language and scoring run as for a recording. Manifest metadata wins over what a call JSON carries."""
        from qa.ingest.transcripts import VERSION as IMPORT_VERSION
        from qa.ingest.transcripts import load_transcript

        t0 = time.perf_counter()
        imp = load_transcript(path)
        metadata = _merge_metadata(imp.metadata, metadata)
        turns = imp.turns
        if metadata.roles:
            turns = pin_roles(Speakers("import", imp.segments, turns, imp.roles), metadata.roles).turns
        roles = tuple(
            SpeakerRole(
                r.speaker, next((t.role for t in turns if t.speaker == r.speaker), r.role), r.confidence, r.method
            )
            for r in imp.roles
        )
        speakers = Speakers(f"import.{imp.kind}", imp.segments, turns, roles)
        timings = {"import": time.perf_counter() - t0}
        t = time.perf_counter()
        metrics = compute_metrics(speakers, imp.audio.duration_s, self.config.metrics)
        timings["metrics"] = time.perf_counter() - t
        language = self._language(turns, timings)
        timings["total"] = time.perf_counter() - t0
        return self._scored(
            CallAnalysis(
                schema_version=SCHEMA_VERSION,
                call_id=imp.audio.sha256[:16],
                source=str(path),
                audio=imp.audio,
                channel_layout="transcript",
                metadata=metadata,
                model=ModelInfo("none (imported transcript)", imp.kind, None, "", 0, None, 0, "none"),
                stages={f"import.{imp.kind}": IMPORT_VERSION, **self._language_stages()},
                config_hash=self.call_config_hash(metadata),
                transcripts=(),
                speakers=speakers,
                metrics=metrics,
                **language.fields(),
                warnings=imp.warnings + language.warnings,
                timings_s=timings,
                input_sha256=imp.input_sha256,
            )
        )

    def _speaker_backend(self, layout: str) -> SpeakerBackend:
        """Two-channel calls go to the two-channel slot (by channel, unless one backend is configured for every
        call); one-channel calls to the configured mono backend."""
        slot = "speakers.one_channel" if layout == "mono" else "speakers.two_channel"
        return self.stages[slot]  # type: ignore[return-value]


def _asr_warnings(tr: ChannelTranscript) -> tuple[Warning_, ...]:
    out = []
    v = tr.vad
    if v.method != "silero":
        out.append(
            Warning_(
                "vad_fallback",
                f"Silero VAD kept {v.silero_coverage:.0%} of the signal on channel {tr.channel}; "
                f"used {v.method} (coverage {v.coverage:.0%})",
                tr.channel,
            )
        )
    if tr.rejected_segments:
        out.append(
            Warning_(
                "rejected_text",
                f"{tr.rejected_segments} segment(s) recognised only in non-speech-like regions of channel "
                f"{tr.channel} were dropped as likely hallucinations",
                tr.channel,
            )
        )
    if v.energy_active_s > 2.0 and tr.word_coverage < LOW_WORD_COVERAGE:
        out.append(
            Warning_(
                "low_asr_coverage",
                f"recognised words cover only {tr.word_coverage:.0%} of the signal on channel {tr.channel}; "
                "part of the call may be missing from the transcript (noise, music, or poor audio)",
                tr.channel,
            )
        )
    return tuple(out)


def _merge_metadata(stored: CallMetadata | None, given: CallMetadata | None) -> CallMetadata:
    if stored is None:
        return given or CallMetadata()
    if given is None:
        return stored
    fields = {k: getattr(given, k) or getattr(stored, k) for k in CallMetadata.__dataclass_fields__ if k != "extra"}
    return CallMetadata(**fields, extra={**stored.extra, **given.extra})


def process_call(
    path: str | Path, config: PipelineConfig | None = None, metadata: CallMetadata | None = None
) -> CallAnalysis:
    """Convenience: one call with a fresh (cached-model) pipeline, not scored."""
    return Pipeline(config or PipelineConfig()).process(path, metadata)
