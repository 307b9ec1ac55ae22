"""Per-call metadata from a CSV manifest: agent_id, team, queue, started_at, direction, channels, roles.

The ``path`` (or ``file``) column names the recording, relative to the manifest's folder or absolute; other columns
are kept as free-form metadata. Every bad value is reported with its row number and column.
"""

from __future__ import annotations

import csv
from datetime import datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from qa.errors import ConfigError
from qa.identifiers import IdentifierError, check_identifier
from qa.types import CallMetadata

KNOWN = ("agent_id", "team", "queue", "started_at", "direction", "channels", "roles")


class ManifestRow(BaseModel):
    # No whitespace stripping: an identifier with surrounding spaces is refused (qa/identifiers.py), not silently
    # changed; blank cells are empty values.
    model_config = ConfigDict(extra="forbid")

    path: str
    agent_id: str | None = None
    team: str | None = None
    queue: str | None = None
    started_at: datetime | None = None
    direction: Literal["inbound", "outbound"] | None = None
    channels: Literal["auto", "agent-left", "agent-right", "mono"] | None = None
    roles: Literal["agent-first", "caller-first"] | None = None

    @field_validator("*", mode="before")
    @classmethod
    def _blank_is_none(cls, v):
        return None if isinstance(v, str) and not v.strip() else v

    @field_validator("agent_id", "team", "queue")
    @classmethod
    def _identifier(cls, v: str | None) -> str | None:
        if v is None:
            return None
        try:
            return check_identifier(v, "value")
        except IdentifierError as exc:
            raise ValueError(str(exc).removeprefix("value: ")) from None

    @field_validator("path", "direction", "channels", "roles", "started_at", mode="before")
    @classmethod
    def _strip(cls, v):
        return v.strip() if isinstance(v, str) else v


class Manifest:
    def __init__(self, rows: dict[Path, CallMetadata], source: Path):
        self._by_path = rows
        self._by_name: dict[str, list[Path]] = {}
        for p in rows:
            self._by_name.setdefault(p.name, []).append(p)
        self.source = source

    def __len__(self) -> int:
        return len(self._by_path)

    def lookup(self, path: Path) -> CallMetadata | None:
        hit = self._by_path.get(path.resolve())
        if hit is None and len(self._by_name.get(path.name, [])) == 1:
            hit = self._by_path[self._by_name[path.name][0]]
        return hit


def load_manifest(path: str | Path) -> Manifest:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise ConfigError(f"{p}: cannot read manifest ({exc.strerror})") from None
    reader = csv.DictReader(text.splitlines())
    header = [h.strip() for h in (reader.fieldnames or [])]
    path_col = "path" if "path" in header else "file" if "file" in header else None
    if path_col is None:
        raise ConfigError(
            f"{p}: the manifest needs a 'path' (or 'file') column; found columns: {', '.join(header) or 'none'}"
        )
    rows: dict[Path, CallMetadata] = {}
    problems: list[str] = []
    for n, raw in enumerate(reader, start=2):  # row 1 is the header
        raw = {(k or "").strip(): (v or "") for k, v in raw.items()}
        known = {k: raw.get(k) for k in KNOWN if k in raw}
        try:
            row = ManifestRow(path=raw.get(path_col, ""), **known)
        except ValidationError as exc:
            for err in exc.errors():
                col = ".".join(str(x) for x in err["loc"]) or path_col
                problems.append(f"{p}: row {n}, column '{col}': {err['msg']} (got {err.get('input')!r})")
            continue
        if not row.path:
            problems.append(f"{p}: row {n}, column '{path_col}': empty")
            continue
        target = Path(row.path)
        target = (target if target.is_absolute() else p.parent / target).resolve()
        extra = {k: v for k, v in raw.items() if k not in KNOWN and k != path_col and k and v}
        rows[target] = CallMetadata(
            agent_id=row.agent_id,
            team=row.team,
            queue=row.queue,
            started_at=row.started_at.isoformat() if row.started_at else None,
            direction=row.direction,
            channels=row.channels,
            roles=row.roles,
            extra=extra,
        )
    if problems:
        raise ConfigError("\n".join(problems))
    return Manifest(rows, p)
