"""Pipeline configuration: pydantic at the edge, validated once, hashed into every result.

A YAML file (``--config``) and CLI options override the defaults. Errors name the file and the field.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from qa.errors import ConfigError
from qa.yamlfile import read_yaml_mapping


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AudioConfig(_Strict):
    max_duration_s: float = Field(4 * 3600.0, gt=0, description="Reject recordings longer than this.")
    channels: Literal["agent-left", "agent-right", "mono"] = Field(
        "agent-left", description="Two-channel files: which side is the agent; 'mono' mixes both channels."
    )


class VadConfig(_Strict):
    min_coverage: float = Field(
        0.9, ge=0, le=1, description="Fall back when VAD speech covers less than this share of energetic signal."
    )
    relaxed_threshold: float = Field(0.2, gt=0, lt=1, description="Silero threshold for the second try.")
    energy_fallback: bool = Field(True, description="Add energy-detected regions when Silero still misses speech.")


class AsrConfig(_Strict):
    backend: Literal["faster-whisper"] = "faster-whisper"
    model: str = Field("base", description="tiny.en, base, a CTranslate2 directory, or a hub model name.")
    compute_type: str = "int8"
    device: str = "cpu"
    beam_size: int = Field(5, ge=1, le=20)
    cpu_threads: int = Field(0, ge=0, description="0 = all cores.")
    language: str | list[str] | None = Field(
        default_factory=lambda: ["en", "es"],
        description="A language code (always decode as that language), a list of the languages the centre answers in "
        "(Whisper detects per channel and picks the likeliest of them), or None (detect, any language). English-only "
        "models (tiny.en) always decode English.",
    )
    local_files_only: bool = Field(False, description="Never try to download a model.")
    batch_size: int = Field(
        0,
        ge=0,
        le=64,
        description="0: decode a channel's speech in order, each window conditioned on the previous text. N > 0: "
        "faster-whisper's BatchedInferencePipeline, N windows of the checked speech regions at a time (no "
        "conditioning); see bench/throughput.py and README before changing it.",
    )
    vad: VadConfig = VadConfig()

    def threads(self) -> int:
        return self.cpu_threads or (os.cpu_count() or 1)

    @field_validator("language")
    @classmethod
    def _codes(cls, v: str | list[str] | None) -> str | list[str] | None:
        codes = [v] if isinstance(v, str) else (v or [])
        for c in codes:
            if not re.fullmatch(r"[a-z]{2,3}", c):
                raise ValueError(f"'{c}' is not a language code (two or three lower-case letters: en, es)")
        if isinstance(v, list) and not v:
            return None
        return v

    def fixed_language(self) -> str | None:
        """The one language to decode in, when the configuration fixes it."""
        if isinstance(self.language, str):
            return self.language
        if isinstance(self.language, list) and len(self.language) == 1:
            return self.language[0]
        return None

    def language_label(self) -> str | None:
        """How the configured language reads in results: ``en``, ``en,es`` (detect among), or None (detect any)."""
        return ",".join(self.language) if isinstance(self.language, list) else self.language


class DiarizeConfig(_Strict):
    backend: Literal["auto", "channels", "embedded", "pyannote", "single"] = Field(
        "auto", description="auto: two-channel files by channel, mono files by mono_backend."
    )
    mono_backend: Literal["embedded", "pyannote", "single"] = Field(
        "embedded", description="One-channel calls: embedded clustering, a pyannote pipeline, or one unknown speaker."
    )
    pyannote_pipeline: str | None = Field(
        None, description="pyannote backend: a local folder with config.yaml + checkpoints, or a hub pipeline name."
    )
    pyannote_token_env: str = Field("HF_TOKEN", description="Environment variable holding a hub token, if any.")
    embedding: Literal["auto", "mfcc", "resemblyzer"] = Field(
        "auto",
        description="Speaker embedding: auto = resemblyzer when torch is installed (measured better), else mfcc.",
    )
    num_speakers: int | None = Field(None, ge=1, le=10, description="Fix the speaker count; None = automatic.")
    max_speakers: int = Field(4, ge=1, le=10)
    threshold: dict[str, float] = Field(
        default_factory=lambda: {"mfcc": 0.15, "resemblyzer": 0.25},  # bench/diarization.py sweep
        description="Cosine distance at which the clustering tree is cut, per embedding.",
    )
    window_s: float = Field(1.5, gt=0.2)
    hop_s: float = Field(0.75, gt=0.05)
    min_segment_s: float = Field(0.5, ge=0, description="Shorter speaker runs are merged into their neighbours.")


class TurnsConfig(_Strict):
    max_gap_s: float = Field(
        1.5, gt=0, description="A pause longer than this inside one speaker's words starts a new turn."
    )
    segment_gap_s: float = Field(0.3, ge=0, description="Word gaps shorter than this count as talking.")


class MetricsConfig(_Strict):
    hold_min_s: float = Field(10.0, gt=0, description="A silence this long or longer is a hold.")
    overtalk_min_s: float = Field(0.2, ge=0, description="Shorter overlaps are not counted as overtalk.")
    interruption_min_overlap_s: float = Field(0.3, ge=0)
    interruption_min_segment_s: float = Field(
        1.0, ge=0, description="Shorter cut-ins are backchannels, not interruptions."
    )


class NlpConfig(_Strict):
    enabled: bool = Field(True, description="Classify the request type and look for emergency cues.")
    request_type_model: str | None = Field(None, description="Folder of a trained request-type model; None = shipped.")
    review_below: float = Field(0.5, ge=0, le=1, description="Request types less confident than this need review.")


class PipelineConfig(_Strict):
    audio: AudioConfig = AudioConfig()
    asr: AsrConfig = AsrConfig()
    diarize: DiarizeConfig = DiarizeConfig()
    turns: TurnsConfig = TurnsConfig()
    metrics: MetricsConfig = MetricsConfig()
    nlp: NlpConfig = NlpConfig()

    def hash(self) -> str:
        """Hash of everything that changes results (the channel layout is per call and hashed there)."""
        data = self.model_dump(mode="json")
        data["asr"].pop("cpu_threads", None)  # thread count changes speed, not results
        data["audio"].pop("channels", None)
        blob = json.dumps(data, sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:16]

    def with_overrides(self, overrides: dict[str, Any], keep_none: bool = False) -> PipelineConfig:
        """``{"asr.model": "tiny.en"}`` -> a new validated config. ``None`` values are skipped unless ``keep_none``."""
        data = self.model_dump()
        for dotted, value in overrides.items():
            if value is None and not keep_none:
                continue
            node = data
            *parents, leaf = dotted.split(".")
            for key in parents:
                node = node[key]
            node[leaf] = value
        return _validate(data, "command-line options")


def load_config(path: str | Path | None = None) -> PipelineConfig:
    if path is None:
        return PipelineConfig()
    p = Path(path)
    raw, _ = read_yaml_mapping(p, "config", ConfigError, "sections (audio, asr, diarize, turns, metrics, nlp)")
    return _validate(raw, str(p))


def _validate(data: dict[str, Any], where: str) -> PipelineConfig:
    try:
        return PipelineConfig.model_validate(data)
    except ValidationError as exc:
        msgs = []
        for err in exc.errors():
            field = ".".join(str(x) for x in err["loc"])
            msgs.append(f"{where}: field '{field}': {err['msg']}")
        raise ConfigError("; ".join(msgs)) from None
