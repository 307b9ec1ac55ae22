"""The request-type taxonomy: a versioned YAML file a city can replace (pydantic at the edge)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from qa.errors import ConfigError
from qa.resources import model_path
from qa.yamlfile import read_yaml_mapping

DEFAULT_TAXONOMY = model_path("request_type", "taxonomy.yaml")


class RequestType(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    department: str
    description: str
    examples: list[str] = Field(default_factory=list)
    service_code: str | None = Field(None, description="Open311 service_code; None = the type's key.")
    service_name: str | None = Field(None, description="Open311 service_name; None = the type's key, readable.")
    ticket: bool = Field(True, description="A call of this type should leave a service request (ticket).")


class Taxonomy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    version: str
    types: dict[str, RequestType]

    def service_code(self, label: str) -> str:
        t = self.types.get(label)
        return (t.service_code if t and t.service_code else None) or label

    def service_name(self, label: str) -> str:
        t = self.types.get(label)
        return (t.service_name if t and t.service_name else None) or label.replace("_", " ").capitalize()

    def needs_ticket(self, label: str | None) -> bool:
        t = self.types.get(label or "")
        return bool(t and t.ticket)

    def label_of(self, code_or_name: str) -> str | None:
        """The request type a ticket's type names: a key, a service_code or a service_name (case-insensitive)."""
        want = code_or_name.strip().lower()
        for key in self.types:
            if want in (key.lower(), self.service_code(key).lower(), self.service_name(key).lower()):
                return key
        return None


def load_taxonomy(path: str | Path = DEFAULT_TAXONOMY) -> Taxonomy:
    p = Path(path)
    raw, _ = read_yaml_mapping(p, "taxonomy", ConfigError, "version and types")
    try:
        return Taxonomy.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(x) for x in err["loc"])
        raise ConfigError(f"{p}: field '{field}': {err['msg']}") from None
