"""Reading the YAML files users write (config, scorecards, taxonomy): one place for the read and parse errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from qa.errors import QAError


def read_yaml_mapping(path: Path, what: str, error: type[QAError], shape: str) -> tuple[dict[str, Any], str]:
    """The top-level mapping and the raw text; an unreadable file, bad YAML or another top level is one ``error``
    naming the file (``what`` says which kind of file, ``shape`` what the top level must hold)."""
    try:
        text = path.read_text(encoding="utf-8")
        raw = yaml.safe_load(text)
    except OSError as exc:
        raise error(f"{path}: cannot read {what} ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        raise error(f"{path}: not valid YAML ({exc})") from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise error(f"{path}: the top level must be a mapping of {shape}")
    return raw, text
