"""The request-type taxonomy: a versioned YAML file a city can replace (pydantic at the edge)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from qa.errors import ConfigError
from qa.yamlfile import read_yaml_mapping

DEFAULT_TAXONOMY = Path(__file__).resolve().parents[2] / "models" / "request_type" / "taxonomy.yaml"


class RequestType(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    department: str
    description: str
    examples: list[str] = Field(default_factory=list)


class Taxonomy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    version: str
    types: dict[str, RequestType]


def load_taxonomy(path: str | Path = DEFAULT_TAXONOMY) -> Taxonomy:
    p = Path(path)
    raw, _ = read_yaml_mapping(p, "taxonomy", ConfigError, "version and types")
    try:
        return Taxonomy.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(x) for x in err["loc"])
        raise ConfigError(f"{p}: field '{field}': {err['msg']}") from None
