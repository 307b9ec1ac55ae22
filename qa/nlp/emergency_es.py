"""Explicit emergency cues in Spanish, for the emergency stage on Spanish calls (its model reads English only).

Rules only, so they find what a caller says plainly ("huele a gas", "no respira", "sale humo negro", "tiene una
pistola") and nothing described indirectly: a Spanish call where no cue is found stays "not known" (needs review),
never a confident "no emergency". A cue preceded closely by a negation ("no hay humo", "nadie está herido") or a
hypothesis ("si hubiera un incendio") does not count. Patterns are written on lower-cased text without accents.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from qa.nlp.language import fold_accents
from qa.types import Emergency, Turn

VERSION = "1"
CUES: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (cat, re.compile(p))
    for cat, p in (
        ("gas", r"\b(huele (a|como a) gas|olor a gas|fuga de gas|escape de gas|se (esta )?saliendo el gas)\b"),
        ("gas", r"\bmonoxido de carbono\b"),
        (
            "fire_smoke",
            r"\b(se esta quemando|esta(n)? en llamas|hay (un )?incendio|hay fuego|(sale|saliendo|salia) (mucho )?humo"
            r"|humo (negro|espeso|saliendo)|mucho humo|llamas)\b",
        ),
        (
            "medical",
            r"\b(no (esta )?respira(ndo)?|no puede respirar|no puede (agarrar|tomar) aire|inconsciente|desmayad[oa]"
            r"|se desmayo|no responde|no (me )?(esta )?contesta(ndo)? bien|sangrando|mucha sangre|ataque al corazon"
            r"|infarto|convulsion(es|ando)?|se pego (en|con) la cabeza|esta(n)? (muy )?(herid|lastimad)[oa]s?"
            r"|no se (puede )?(levanta|mueve)|mareados?)\b",
        ),
        (
            "violence_crime",
            r"\b((tiene|trae|con) (una |un )?(pistola|arma|cuchillo|navaja)|disparos|balazos|le dispararon"
            r"|(estan|esta) (robando|golpeando)|se (estan|esta) metiendo a (la|mi) casa|(me|lo|la|los) (quiere|va a)"
            r" matar|apunal)\b",
        ),
        (
            "electrical_hazard",
            r"\b(cables? (de (luz|electricidad) )?(caidos?|en el suelo|echando chispas|tirados?)|echando chispas)\b",
        ),
    )
)
NEGATION = re.compile(r"\b(no|nadie|ningun|ninguna|nada|sin|nunca|pense que|creia que)(\W+\w+){0,3}\W*$")
HYPOTHESIS = re.compile(r"\bsi(\W+\w+){0,3}\W*$")  # "si hubiera": on the text with accents ("sí" is yes)


def rule_cue(text: str) -> tuple[str, re.Match[str]] | None:
    low = fold_accents(text).lower()  # same length as the text: positions agree
    accented = text.lower()
    for category, pattern in CUES:
        for m in pattern.finditer(low):
            if not NEGATION.search(low[: m.start()]) and not HYPOTHESIS.search(accented[: m.start()]):
                return category, m
    return None


def triage(turns: Sequence[Turn], languages: Sequence[str]) -> Emergency | None:
    """The first caller sentence in a Spanish turn with an explicit cue, or None."""
    from qa.nlp.emergency import caller_sentences

    for c in caller_sentences(turns):
        if languages[c.turn] != "es":
            continue
        hit = rule_cue(c.text)
        if hit:
            return Emergency(True, hit[0], c.text, c.turn, c.start, 1.0, False, "rule-es")
    return None
