"""Where callqa's own data lives: trained models (``models/``) and scorecards (``scorecards/``).

In a checkout they are the top-level folders; in an installed wheel they are the packages ``callqa_models`` and
``callqa_scorecards`` (pyproject maps the folders to those names), found with importlib.resources, never relative to
the source tree.
"""

from __future__ import annotations

import functools
import json
from importlib.resources import files
from pathlib import Path
from typing import Any


@functools.cache
def models_dir() -> Path:
    return Path(str(files("callqa_models")))


@functools.cache
def scorecards_dir() -> Path:
    return Path(str(files("callqa_scorecards")))


def model_path(*parts: str) -> Path:
    return models_dir().joinpath(*parts)


def scorecard_path(name: str) -> Path:
    return scorecards_dir() / name


@functools.lru_cache(maxsize=32)
def manifest(folder: str | Path) -> dict[str, Any]:
    """A trained model's manifest.json (name, version, ...), read without loading the model: a process that only
    needs stage versions (the API accepting an upload computes the job's identity from them) never loads a model."""
    from qa.errors import ConfigError

    p = Path(folder) / "manifest.json"
    try:
        data: dict[str, Any] = json.loads(p.read_text())
        return data
    except FileNotFoundError:
        raise ConfigError(f"{p.parent}: no trained model here (manifest.json missing)") from None
