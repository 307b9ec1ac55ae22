"""Answers the model already gave, on disk: one small JSON file per key, written atomically.

The key is a hash of what determines the answer (the kind of answer, the redacted transcript's hash, the model's
SHA-256, the prompt version and, for ``ask``, the role and question), so re-processing or re-scoring an unchanged
call asks nothing. Files hold the model's output about a call (redacted text), so they are filed by the transcript
they are about (``<folder>/<sha[:2]>/<transcript sha256>/<key>.json``, owner-only folders): ``qa erase`` and
``qa retention apply`` remove a call's answers with its transcript (:func:`forget_call`), from the cache folder of
the machine they run on (a worker elsewhere keeps its own: point ``llm.cache_dir`` at storage they share).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any


def cache_key(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


_SHA = re.compile(r"[0-9a-f]{64}")


class AnswerCache:
    def __init__(self, folder: Path):
        self.folder = folder
        self._drop_old_layout()

    def _drop_old_layout(self) -> None:
        """Answers written before they were filed by transcript (``<folder>/<key[:2]>/<key>.json``) can never be
        found again, nor erased with their call: removed."""
        try:
            for path in self.folder.glob("??/*.json"):
                if _SHA.fullmatch(path.stem):
                    path.unlink(missing_ok=True)
        except OSError:
            pass

    def _group(self, transcript_sha: str) -> Path:
        if not _SHA.fullmatch(transcript_sha):  # a name from the call's own JSON: never a path of its own
            raise ValueError("a transcript sha256 (64 hex digits) is expected")
        return self.folder / transcript_sha[:2] / transcript_sha

    def _path(self, transcript_sha: str, key: str) -> Path:
        return self._group(transcript_sha) / f"{key}.json"

    def get(self, transcript_sha: str, key: str) -> dict[str, Any] | None:
        try:
            data = json.loads(self._path(transcript_sha, key).read_text())
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def put(self, transcript_sha: str, key: str, value: dict[str, Any]) -> None:
        path = self._path(transcript_sha, key)
        try:
            path.parent.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            path.parent.mkdir(exist_ok=True, mode=0o700)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=".tmp")
            with os.fdopen(fd, "w") as f:
                json.dump(value, f)
            os.replace(tmp, path)
        except OSError:  # a read-only cache only costs a repeated answer
            pass

    def forget(self, transcript_sha: str) -> int:
        """Remove every answer about this transcript; the number of files removed (OSError when one cannot be: the
        caller must not report an erasure that did not happen)."""
        try:
            group = self._group(transcript_sha)
        except ValueError:
            return 0
        if not group.exists():
            return 0
        removed = 0
        for path in sorted(group.iterdir()):
            path.unlink()
            removed += path.suffix == ".json"
        group.rmdir()
        return removed


def transcript_shas(doc: dict[str, Any]) -> set[str]:
    """The transcripts a call's LLM answers were made from (its summary's and its ``asks``')."""
    found = {str((doc.get("summary") or {}).get("transcript_sha256") or "")}
    found |= {str(a.get("transcript_sha256") or "") for a in doc.get("asks") or () if isinstance(a, dict)}
    return {x for x in found if _SHA.fullmatch(x)}


def forget_call(cache: AnswerCache | None, shas: set[str]) -> int:
    """Remove the cached answers about a call whose transcript is being removed (erasure, retention)."""
    if cache is None:
        return 0
    return sum(cache.forget(sha) for sha in sorted(shas))
