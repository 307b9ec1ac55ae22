"""Answers the model already gave, on disk: one small JSON file per key, written atomically.

The key is a hash of what determines the answer (the kind of answer, the redacted transcript's hash, the model's
SHA-256, the prompt version and, for ``ask``, the role and question), so re-processing or re-scoring an unchanged
call asks nothing. Files hold the model's output about a call (redacted text): the folder belongs with the results,
not with world-readable temporary files; ``qa erase`` does not reach it, so a deployment that erases calls should
keep it on the same retention as its results (or set ``llm.cache_dir`` inside the results folder).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any


def cache_key(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


class AnswerCache:
    def __init__(self, folder: Path):
        self.folder = folder

    def _path(self, key: str) -> Path:
        return self.folder / key[:2] / f"{key}.json"

    def get(self, key: str) -> dict[str, Any] | None:
        try:
            data = json.loads(self._path(key).read_text())
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def put(self, key: str, value: dict[str, Any]) -> None:
        path = self._path(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=".tmp")
            with os.fdopen(fd, "w") as f:
                json.dump(value, f)
            os.replace(tmp, path)
        except OSError:  # a read-only cache only costs a repeated answer
            pass
