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

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from qa.errors import ConfigError
from qa.yamlfile import read_yaml_mapping


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AudioConfig(_Strict):
    max_duration_s: float = Field(4 * 3600.0, gt=0, description="Reject recordings longer than this.")
    channels: Literal["auto", "agent-left", "agent-right", "mono"] = Field(
        "auto",
        description="Two-channel files: auto = the agent's channel is decided from what each channel says (a "
        "manifest layout is then a prior, overridden when the call strongly contradicts it); agent-left / "
        "agent-right = fixed (a contradicting call is only warned about); 'mono' mixes both channels.",
    )
    channel_prior: Literal["agent-left", "agent-right"] | None = Field(
        None, description="Under channels: auto, the layout expected when the manifest gives none (a prior)."
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
    parties: int = Field(
        2,
        ge=0,
        le=10,
        description="Expected parties (a service call has two): extra clusters whose speech runs on into another "
        "cluster's are merged into it, tiny clusters are reassigned; 0 = keep every cluster the threshold gives.",
    )
    backchannels: bool = Field(
        True,
        description="On one channel, give a short 'okay / uh-huh' inside one speaker's speech to the other speaker "
        "when its voice is closer to theirs (resemblyzer embeddings only).",
    )
    voiceprints: str | None = Field(
        None,
        description="Agent voiceprints (qa agents enroll): a file, or the results store's database URL. On a mono "
        "call the speaker matching the call's agent_id is the agent; without an agent_id the best-matching enrolled "
        "agent is suggested.",
    )
    voiceprint_learning: bool = Field(
        False,
        description="Refine agents' voiceprints as calls arrive: a two-channel call with an agent_id whose agent "
        "channel was decided with confidence >= 0.9 (and not contradicted) adds that channel's voice to the agent's "
        "print (each call once). Needs diarize.voiceprints.",
    )

    @model_validator(mode="after")
    def _learning_needs_prints(self) -> DiarizeConfig:
        if self.voiceprint_learning and not self.voiceprints:
            raise ValueError("voiceprint_learning needs diarize.voiceprints (a file or a database URL to keep them)")
        return self

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
    review_below: float = Field(
        0.6,
        ge=0,
        le=1,
        description="Request types less confident than this need review (0.6: chosen on real residents' text).",
    )


class CityConfig(_Strict):
    """The city a deployment serves: its street names guide address matching and (optionally) recognition."""

    name: str | None = Field(None, description="The city's name, e.g. 'Los Angeles' (Open311 jurisdiction label).")
    streets: Path | None = Field(
        None,
        description="Street list: a text file with one street a line, or a CSV with columns name[,aliases] "
        "(aliases separated by '|'). Relative paths are read from the working folder.",
    )
    places: Path | None = Field(None, description="Optional place names (parks, facilities), one a line.")
    jurisdiction_id: str | None = Field(None, description="Open311 jurisdiction_id written into exported requests.")
    match_min: float = Field(
        0.82,
        gt=0,
        lt=1,
        description="A street said in a call matches the list at this score or above; below it "
        "the address needs review.",
    )
    hotwords: bool = Field(
        False,
        description="Second recognition pass over address-like stretches with the closest street names as "
        "faster-whisper hotwords (see bench/city.py for what it gains and costs).",
    )
    max_hotwords: int = Field(12, ge=1, le=60, description="Street names offered per address-like stretch.")

    @field_validator("streets", "places")
    @classmethod
    def _readable(cls, v: Path | None) -> Path | None:
        if v is not None and not Path(v).is_file():
            raise ValueError(f"file {v} does not exist (give a text file, one street a line, or a CSV)")
        return v

    def files_digest(self) -> str:
        """Hash of the street and place lists' contents: editing the list changes results, so it changes the hash."""
        h = hashlib.sha256()
        for p in (self.streets, self.places):
            h.update(Path(p).read_bytes() if p is not None else b"-")
        return h.hexdigest()[:16]


class LlmConfig(_Strict):
    """The optional generative stage (extra ``callqa[llm]``): a call summary and ``ask`` scorecard items."""

    enabled: bool = Field(False, description="Run the LLM stage (also: qa process --llm).")
    model: str = Field(
        "qwen2.5-coder-1.5b",
        description="qwen2.5-coder-1.5b (the packaged GGUF, joined once into the cache folder and verified) or the "
        "path of any local GGUF file (e.g. a bigger model on a GPU server).",
    )
    threads: int = Field(0, ge=0, description="CPU threads for the model; 0 = all cores.")
    n_ctx: int = Field(4096, ge=512, le=131072, description="Context window in tokens; longer calls are shortened.")
    gpu_layers: int = Field(0, ge=-1, description="Layers offloaded to a GPU (-1 = all; needs a GPU build).")
    summary: bool = Field(True, description="Write a summary of each call.")
    ask: bool = Field(True, description="Answer the scorecard's `ask` items (only calls whose scorecard has them).")
    cache_dir: Path | None = Field(
        None, description="Joined model and answer cache; default $CALLQA_CACHE/llm or ~/.cache/callqa/llm."
    )

    def n_threads(self) -> int:
        return self.threads or (os.cpu_count() or 1)


class PipelineConfig(_Strict):
    audio: AudioConfig = AudioConfig()
    asr: AsrConfig = AsrConfig()
    diarize: DiarizeConfig = DiarizeConfig()
    turns: TurnsConfig = TurnsConfig()
    metrics: MetricsConfig = MetricsConfig()
    nlp: NlpConfig = NlpConfig()
    city: CityConfig = CityConfig()
    llm: LlmConfig = LlmConfig()

    def hash(self) -> str:
        """Hash of everything that changes results (the channel layout is per call and hashed there)."""
        data = self.model_dump(mode="json")
        data["asr"].pop("cpu_threads", None)  # thread count changes speed, not results
        data["audio"].pop("channels", None)
        if self.city.streets is not None or self.city.places is not None:
            data["city"]["files_sha256"] = self.city.files_digest()
        else:
            data.pop("city")  # no profile: the same hash as before city profiles existed
        if self.llm.enabled:  # threads and the cache folder change speed, not results; the model is a stage version
            data["llm"] = {k: data["llm"][k] for k in ("n_ctx", "summary", "ask")}
        else:
            data.pop("llm")  # off: the same hash as before the stage existed
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
    sections = "sections (audio, asr, diarize, turns, metrics, nlp, city, llm)"
    raw, _ = read_yaml_mapping(p, "config", ConfigError, sections)
    city = raw.get("city")
    if isinstance(city, dict):  # list files named in a config file are found next to it
        for key in ("streets", "places"):
            if isinstance(city.get(key), str) and not Path(city[key]).is_absolute():
                city[key] = str(p.parent / city[key])
    llm = raw.get("llm")
    if isinstance(llm, dict) and isinstance(llm.get("model"), str) and llm["model"].endswith(".gguf"):
        if not Path(llm["model"]).expanduser().is_absolute():  # a GGUF named in a config file is found next to it
            llm["model"] = str(p.parent / llm["model"])
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
