"""The per-call JSON document (schema documented in README.md, versioned by ``schema_version``): what `qa process`
writes, the store keeps and the scorecard engine reads (its rules name fields by dotted paths into this document)."""

from __future__ import annotations

from typing import Any

from qa.nlp.sentences import pack
from qa.nlp.tokens import stored_tokens
from qa.types import CallAnalysis, Evaluation, to_jsonable


def call_document(call: CallAnalysis) -> dict[str, Any]:
    a = call.audio
    return {
        "schema_version": call.schema_version,
        "call_id": call.call_id,
        "source": call.source,
        "audio": {
            "duration_s": round(a.duration_s, 3),
            "sample_rate": a.sample_rate,
            "channels": a.channels,
            "codec": a.codec,
            "sha256": a.sha256,
        },
        "input_sha256": call.input_sha256 or a.sha256,  # the file this result was made from (skip if unchanged)
        "channel_layout": call.channel_layout,
        "metadata": to_jsonable(call.metadata),
        "model": to_jsonable(call.model),
        "stages": dict(call.stages),
        "config_hash": call.config_hash,
        # each turn with its normalised tokens (qa/nlp/tokens.py), so that re-scoring reads them instead of redoing them
        "turns": [to_jsonable(t) | stored_tokens(t.text) for t in call.turns],
        "speakers": {
            "backend": call.speakers.backend,
            "count": call.speakers.count,
            "count_confidence": call.speakers.count_confidence,
            "voiceprint": to_jsonable(call.speakers.voice_match),
            "voiceprint_learned": to_jsonable(call.speakers.voice_learned),
            "roles": to_jsonable(call.speakers.roles),
            "segments": to_jsonable(call.speakers.segments),
        },
        "asr": [
            {
                "channel": t.channel,
                "language": t.language,
                "language_probability": t.language_probability,
                "words": len(t.words),
                "vad": to_jsonable(t.vad),
                "word_coverage": round(t.word_coverage, 3),
                "rejected_segments": t.rejected_segments,
                "hotword_stretches": t.hotword_stretches,
                "hotword_replaced": t.hotword_replaced,
            }
            for t in call.transcripts
        ],
        "language": to_jsonable(call.language),
        "metrics": to_jsonable(call.metrics),
        "request_type": to_jsonable(call.request_type),
        "emergency": to_jsonable(call.emergency),
        "sentiment": to_jsonable(call.sentiment),
        "entities": to_jsonable(call.entities),
        "location": to_jsonable(call.location),
        "redacted": to_jsonable(call.redacted),
        "summary": to_jsonable(call.summary),
        "sentences": pack(call.sentences) if call.sentences is not None else None,
        "warnings": to_jsonable(call.warnings),
        "errors": [],
        "timings_s": to_jsonable(call.timings_s),
    } | ({"asks": to_jsonable(call.asks)} if call.asks else {}) | (
        {"evaluation": evaluation_document(call.evaluation)} if SCORER in call.stages else {}
    )


SCORER = "scoring.scorecard"  # the stage name a scored call carries in ``stages``


def evaluation_document(ev: Evaluation | None) -> dict[str, Any] | None:
    """An evaluation as stored: the scorecard's identity in one block, then the totals rule (``rules``)."""
    if ev is None:
        return None
    data: dict[str, Any] = to_jsonable(ev)
    rules = data.pop("rules")
    for k in ("scorecard_id", "scorecard_version", "scorecard_hash"):
        data.pop(k)
    data["scorecard"] = {"id": ev.scorecard_id, "version": ev.scorecard_version, "hash": ev.scorecard_hash}
    data["rules"] = rules
    return data


def error_document(source: str, kind: str, message: str, call_id: str | None, config_hash: str) -> dict[str, Any]:
    """What a failed call leaves behind instead of a partial result."""
    return {
        "schema_version": "1.0",
        "call_id": call_id,
        "source": source,
        "config_hash": config_hash,
        "errors": [{"kind": kind, "message": message}],
    }
