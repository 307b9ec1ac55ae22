"""Request type of a Spanish call from the caller's words: keyword rules per label (the trained model reads English).

Chosen over translation because no offline Spanish-English translator installs here, and Whisper's own
``task="translate"`` needs the audio (an imported transcript has none); see README "Calls in Spanish". A label is
given without review only when one label's keywords are found in the call and no other's (the caller's words,
and the agent's, who often names the request: "un bache", "basura tirada"); two labels found, or none, send the call
to review with what was found as the alternatives. A caller asking about an existing request is a status
follow-up whatever it was about, as in English; a described emergency is ``other``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from qa.nlp.language import fold_accents
from qa.types import Prediction, Role, Turn

VERSION = "es-rules-1"
STATUS = re.compile(
    r"\b(llam\w+|hablo|quer\w+) (para )?(ver|saber|preguntar|checar|revisar) (como va|el estado|que paso|si ya)"
    r"|\b(solicitud|reporte|queja|ticket) que (hice|puse|levante|meti)\b|\bque reporte\b|\bya (lo |la )?reporte\b"
    r"|\bseguimiento (a|de) (mi|un|una|el|la)\b"
)
INFO = re.compile(
    r"\b(tengo una pregunta|una pregunta sobre|quisiera saber|queria saber|quiero saber|como funciona"
    r"|cuales son (las reglas|los requisitos)|informacion (sobre|de)|me puede informar)\b"
)
KEYWORDS: dict[str, tuple[str, ...]] = {
    "pothole": (r"\bbaches?\b", r"\b(hoyo|hueco)s? (grande |enorme )?en (la calle|el pavimento|la carretera)"),
    "streetlight_out": (r"\balumbrado\b", r"\bfarol(es)?\b", r"\bposte de luz\b", r"\bluz de la calle\b",
                        r"\blampara\b", r"\bluminaria\b"),
    "traffic_signal": (r"\bsemaforos?\b", r"\bluz de (transito|trafico)\b"),
    "water_leak": (r"\bfuga de agua\b", r"\b(gotea|goteando|tira agua|sale agua|se sale el agua|brota|brotando)\b",
                   r"\btuberia rota\b"),
    "sewer_backup": (r"\bdrenaje\b", r"\balcantarilla\b", r"\baguas negras\b", r"\bcoladera\b", r"\bdesague\b"),
    "missed_trash_collection": (
        r"\bno (se )?(llevaron|recogieron|levantaron|vaciaron) (mi |la |el |los )?(basura|reciclaje|botes?)",
        r"\b(no paso|no vino) el camion\b", r"\bse (saltaron|brincaron) mi\b"),
    "illegal_dumping": (
        r"\b(tiraron|tiro|dejaron|aventaron)\b.{0,40}\b(basura|bolsas|colchon|muebles|escombro|llantas)",
        r"\btiradero\b",
        r"\bbasura tirada\b",
    ),
    "bulky_item_pickup": (
        r"\b(recoger|recojan|recoja|recogen|levanten|pasen por|llevarse)\b.{0,40}"
        r"\b(sillon|sofa|colchon|mueble|muebles|refrigerador|estufa|librero|lavadora|secadora)",
        r"\b(objetos|articulos|cosas) grandes\b",
    ),
    "abandoned_vehicle": (r"\b(carro|coche|auto|van|camioneta|vehiculo)s? abandonad",
                          r"\babandonad[oa] (desde|hace)\b"),
    "parking_enforcement": (r"\bestacionad[oa]s?\b", r"\bbloqueando (la|mi) (entrada|cochera|salida)",
                            r"\btapando (la|mi) (entrada|cochera)"),
    "noise_complaint": (r"\bruido\b", r"\bmusica (muy )?(alta|fuerte)\b", r"\bladr(a|ando|an)\b", r"\bescandalo\b"),
    "graffiti": (r"\bgra+fi+ti\b", r"\bpintaron (la|las|el|mi) (pared|barda|muro|puerta)"),
    "tree_maintenance": (r"\b(arbol|rama)(es|s)? (caid|quebrad|rot|colgando|sec)", r"\b(podar|cortar) (el|un) arbol"),
    "sidewalk_repair": (  # a damaged sidewalk, not one named as a place ("junto a la banqueta")
        r"\b(banqueta|acera)s?\b.{0,40}\b(levantad|rot|quebrad|agrietad|hundid|desnivel|danad)",
        r"\b(levantad|rot|quebrad|agrietad|hundid|danad)\w* (la |las )?(banqueta|acera)",
    ),
    "dead_animal": (r"\banimal muerto\b",
                    r"\b(perro|gato|mapache|zarigueya|venado|ardilla|paloma|zorrillo|coyote)s? muert"),
    "rodent_infestation": (r"\b(ratas|ratones|roedores)\b", r"\bplaga de\b"),
    "homeless_encampment": (r"\bcampamento\b", r"\b(personas|gente) sin (hogar|casa)\b", r"\bindigentes\b",
                            r"\bcasas de campana\b", r"\bcarpas\b"),
    "heat_hot_water": (r"\bcalefaccion\b", r"\bagua caliente\b", r"\bno hay calor\b"),
}  # fmt: skip
_PATTERNS = {label: tuple(re.compile(p) for p in ps) for label, ps in KEYWORDS.items()}


def classify(turns: Sequence[Turn], emergency: bool = False) -> Prediction:
    caller = " ".join(t.text for t in turns if t.role is Role.CALLER) or " ".join(t.text for t in turns)
    text = fold_accents(caller).lower()
    agent = fold_accents(" ".join(t.text for t in turns if t.role is Role.AGENT)).lower()
    if emergency:
        return Prediction("other", 0.7, (), False, VERSION, "an emergency was described (Spanish cue)")
    m = STATUS.search(text)
    if m:
        return Prediction("service_request_status", 0.7, (), False, VERSION, f"refers to an existing request: '{m[0]}'")
    hits = {label: sum(bool(p.search(text)) + bool(p.search(agent)) for p in pats) for label, pats in _PATTERNS.items()}
    found = sorted(((n, label) for label, n in hits.items() if n), reverse=True)
    info = INFO.search(text)
    if not found:
        if info:
            return Prediction("information_request", 0.6, (), False, VERSION, f"a question: '{info[0]}'")
        return Prediction("other", 0.0, (), True, VERSION, "unsupported_language: es (no Spanish keyword found)")
    total = sum(n for n, _ in found)
    (n, label), rest = found[0], found[1:]
    alts = tuple((lab, round(k / total, 3)) for k, lab in rest)
    if info:
        alts += (("information_request", 0.3),)
    sure = not rest and not info
    reason = "Spanish keywords" + ("" if sure else " for more than one request type: needs review")
    return Prediction(
        label, round(0.6 + 0.1 * min(n, 3), 3) if sure else round(n / total, 3), alts, not sure, VERSION, reason
    )
