"""Stage ``nlp.request_type``: what the caller is asking for, from the caller's turns."""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path

from qa.errors import ConfigError
from qa.types import Prediction, Role, Turn

MODEL_DIR = Path(__file__).resolve().parents[2] / "models" / "request_type"


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
    review_below: float = 0.5
    name: str = "nlp.request_type"

    @property
    def version(self) -> str:
        return _load(str(self.model_dir))[1]["version"]

    def load(self) -> None:
        """Load the model and its sentence encoder now (once per worker), not on the first call."""
        model, _ = _load(str(self.model_dir))
        model.predict_proba(["warm up"])

    def predict(self, texts: list[str], top: int = 3) -> list[Prediction]:
        model, _ = _load(str(self.model_dir))
        probs = model.predict_proba(texts)
        classes = list(model.classes_)
        out = []
        for row in probs:
            order = row.argsort()[::-1]
            best = int(order[0])
            alts = tuple((classes[i], float(row[i])) for i in order[1 : top + 1])
            conf = float(row[best])
            out.append(Prediction(classes[best], conf, alts, conf < self.review_below, self.version))
        return out

    def for_call(self, turns: tuple[Turn, ...]) -> Prediction:
        """Reads the caller's turns; with no caller identified, everything that was said."""
        caller = " ".join(t.text for t in turns if t.role is Role.CALLER)
        text = caller or " ".join(t.text for t in turns)
        if not text.strip():
            return Prediction("other", 0.0, (), True, self.version)
        return self.predict([text])[0]
