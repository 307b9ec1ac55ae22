"""process_call(): the one path from a recording to a CallAnalysis that every runner (CLI, API, workers) calls.

Stages: decode -> channel layout -> energy activity -> ASR per channel -> speakers/turns -> metrics. Each model-backed
stage has a ``load()`` that runs once per process; ``Pipeline`` holds the stages so a worker loads them once and
processes many calls.
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from qa import SCHEMA_VERSION
from qa.asr.whisper import WhisperTranscriber
from qa.audio import activity as act
from qa.audio.decode import load_audio
from qa.audio.layout import resolve_layout
from qa.config import PipelineConfig
from qa.diarize.base import SpeakerBackend
from qa.diarize.channel_roles import SIDES, decide_channels
from qa.diarize.channels import ChannelSpeakers
from qa.diarize.embedded import EmbeddedDiarizer
from qa.diarize.pyannote_pipeline import PyannoteDiarizer
from qa.diarize.roles import pin_roles
from qa.diarize.single import SingleSpeaker
from qa.errors import AudioDecodeError, SilentAudioError
from qa.metrics.conversation import compute_metrics
from qa.nlp.emergency import EmergencyTriage
from qa.nlp.entities import VERSION as ENTITIES_VERSION
from qa.nlp.entities import find_entities
from qa.nlp.language import detect_language
from qa.nlp.language import stage_version as language_version
from qa.nlp.redact import redact_turns
from qa.nlp.request_type import MODEL_DIR, RequestTypeClassifier
from qa.nlp.sentences import VERSION as SENTENCES_VERSION
from qa.nlp.sentences import embed_sentences
from qa.nlp.sentiment import VERSION as SENTIMENT_VERSION
from qa.nlp.sentiment import call_sentiment
from qa.types import (
    Audio,
    CallAnalysis,
    CallMetadata,
    ChannelTranscript,
    Emergency,
    ModelInfo,
    Role,
    SpeakerRole,
    Speakers,
    Turn,
    Warning_,
    Word,
)

if TYPE_CHECKING:
    from qa.llm.stage import LlmStage

log = logging.getLogger("qa.pipeline")

LOW_WORD_COVERAGE = 0.5
_WARM_UP = (
    Turn("s", Role.AGENT, 0.0, 1.0, "hello there", (Word(0.0, 0.5, "hello", 1.0), Word(0.5, 1.0, "there", 1.0))),
)
DAMAGE_CODES = frozenset({"bad_frames", "duration_mismatch", "truncated"})


@dataclass
class Pipeline:
    config: PipelineConfig = field(default_factory=PipelineConfig)

    def __post_init__(self) -> None:
        self.asr = WhisperTranscriber(self.config.asr)
        self.stereo: SpeakerBackend = ChannelSpeakers(self.config.turns)
        self.single: SpeakerBackend = SingleSpeaker(self.config.turns)
        self.embedded: SpeakerBackend = EmbeddedDiarizer(self.config.diarize, self.config.turns)
        self.pyannote: SpeakerBackend = PyannoteDiarizer(self.config.diarize, self.config.turns)
        nlp = self.config.nlp
        self.request_type = RequestTypeClassifier(
            Path(nlp.request_type_model) if nlp.request_type_model else MODEL_DIR, nlp.review_below
        )
        self.emergency = EmergencyTriage()
        self.gazetteer = None
        city = self.config.city
        if city.streets is not None:
            from qa.city.gazetteer import load_gazetteer

            self.gazetteer = load_gazetteer(city.streets, city.places)
        self.llm: LlmStage | None = None
        if self.config.llm.enabled:
            from qa.llm.stage import LlmStage

            self.llm = LlmStage(self.config.llm)

    def load(self, audio: bool = True) -> None:
        """Load every model this configuration can use, once per process (``audio=False``: only what imported
        transcripts need, the language stage)."""
        if audio:
            self.asr.load()
            for backend in {
                id(b): b for b in (self._speaker_backend("mono"), self._speaker_backend("agent-left"))
            }.values():
                backend.load()
        if self.config.nlp.enabled:  # the first spaCy document and VADER's lexicon cost ~0.5 s: pay it here
            self.request_type.load()
            self.emergency.load()
            self._language(_WARM_UP, {})
        if self.llm is not None:
            self.llm.load()

    def _mono_backend(self) -> SpeakerBackend:
        return {"embedded": self.embedded, "pyannote": self.pyannote}.get(self.config.diarize.mono_backend, self.single)

    def stage_versions(self) -> dict[str, str]:
        stages = {s.name: s.version for s in (self.asr, self.stereo, self.single, self.embedded, self.pyannote)}
        return stages | {"nlp.language": language_version()} | self._nlp_stages() | self._llm_stages()

    def _llm_stages(self) -> dict[str, str]:
        """The model's hash and the prompt version (no model loads: the packaged model's hash is known)."""
        return {} if self.llm is None else {self.llm.name: self.llm.version}

    def _summary(self, language: dict[str, Any], timings: dict[str, float]) -> dict[str, Any]:
        """The LLM stage's summary of the redacted turns (empty when the stage or its summary is off)."""
        if self.llm is None or not self.config.llm.summary:
            return {}
        t = time.perf_counter()
        turns: tuple[Turn, ...] = language["redacted"]
        summary, warnings = self.llm.summarize([(str(x.role), x.text) for x in turns])
        timings["llm"] = timings.get("llm", 0.0) + time.perf_counter() - t
        return {"summary": summary, "llm_warnings": warnings}

    def _nlp_stages(self) -> dict[str, str]:
        if not self.config.nlp.enabled:
            return {}
        from qa.nlp.caller_state import MODEL_DIR as CALLER_STATE_DIR
        from qa.nlp.static_encoder import ENCODER_DIR
        from qa.resources import manifest

        return {  # from the manifests: computing a job's identity loads no model
            self.request_type.name: self.request_type.version,
            self.emergency.name: self.emergency.version,
            "nlp.sentiment": f"{SENTIMENT_VERSION}-{manifest(CALLER_STATE_DIR)['version']}",
            "nlp.entities": ENTITIES_VERSION,
            "nlp.sentences": f"{SENTENCES_VERSION}-{manifest(ENCODER_DIR)['name']}",
        } | self._city_stages()

    def _city_stages(self) -> dict[str, str]:
        if self.gazetteer is None:
            return {}
        from qa.city.addresses import VERSION as ADDRESSES_VERSION

        stages = {"city.addresses": f"{ADDRESSES_VERSION}-{self.gazetteer.digest}"}
        if self.config.city.hotwords:
            from qa.asr.hotwords import VERSION as HOTWORDS_VERSION

            stages["asr.city_hotwords"] = HOTWORDS_VERSION
        return stages

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

    def _voiceprints_hash(self) -> str:
        """Enrolling or forgetting an agent can change a mono call's roles: the file's content is part of the hash."""
        path = self.config.diarize.voiceprints
        if not path or not Path(path).exists():
            return ""
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]

    def _voiceprints(self, speakers: Speakers, audio: Audio, agent_id: str | None) -> Speakers:
        from qa.diarize.voiceprints import VoiceprintFile, apply_match, encoder_identity, match, speaker_vectors

        path = self.config.diarize.voiceprints
        prints = VoiceprintFile(path).load() if path else None
        if not prints:
            return speakers
        assert isinstance(self.embedded, EmbeddedDiarizer)
        embedder = self.embedded.embedder
        embedder.load()
        vectors = speaker_vectors(speakers, embedder, audio.samples[0], audio.sample_rate)
        return apply_match(speakers, match(vectors, prints, encoder_identity(embedder), agent_id))

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
            tr = self.asr.transcribe(audio.samples[ch], ch, act.as_intervals(activity[ch]))
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
        if metadata.roles and layout == "mono":
            speakers = pin_roles(speakers, metadata.roles)
        timings["diarize"] = time.perf_counter() - t

        t = time.perf_counter()
        metrics = compute_metrics(speakers, audio.duration_s, self.config.metrics)
        timings["metrics"] = time.perf_counter() - t

        language = self._language(speakers.turns, timings, tuple(transcripts))
        warnings += language.pop("language_warnings")
        llm = self._summary(language, timings)
        warnings += llm.pop("llm_warnings", ())
        timings["total"] = time.perf_counter() - t0
        log.info("call %s processed in %.1f s (%d turns)", call_id, timings["total"], len(speakers.turns))
        return CallAnalysis(
            schema_version=SCHEMA_VERSION,
            call_id=call_id,
            source=str(path),
            audio=audio.info,
            channel_layout=layout,
            metadata=metadata,
            model=self.asr.info(),
            stages={
                self.asr.name: self.asr.version,
                backend.name: backend.version,
                "nlp.language": language_version(),
                **self._nlp_stages(),
                **self._llm_stages(),
            },
            config_hash=self.call_config_hash(metadata),
            transcripts=tuple(transcripts),
            speakers=speakers,
            metrics=metrics,
            **language,
            **llm,
            warnings=tuple(warnings),
            timings_s=timings,
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
        self, turns: tuple[Turn, ...], timings: dict[str, float], transcripts: tuple[ChannelTranscript, ...] = ()
    ) -> dict[str, Any]:
        """The call's language, then sentences, request type, emergency, sentiment, entities and the redacted turns
        (empty when the stage is off). A stage that does not support the call's language says so and sends its
        answer to review (qa/nlp/failsafe.py)."""
        from qa.nlp import failsafe

        report = detect_language(turns, transcripts, self.config.asr.fixed_language())
        out: dict[str, Any] = {
            "language": report,
            "language_warnings": failsafe.warnings(report),
            "request_type": None,
            "emergency": None,
            "sentiment": None,
            "entities": (),
            "redacted": turns,
            "sentences": None,
            "location": None,
        }
        if self.config.nlp.enabled:
            from qa.nlp.caller_state import load_model as load_caller_state
            from qa.nlp.static_encoder import load_encoder

            t = time.perf_counter()
            entities = find_entities(turns, [lang or report.language for lang in report.turns])
            location = None
            if self.gazetteer is not None:
                from qa.city.addresses import match_addresses

                entities, location = match_addresses(entities, self.gazetteer, self.config.city.match_min, turns)
            emergency = failsafe.emergency(self.emergency.triage(turns), report, turns)
            rt = self.request_type.after_triage(self.request_type.for_call(turns), emergency)
            out |= {
                "request_type": failsafe.request_type(rt, report, turns, emergency),
                "emergency": emergency,
                "sentiment": failsafe.sentiment(
                    call_sentiment(turns, emergency.flag, load_caller_state()), report, turns, emergency
                ),
                "entities": entities,
                "redacted": redact_turns(turns, entities),
                "sentences": embed_sentences(turns, load_encoder()),
                "location": location,
            }
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
        language_warnings = language.pop("language_warnings")
        llm = self._summary(language, timings)
        language_warnings += llm.pop("llm_warnings", ())
        timings["total"] = time.perf_counter() - t0
        return CallAnalysis(
            schema_version=SCHEMA_VERSION,
            call_id=imp.audio.sha256[:16],
            source=str(path),
            audio=imp.audio,
            channel_layout="transcript",
            metadata=metadata,
            model=ModelInfo("none (imported transcript)", imp.kind, None, "", 0, None, 0, "none"),
            stages={
                f"import.{imp.kind}": IMPORT_VERSION,
                "nlp.language": language_version(),
                **self._nlp_stages(),
                **self._llm_stages(),
            },
            config_hash=self.call_config_hash(metadata),
            transcripts=(),
            speakers=speakers,
            metrics=metrics,
            **language,
            **llm,
            warnings=imp.warnings + language_warnings,
            timings_s=timings,
            input_sha256=imp.input_sha256,
        )

    def _speaker_backend(self, layout: str) -> SpeakerBackend:
        """Two-channel calls split by channel; one-channel calls go to the configured mono backend."""
        choice = self.config.diarize.backend
        if choice == "single":
            return self.single
        if choice == "embedded":
            return self.embedded
        if choice == "pyannote":
            return self.pyannote
        if layout == "mono":  # "auto", or "channels" asked for a one-channel call
            return self._mono_backend()
        return self.stereo


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
    """Convenience: one call with a fresh (cached-model) pipeline."""
    return Pipeline(config or PipelineConfig()).process(path, metadata)
