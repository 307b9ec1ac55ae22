"""faster-whisper transcription of one channel, with a VAD that is checked against the signal.

Silero VAD (shipped inside faster-whisper) is known to miss speech on band-limited telephone audio. We therefore run
it ourselves, measure how much of the channel's energetic signal it kept, and when it kept too little we retry with a
relaxed threshold and finally add the energy-detected regions. The chosen regions are concatenated and transcribed
exactly as faster-whisper's own ``vad_filter=True`` path does (``collect_chunks`` + timestamp restoration), so the
default case costs the same as bare faster-whisper.
"""

from __future__ import annotations

import functools
import logging
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from qa import intervals as iv
from qa.config import AsrConfig
from qa.errors import StageError
from qa.types import ChannelTranscript, Interval, ModelInfo, VadReport, Word

log = logging.getLogger("qa.asr")
MAX_WINDOW_S = 29.5  # Whisper's window is 30 s
RATE = 16000


@functools.lru_cache(maxsize=2)
def _cached_model(name: str, device: str, compute_type: str, threads: int, local_only: bool):
    from qa.asr.models import load_whisper, resolve

    source = resolve(name)
    t = time.perf_counter()
    model = load_whisper(source, device, compute_type, threads, local_only)
    log.info("loaded ASR model %s (%s) in %.1f s", name, source.detail, time.perf_counter() - t)
    return model, source


@dataclass
class WhisperTranscriber:
    """Stage ``asr.faster_whisper``: one channel of 16 kHz audio -> words with timestamps."""

    config: AsrConfig
    name: str = "asr.faster_whisper"
    version: str = "1"

    def _model(self):
        c = self.config
        return _cached_model(c.model, c.device, c.compute_type, c.threads(), c.local_files_only)

    def load(self) -> Any:
        """Load (once per process) and return the model (a faster_whisper.WhisperModel)."""
        return self._model()[0]

    def info(self) -> ModelInfo:
        _, source = self._model()
        return ModelInfo(
            name=self.config.model,
            source=source.detail,
            path=source.location if source.kind != "hub" else None,
            compute_type=self.config.compute_type,
            beam_size=self.config.beam_size,
            language=self.config.language_label(),
            cpu_threads=self.config.threads(),
            vad="silero (faster-whisper) checked against energy",
        )

    def speech_regions(self, x: np.ndarray, energy: np.ndarray) -> tuple[np.ndarray, np.ndarray, VadReport]:
        """Choose the regions to transcribe (seconds), the part of them Silero vouches for, and how they were chosen."""
        from faster_whisper.vad import VadOptions, get_speech_timestamps

        cfg = self.config.vad
        energy_s = iv.total(energy)

        def silero(opts: VadOptions) -> np.ndarray:
            ts = get_speech_timestamps(x, opts, sampling_rate=RATE)
            return iv.as_array([(t["start"] / RATE, t["end"] / RATE) for t in ts])

        regions = silero(VadOptions())  # faster-whisper's defaults for vad_filter=True
        first_cov = iv.coverage(regions, energy)
        method, cov = "silero", first_cov
        if cov < cfg.min_coverage:
            relaxed = silero(VadOptions(threshold=cfg.relaxed_threshold, neg_threshold=cfg.relaxed_threshold / 2))
            rcov = iv.coverage(relaxed, energy)
            if rcov > cov:
                regions, method, cov = relaxed, "silero-relaxed", rcov
        trusted = regions
        if cov < cfg.min_coverage and cfg.energy_fallback:
            regions = iv.merge(np.concatenate([regions, iv.dilate(energy, 0.2, 0.0, len(x) / RATE)]), gap=0.0)
            method, cov = f"{method}+energy", iv.coverage(regions, energy)
        report = VadReport(method, iv.total(regions), energy_s, cov, first_cov)
        return regions, trusted, report

    def choose_language(self, model, joined: np.ndarray) -> tuple[str | None, float | None]:
        """The language to decode this channel in: the configured one, or Whisper's detection restricted to the
        allowed languages (the likeliest of them, however small its probability: a centre that answers in English
        and Spanish never gets Portuguese). English-only models decode English."""
        fixed = self.config.fixed_language()
        if fixed is not None:
            return fixed, None
        if not getattr(model.model, "is_multilingual", True):
            return "en", None
        allowed = self.config.language if isinstance(self.config.language, list) else None
        _, _, probs = model.detect_language(audio=joined, language_detection_segments=2)
        ranked = [(lang, float(p)) for lang, p in probs if allowed is None or lang in allowed]
        if not ranked:
            return (allowed[0] if allowed else None), None
        total = sum(p for _, p in ranked) or 1.0
        lang, p = max(ranked, key=lambda x: x[1])
        return lang, round(p / total, 3)  # probability among the allowed languages

    def _batched(self, model, joined: np.ndarray, language: str | None):
        """BatchedInferencePipeline over the speech regions joined back to back (as in sequential decoding), cut into
        consecutive windows of at most 30 s: dense windows, N decoded at a time, none conditioned on another."""
        from faster_whisper import BatchedInferencePipeline

        total = len(joined) / RATE
        starts = np.arange(0.0, total, MAX_WINDOW_S)
        clips = [{"start": float(s), "end": float(min(s + MAX_WINDOW_S, total))} for s in starts]
        return BatchedInferencePipeline(model).transcribe(
            joined,
            language=language,
            beam_size=self.config.beam_size,
            word_timestamps=True,
            clip_timestamps=clips,
            batch_size=self.config.batch_size,
        )

    def __call__(self, x: np.ndarray, channel: int, energy: np.ndarray) -> ChannelTranscript:
        """The stage's call (qa/stages.py): one channel's words."""
        return self.transcribe(x, channel, energy)

    def transcribe(self, x: np.ndarray, channel: int, energy: np.ndarray) -> ChannelTranscript:
        from faster_whisper.vad import SpeechTimestampsMap, collect_chunks

        model = self.load()
        regions, trusted, report = self.speech_regions(x, energy)
        if len(regions) == 0:
            return ChannelTranscript(
                channel, (), self.config.fixed_language() or "", report, 0.0, 0, _as_tuple(trusted)
            )
        chunks = [{"start": int(s * RATE), "end": min(int(e * RATE), len(x))} for s, e in regions]
        try:
            pieces, _ = collect_chunks(x, chunks)
            joined = np.concatenate(pieces).astype(np.float32, copy=False)
            language, language_p = self.choose_language(model, joined)
            if self.config.batch_size:
                segments, info = self._batched(model, joined, language)
            else:
                segments, info = model.transcribe(
                    joined,
                    language=language,
                    beam_size=self.config.beam_size,
                    word_timestamps=True,
                    vad_filter=False,
                    condition_on_previous_text=True,
                )
            ts_map = SpeechTimestampsMap(chunks, RATE)
            words: list[Word] = []
            rejected = 0
            for seg in segments:
                seg_words = []
                for w in seg.words or ():
                    # Resolve start and end through the same chunk, as faster-whisper does.
                    idx = ts_map.get_chunk_index((w.start + w.end) / 2)
                    start, end = ts_map.get_original_time(w.start, idx), ts_map.get_original_time(w.end, idx)
                    seg_words.append(Word(start=start, end=end, word=w.word.strip(), probability=float(w.probability)))
                if seg_words and not _plausible(seg, seg_words, trusted):
                    rejected += 1
                    continue
                words.extend(seg_words)
        except (RuntimeError, ValueError) as exc:
            raise StageError(f"speech recognition failed on channel {channel}: {exc}") from None
        spans = iv.dilate([(w.start, w.end) for w in words], 0.15)
        return ChannelTranscript(
            channel=channel,
            words=tuple(w for w in words if w.word),
            language=info.language,
            vad=report,
            word_coverage=iv.coverage(spans, energy),
            rejected_segments=rejected,
            vad_speech=_as_tuple(trusted),
            language_probability=language_p,
        )


def _as_tuple(arr: np.ndarray) -> tuple[Interval, ...]:
    return tuple(Interval(float(s), float(e)) for s, e in arr)


# Whisper invents fluent text on noise ("Thank you for watching"). Text from regions only the energy fallback
# proposed must look like real recognition: measured on real speech vs. noise, hallucinations had no-speech
# probability 0.4-0.8, mean log-probability down to -1.5 and word probability 0.2-0.7; speech had <= 0.1, ~-0.2, ~0.9.
FALLBACK_MAX_NO_SPEECH = 0.4
FALLBACK_MIN_LOGPROB = -0.8
FALLBACK_MIN_WORD_PROB = 0.5


def _plausible(seg, words: list[Word], trusted: np.ndarray) -> bool:
    """Accept a segment Silero vouches for; hold one that lies mostly in fallback regions to a stricter standard."""
    span = iv.as_array([(w.start, max(w.end, w.start + 0.01)) for w in words])
    if iv.coverage(trusted, span) >= 0.5:
        return True
    mean_prob = float(np.mean([w.probability for w in words]))
    return (
        seg.no_speech_prob <= FALLBACK_MAX_NO_SPEECH
        and seg.avg_logprob >= FALLBACK_MIN_LOGPROB
        and mean_prob >= FALLBACK_MIN_WORD_PROB
    )
