"""Scorecard rules and the call's language: a rule that reads words (phrases, semantic examples, entities) only
answers "no" when it can read the language the turns it looks at were said in. Otherwise the absence of its words
proves nothing, and the rule answers "cannot tell" (the item goes to review); what it did find still counts.

Which languages a rule reads:
- phrase / forbidden: the languages its phrases are written in (``languages``, default the scorecard's) plus the
  languages of its ``translations``;
- semantic: the languages of its examples, and only those the sentence encoder supports (``nlp.sentences``);
- entity: the languages the entity stage supports (``nlp.entities``).
A call document without a ``language`` block (made before language detection) is read as before.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, cast

from qa.objcache import PerObject
from qa.scoring import schema as S
from qa.types import Evidence

if TYPE_CHECKING:
    from qa.scoring.engine import CallView

TEXT_RULES = (S.PhraseRule, S.ForbiddenRule, S.SemanticRule, S.EntityRule)
TextRule = S.PhraseRule | S.ForbiddenRule | S.SemanticRule | S.EntityRule
_TEXT_TYPES = frozenset(TEXT_RULES)


def spoken(doc: Mapping[str, Any], roles: Sequence[str], role: str) -> frozenset[str]:
    """The languages the turns of ``role`` ("any": all turns) were said in (the call's, when none of them says)."""
    lang = doc.get("language")
    if not lang:
        return frozenset()
    per_turn = lang.get("turns") or ()
    found = {code for code, r in zip(per_turn, roles, strict=False) if code and (role == "any" or r == role)}
    return frozenset(found or lang.get("languages") or ())


_WRITTEN: PerObject[frozenset[str]] = PerObject()


def written_in(rule: S.PhraseRule | S.ForbiddenRule | S.SemanticRule, card_languages: Sequence[str]) -> frozenset[str]:
    """The languages a rule's words are written in (its own, else the scorecard's; translations included), worked
    out once per rule object."""

    def make() -> frozenset[str]:
        langs = frozenset(rule.languages or card_languages)
        return langs if isinstance(rule, S.SemanticRule) else langs | frozenset(rule.translations)

    return _WRITTEN.get(rule, make, tuple(card_languages))


def readable(rule: S.Rule, doc: Mapping[str, Any], card_languages: Sequence[str]) -> frozenset[str] | None:
    """The languages ``rule`` can read (None: any, it reads no words)."""
    unsupported = (doc.get("language") or {}).get("unsupported") or {}
    if isinstance(rule, (S.PhraseRule, S.ForbiddenRule)):
        return written_in(rule, card_languages)
    if isinstance(rule, S.SemanticRule):
        cannot = unsupported.get("nlp.sentences")
        return written_in(rule, card_languages) - frozenset(cannot) if cannot else written_in(rule, card_languages)
    if isinstance(rule, S.EntityRule):
        spoken_all = frozenset((doc.get("language") or {}).get("languages") or ())
        return spoken_all - frozenset(unsupported.get("nlp.entities") or ())
    return None


def gap(rule: S.Rule, view: CallView) -> tuple[str, ...]:
    """The languages spoken where ``rule`` looks that it cannot read."""
    if type(rule) not in _TEXT_TYPES or not view.doc.get("language"):  # a set lookup: this runs for every rule
        return ()
    text_rule = cast(TextRule, rule)
    if isinstance(text_rule, S.SemanticRule) and text_rule.unreadable == "no_match":
        return ()
    can = readable(text_rule, view.doc, view.card_languages)
    role = text_rule.role
    said = view.spoken_by_role.get(role)
    if said is None:
        said = view.spoken_by_role[role] = spoken(view.doc, [t.role for t in view.turns], role)
    return tuple(sorted(said - (can or frozenset())))


def found_something(rule: S.Rule, passed: bool | None) -> bool:
    """Whether the result rests on words the rule found (kept) rather than on their absence (not proof)."""
    if isinstance(rule, S.ForbiddenRule):
        return passed is False
    return passed is True


def note(missing: tuple[str, ...], name: str) -> Evidence:
    return Evidence(
        None, None, None, None, f"unsupported_language: {','.join(missing)} (this rule cannot read it)", name
    )


def request_type_unreadable(doc: Mapping[str, Any]) -> bool:
    """The request-type model could not read the call's language: conditions on the label cannot be decided."""
    rt = doc.get("request_type") or {}
    if str(rt.get("reason") or "").startswith("unsupported_language"):
        return True
    return bool(((doc.get("language") or {}).get("unsupported") or {}).get("nlp.request_type"))
