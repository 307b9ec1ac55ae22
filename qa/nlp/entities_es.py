"""Spanish rules of the entity stage (qa/nlp/entities.py), on turn text whose Spanish numbers are digits already:
request numbers handed over ("su número de solicitud es 2025 3"), addresses ("el 1205 de la calle Main", "5811
Wornall Road"), streets ("la calle Tasker", "Cuarta Avenida"), cross streets ("Mercer y Elm") and names introduced
("le atiende María", "habla Derek", "mi nombre es Ana", "me llamo Luis Ortega"). The format rules (e-mail, phone,
SSN, card) are the English ones: digits are digits."""

from __future__ import annotations

import re
from collections.abc import Iterator

from qa.nlp.entities import RULES as ENGLISH_RULES
from qa.nlp.entities import SUFFIX

CAP = r"[A-ZÁÉÍÓÚÑ][a-záéíóúñü]+"
NAME = rf"(?:{CAP}|\d+)"
PARTICLE = r"(?:de la |del |de los |de )"
STREET_WORD = r"(?:calle|avenida|av\.|bulevar|boulevard|camino|callej[oó]n|paseo|carretera)"
ORDINAL = r"(?:Primera|Segunda|Tercera|Cuarta|Quinta|Sexta|S[eé]ptima|Octava|Novena|D[eé]cima)"
STREET = (
    rf"(?:{STREET_WORD} {NAME}(?: {PARTICLE}?{NAME}){{0,2}}"  # la calle Tasker, avenida Ponce de Leon
    rf"|{ORDINAL} (?:Avenida|Calle)"  # Cuarta Avenida
    rf"|{NAME}(?: {PARTICLE}?{NAME}){{0,2}} {SUFFIX})"  # Wornall Road, Ponce de Leon Avenue
)
SR_INTRO = (
    r"\b(?:n[uú]mero de (?:solicitud(?: de servicio)?|referencia|reporte|ticket|caso|confirmaci[oó]n|orden|queja"
    r"|seguimiento|folio)|(?:solicitud|reporte|ticket|caso|folio|confirmaci[oó]n) n[uú]mero|su n[uú]mero|el n[uú]mero"
    r"|su folio)(?: es| ser[ií]a| queda)?:?,? "
)
RULES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("SR_NUMBER", re.compile(rf"{SR_INTRO}(?P<v>\d[\d ,.-]*\d)", re.I)),
    ("CROSS_STREETS", re.compile(rf"\b(?:{STREET}|{CAP}(?: {CAP})?) y (?:la |el )?(?:{STREET}|{NAME}(?: {CAP})?)\b")),
    ("ADDRESS", re.compile(rf"\b\d{{1,6}},? (?:{PARTICLE})?(?:la )?{STREET}", re.I)),
    ("STREET", re.compile(rf"\b{STREET}", re.I)),
    *((k, p) for k, p in ENGLISH_RULES if k in ("EMAIL", "SSN", "CARD", "PHONE")),
    ("DOB", re.compile(r"(?:fecha de nacimiento es|nac[ií] el) (?P<v>[\w ]+?\d{4})\b", re.I)),
)
NAME_INTRO = re.compile(
    rf"\b(?i:mi nombre es|me llamo|le atiende|la atiende|lo atiende|le habla|les habla|habla|soy|a nombre de"
    rf"|mi apellido es) ({CAP}(?: {CAP})?)"
    rf"|\b({CAP}),? (?i:a sus [oó]rdenes|para servirle)"
)
NOT_NAMES = {
    "Hola", "Bueno", "Buenos", "Buenas", "Sí", "Si", "Gracias", "Claro", "Ciudad", "Perfecto", "Muy", "Señor",
    "Señora", "Usted", "Español", "Inglés", "Aquí", "Yo", "No", "Que", "Qué", "La", "El", "De", "Del", "Oiga",
}  # fmt: skip


def name_intros(text: str) -> Iterator[tuple[int, int, str]]:
    for m in NAME_INTRO.finditer(text):
        g = 1 if m.group(1) else 2
        if m.group(g).split()[0] not in NOT_NAMES:
            yield m.start(g), m.end(g), m.group(g)
