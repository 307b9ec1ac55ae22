"""What a language stage says about a call in a language it was not built for: its answer is kept for the record but
marked (``reason: unsupported_language: es``) and sent to a person, never given as a confident label.

- request type: ``needs_review``; scorecard conditions on it become uncertain (qa/scoring/language.py).
- emergency: a flag the stage raised stays raised (safer); "no emergency" becomes "not known" (``needs_review``).
- sentiment: the caller-state answer (was the caller upset?) becomes unknown (``upset_review``).
"""

from __future__ import annotations

import re
from dataclasses import replace

from qa.nlp.language import fold_accents, supports, unsupported_reason
from qa.types import Emergency, LanguageReport, Prediction, Sentiment, Warning_


def request_type(pred: Prediction, report: LanguageReport, turns=(), emergency: Emergency | None = None) -> Prediction:
    """A call mainly in Spanish: the Spanish keyword rules (qa/nlp/request_type_es.py), which give a label without
    review only when one label's words are found; any other unsupported language: the model's guess, for review."""
    if report.language == "es" and turns:
        from qa.nlp import request_type_es

        return request_type_es.classify(turns, bool(emergency and emergency.flag and not emergency.needs_review))
    if supports(report, "nlp.request_type"):
        return pred
    return replace(pred, needs_review=True, reason=unsupported_reason(report, "nlp.request_type"))


def emergency(em: Emergency, report: LanguageReport, turns=()) -> Emergency:
    """Spanish turns: explicit Spanish cues raise the flag (qa/nlp/emergency_es.py); without one, "not known"."""
    if supports(report, "nlp.emergency") or em.flag and not em.needs_review:
        return em
    if "es" in report.unsupported.get("nlp.emergency", ()) and turns:
        from qa.nlp import emergency_es

        found = emergency_es.triage(turns, [lang or report.language for lang in report.turns])
        if found is not None:
            return found
    return replace(em, needs_review=True, reason=unsupported_reason(report, "nlp.emergency"))


# A Spanish caller who says so, or who described an emergency, was upset; without such words it is not known.
UPSET_ES = re.compile(
    r"\b(estoy (muy )?(harto|harta|enojad[oa]|molest[oa]|frustrad[oa]|preocupad[oa]|asustad[oa]|desesperad[oa])"
    r"|tengo (mucho )?miedo|no es justo|que coraje|ya me canse|otra vez|por tercera vez|ya (he )?llam[eoa]\w*"
    r"|increible|es el colmo|no puede ser|ay dios)\b"
)


def sentiment(s: Sentiment, report: LanguageReport, turns=(), emergency: Emergency | None = None) -> Sentiment:
    if supports(report, "nlp.sentiment"):
        return s
    reason = unsupported_reason(report, "nlp.sentiment")
    if s.caller is None:
        return replace(s, reason=reason)
    langs = [lang or report.language for lang in report.turns]
    hit = next(
        (
            (i, t.start)
            for i, t in enumerate(turns)
            if t.role.value == "caller" and langs[i] == "es" and UPSET_ES.search(fold_accents(t.text).lower())
        ),
        None,
    )
    if emergency is not None and emergency.flag and not emergency.needs_review:
        caller = replace(s.caller, upset=True, upset_review=False, upset_turn=emergency.turn, upset_time=emergency.time)
    elif hit is not None:
        caller = replace(s.caller, upset=True, upset_review=False, upset_turn=hit[0], upset_time=hit[1])
    else:
        caller = replace(s.caller, upset=None, upset_review=True)
    return replace(s, caller=caller, reason=reason + (" (upset from Spanish words)" if caller.upset else ""))


def warnings(report: LanguageReport) -> tuple[Warning_, ...]:
    from qa.nlp.language import switch_message

    out = []
    if report.switched:
        out.append(Warning_("language_switch", switch_message(report)))
    if report.unsupported:
        langs = sorted({lang for v in report.unsupported.values() for lang in v})
        stages = ", ".join(sorted(report.unsupported))
        msg = (
            f"the call is (partly) in {', '.join(langs)}, which {stages} do not support: their answers and the "
            "scorecard items that depend on them need review"
        )
        if "nlp.entities" in report.unsupported:
            msg += "; redaction may miss personal data said in that language"
        out.append(Warning_("unsupported_language", msg))
    return tuple(out)
