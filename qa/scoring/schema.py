"""The scorecard format (YAML, validated with pydantic). Errors name the file, the item and the field.

A scorecard has sections with weights; a section has items; an item asks a question, is worth points, may be
critical, may apply only under conditions, and is answered by a rule (or left to the reviewer: ``manual``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from qa.errors import QAError
from qa.yamlfile import read_yaml_mapping


class ScorecardError(QAError):
    kind = "scorecard"


class _M(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


Role = Literal["agent", "caller", "any"]
Language = Annotated[str, Field(pattern=r"^[a-z]{2,3}$")]


class _Phrases(_M):
    """What phrase and forbidden rules share: who says them, the phrases, their languages and translations."""

    role: Role = "agent"
    phrases: list[str] = Field(min_length=1)
    languages: list[Language] | None = Field(
        None, description="The languages the phrases are written in; None = the scorecard's `languages`."
    )
    translations: dict[Language, list[str]] = Field(
        default_factory=dict, description="The same phrases in other languages, e.g. {es: [...]}."
    )

    def all_phrases(self) -> list[str]:
        return [*self.phrases, *(p for ps in self.translations.values() for p in ps)]


class PhraseRule(_Phrases):
    """Any of ``phrases`` said by ``role`` (case, punctuation and spoken numbers normalised; words of 5+ letters
    may be off by one letter, for recognition errors), optionally within the first ``within_s`` seconds."""

    type: Literal["phrase"]
    within_s: float | None = Field(None, gt=0)
    last_s: float | None = Field(None, gt=0, description="Only the last N seconds of the call.")


class ForbiddenRule(_Phrases):
    """Passes when none of ``phrases`` is said by ``role``."""

    type: Literal["forbidden"]


class MetricRule(_M):
    """A conversation metric compared with a value, e.g. ``interruptions_by.agent <= 1``."""

    type: Literal["metric"]
    metric: str
    op: Literal["<", "<=", ">", ">=", "==", "!="]
    value: float


class FieldRule(_M):
    """A classifier output, e.g. ``emergency.flag == true``, ``sentiment.caller.de_escalated == true``."""

    type: Literal["field"]
    field: str
    op: Literal["==", "!=", "in", "<", "<=", ">", ">="] = "=="
    value: bool | float | str | list[str]


class EntityRule(_M):
    """An entity of one of ``types`` appears in a turn of ``role``."""

    type: Literal["entity"]
    types: list[str] = Field(min_length=1)
    role: Role = "agent"
    within_s: float | None = Field(None, gt=0, description="Only entities starting in the first N seconds.")


class OrderRule(_M):
    """``first`` is satisfied (its first evidence) before ``then``'s last evidence."""

    type: Literal["order"]
    first: Rule
    then: Rule


class AllRule(_M):
    type: Literal["all"]
    rules: list[Rule] = Field(min_length=1)


class AnyRule(_M):
    type: Literal["any"]
    rules: list[Rule] = Field(min_length=1)


class NotRule(_M):
    type: Literal["not"]
    rule: Rule


class SemanticRule(_M):
    """A sentence of ``role`` that means the same as one of ``examples`` (cosine similarity of sentence embeddings at
    least ``threshold``) and is closer to its best example than to any of ``counter_examples``. A best match within
    ``review_band`` below the threshold is uncertain: the item goes to review instead of "no". Evidence: the
    sentence, its time, the similarity and the example it matched."""

    type: Literal["semantic"]
    role: Role = "agent"
    examples: list[Annotated[str, Field(min_length=2)]] = Field(min_length=1)
    counter_examples: list[Annotated[str, Field(min_length=2)]] = Field(default_factory=list)
    threshold: float = Field(0.7, gt=0, lt=1)
    review_band: float = Field(0.05, ge=0, lt=0.5)
    min_words: int = Field(2, ge=1, le=20, description='Shorter sentences never match ("okay.", "yes.").')
    within_s: float | None = Field(None, gt=0)
    last_s: float | None = Field(None, gt=0, description="Only the last N seconds of the call.")
    languages: list[Language] | None = Field(
        None, description="The languages of the examples; None = the scorecard's `languages`."
    )
    unreadable: Literal["review", "no_match"] = Field(
        "review",
        description="On turns in a language the rule cannot read: 'review' (the default: a person decides) or "
        "'no_match' (read as 'no such sentence'; only for a rule that can only take credit away, e.g. under `not`, "
        "whose ground other rules of the item cover in that language).",
    )


class AskRule(_M):
    """A question put to the LLM stage (qa/llm, extra ``callqa[llm]``): the model copies the sentence of ``role`` that
    shows the answer is yes, word for word, or answers NO. Yes only when the copy is found in that role's turns
    (the call's words are the evidence); NO is ``none`` (no, or na for a question that only applies when the thing
    happened); a copy that is not in the call, or no answer (the stage off or not installed), is ``needs_review``."""

    type: Literal["ask"]
    role: Role = "agent"
    question: str = Field(min_length=5, max_length=500)
    none: Literal["no", "na"] = Field("no", description="What a NO answer means: 'no' or 'na' (not applicable).")


class ManualRule(_M):
    """Left to the reviewer: always ``needs_review``."""

    type: Literal["manual"]


Rule = Annotated[
    PhraseRule
    | ForbiddenRule
    | MetricRule
    | FieldRule
    | EntityRule
    | OrderRule
    | AllRule
    | AnyRule
    | NotRule
    | SemanticRule
    | AskRule
    | ManualRule,
    Field(discriminator="type"),
]
for _cls in (OrderRule, AllRule, AnyRule, NotRule):
    _cls.model_rebuild()


class Condition(_M):
    """When an item applies; every given field must hold. Otherwise the item is N/A (out of the denominator)."""

    request_type_in: list[str] | None = None
    request_type_not_in: list[str] | None = None
    emergency: bool | None = None
    hold: bool | None = None
    caller_negative: bool | None = Field(None, description="Any caller turn scored negative (sentiment lexicon).")
    caller_upset: bool | None = Field(
        None, description="The caller was upset (angry, frustrated, worried, distressed): the caller-state classifier."
    )


class Item(_M):
    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    question: str
    points: float = Field(1.0, gt=0)
    critical: bool = False
    applies_if: Condition | None = None
    rule: Rule
    second_opinion: AskRule | None = Field(
        None,
        description="Put to the LLM stage only when `rule` leaves the item to a person (no answer, or a confidence "
        "under 0.75): a verified answer (a quote found in the call, or NO) decides the item, anything else leaves it "
        "for review. The model is asked nothing about the items the rules decide.",
    )


class Section(_M):
    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    name: str
    weight: float = Field(1.0, gt=0)
    items: list[Item] = Field(min_length=1)


class AppliesTo(_M):
    request_types: list[str] | None = None
    queues: list[str] | None = None
    directions: list[Literal["inbound", "outbound"]] | None = None


class Scorecard(_M):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$")
    name: str
    version: str
    applies_to: AppliesTo = AppliesTo()
    pass_percent: float = Field(80.0, ge=0, le=100)
    critical_fails: Literal["call", "section"] = "call"
    languages: list[Language] = Field(
        default_factory=lambda: ["en"],
        description="The language the phrases and examples are written in. A call (or a role's turns) in another "
        "language gets `needs_review`, never 'no', on items whose words it cannot check (qa/scoring/language.py).",
    )
    sections: list[Section] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_ids(self) -> Scorecard:
        seen: set[str] = set()
        for sec in self.sections:
            for it in sec.items:
                if it.id in seen:
                    raise ValueError(f"item id '{it.id}' is used twice; item ids must be unique")
                seen.add(it.id)
        return self


def load_scorecard(path: str | Path) -> tuple[Scorecard, str]:
    """The validated scorecard and the SHA-256 (first 16 hex) of the file's content."""
    p = Path(path)
    raw, raw_text = read_yaml_mapping(p, "scorecard", ScorecardError, "id, name, version and sections")
    try:
        card = Scorecard.model_validate(raw)
    except ValidationError as exc:
        raise ScorecardError("\n".join(_describe(p, raw, e) for e in exc.errors()[:10])) from None
    return card, hashlib.sha256(raw_text.encode()).hexdigest()[:16]


def _describe(path: Path, raw: Mapping[str, Any], err: Mapping[str, Any]) -> str:
    """'file: item 'greeting' (section 'opening'), field 'rule.within_s': ... ' from a pydantic error location."""
    loc = list(err["loc"])
    where = ""
    if len(loc) >= 2 and loc[0] == "sections" and isinstance(loc[1], int):
        try:
            sec = raw["sections"][loc[1]]
            where = f"section '{sec.get('id', loc[1])}'"
            if len(loc) >= 4 and loc[2] == "items" and isinstance(loc[3], int):
                where = f"item '{sec['items'][loc[3]].get('id', loc[3])}' ({where})"
                loc = loc[4:]
            else:
                loc = loc[2:]
        except (KeyError, IndexError, TypeError, AttributeError):
            pass
    # drop pydantic's union tags (e.g. 'phrase') from the path
    field = ".".join(str(x) for x in loc if not (isinstance(x, str) and x in _RULE_TAGS))
    return f"{path}: {where + ', ' if where else ''}field '{field or '(top)'}': {err['msg']}"


_RULE_TAGS = {
    "phrase", "forbidden", "metric", "field", "entity", "order", "all", "any", "not", "semantic", "ask", "manual",
}  # fmt: skip
