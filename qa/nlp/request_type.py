"""Stage ``nlp.request_type``: what the caller is asking for, from the caller's turns."""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from pathlib import Path

from qa.errors import ConfigError
from qa.nlp import fastproba
from qa.resources import manifest, model_path
from qa.types import Emergency, Prediction, Role, Turn

MODEL_DIR = model_path("request_type")
STATUS = "service_request_status"
# A call about an existing request is a status follow-up whatever the request was about ("checking on my request
# about a fallen tree branch"): the topic words would otherwise win. The model's topic stays in the alternatives.
STATUS_CUES = re.compile(
    r"\b(?:check(?:ing)?(?: on)?|follow(?:ing)?[- ]?up(?: on)?|status of|update on|calling (?:back )?about)\b"
    r".{0,20}\b(?:my|a|the|an|our)\b.{0,15}\b(?:request|report|complaint|ticket|case)s?\b"
    r"|\b(?:my|the|our) (?:request|ticket|case|confirmation) number\b",
    re.I,
)


@functools.lru_cache(maxsize=2)
def _load(folder: str):
    import joblib

    p = Path(folder)
    if not (p / "model.joblib").is_file():
        raise ConfigError(f"{p}: no trained request-type model (run: qa train request-type)")
    manifest = json.loads((p / "manifest.json").read_text())
    try:
        return joblib.load(p / "model.joblib"), manifest
    except ImportError as exc:
        raise ConfigError(f"the request-type model needs {exc.name}: pip install 'callqa[nlp]'") from None


@dataclass
class RequestTypeClassifier:
    model_dir: Path = MODEL_DIR
    review_below: float = 0.6  # chosen on real residents' text (bench/generalization.py)
    name: str = "nlp.request_type"

    @property
    def version(self) -> str:
        return manifest(self.model_dir)["version"]

    def load(self) -> None:
        """Load the model and its sentence encoder now (once per worker), not on the first call."""
        model, _ = _load(str(self.model_dir))
        model.predict_proba(["warm up"])

    def predict(self, texts: list[str], top: int = 3, status_rule: bool = True) -> list[Prediction]:
        """One prediction per text (a caller's words, a web form, an e-mail)."""
        model, _ = _load(str(self.model_dir))
        probs = fastproba.proba(model, texts)
        classes = [str(c) for c in model.classes_]
        out = []
        for text, row in zip(texts, probs, strict=True):
            order = row.argsort()[::-1]
            best = int(order[0])
            alts = tuple((classes[i], float(row[i])) for i in order[1 : top + 1])
            conf = float(row[best])
            pred = Prediction(classes[best], conf, alts, conf < self.review_below, self.version)
            cue = STATUS_CUES.search(text) if status_rule else None
            if cue and (pred.label != STATUS or pred.needs_review):  # the words settle it, however unsure the model
                scores = {classes[i]: float(row[i]) for i in order}
                alts = tuple((k, v) for k, v in scores.items() if k != STATUS)[:top]
                reason = f"refers to an existing request: '{cue.group(0)}'"
                pred = Prediction(STATUS, max(scores[STATUS], self.review_below), alts, False, self.version, reason)
            out.append(pred)
        return out

    @staticmethod
    def after_triage(pred: Prediction, emergency: Emergency | None) -> Prediction:
        """An emergency the triage is sure of makes the call ``other`` (the taxonomy's home for calls that go to
        911), whatever the topic words say; the model's labels stay as alternatives."""
        if emergency is None or not emergency.flag or emergency.needs_review or pred.label == "other":
            return pred
        alts = ((pred.label, pred.confidence), *((k, v) for k, v in pred.alternatives if k != "other"))
        reason = f"the caller described an emergency ({emergency.category}): it belongs with 911"
        return Prediction("other", max(pred.confidence, 0.9), alts[: len(pred.alternatives)], False, pred.model, reason)

    def __call__(self, turns: tuple[Turn, ...], emergency: Emergency | None = None) -> Prediction:
        """The stage's call: the call's request type, after the emergency triage's answer."""
        return self.after_triage(self.for_call(turns), emergency)

    def for_call(self, turns: tuple[Turn, ...]) -> Prediction:
        """Reads the caller's turns; with no caller identified, everything that was said (then the follow-up rule is
        off: an agent asking for "the request number" does not make a call a follow-up)."""
        caller = " ".join(t.text for t in turns if t.role is Role.CALLER)
        text = caller or " ".join(t.text for t in turns)
        if not text.strip():
            return Prediction("other", 0.0, (), True, self.version)
        return self.predict([text], status_rule=bool(caller))[0]
