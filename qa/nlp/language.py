"""Stage ``nlp.language``: which language each turn, speaker and the whole call is in, and which language stages
cannot read it.

Speech recognition says which language it heard per channel (Whisper's own detection, see qa/asr/whisper.py), but an
imported transcript has no audio, and a channel can switch language mid-call. So every turn is also read by a small
function-word detector (English vs Spanish, the two languages 311 centres here answer in): a turn needs a few
unambiguous function words ("the", "you", "is" / "que", "el", "usted", "está") before it gets a language, so short
turns ("okay", "sí", a house number) carry none and never flip a call.

The report also says, per language stage, which of the call's languages it does not support: that is what makes the
stages and the scorecard fail safe (``needs_review``, never a confident "no") rather than read Spanish as English.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Mapping, Sequence

from qa.types import ChannelTranscript, LanguageReport, Turn

VERSION = "1"
UNDETERMINED = "und"

# Language stages and the languages they were built for. A stage not listed reads no words (metrics, holds).
STAGE_LANGUAGES: Mapping[str, tuple[str, ...]] = {
    "nlp.request_type": ("en", "es"),  # es: keyword rules (qa/nlp/request_type_es.py), confident only when clear
    "nlp.emergency": ("en",),
    "nlp.sentiment": ("en",),
    "nlp.entities": ("en", "es"),  # Spanish numbers, request numbers, addresses, names introduced
    "nlp.sentences": ("en",),
}

# Function words that are common in one language and rare or absent in the other ("a", "me", "no", "y" are shared
# or are letters: left out).
_WORDS = {
    "en": frozenset(
        "the and to of i you it is that in for on my this have with be was are we your there can will what at they so"
        " but just not do it's i'm okay thank thanks please hi hello about from been would could get if how when where"
        " he she his her our them was were had has did don't can't that's what's there's you're we'll i'll i've"
        " yeah yes sure right well going".split()
    ),
    "es": frozenset(
        "el la los las de del que en y un una unos unas por para con es está están estoy estaba son su sus lo le les"
        " se al pero como más muy porque esta este esto eso ese esa hay donde dónde cuando cuándo qué quién usted"
        " ustedes yo mi mis tu tú nos nosotros gracias hola buenos buenas días tardes noches señor señora calle"
        " tengo tiene tienen puedo puede pueden bueno claro ahora aquí allí también sí ya hace desde hasta sin sobre"
        " necesito quiero llamo llama llamando número dirección favor ayudar algo nada todo".split()
    ),
}
_ACCENTS = re.compile(r"[áéíóúñ¿¡ü]")
_TOKEN = re.compile(r"[a-záéíóúñü']+")
MIN_HITS = 2  # function words a turn needs before it gets a language
MIN_SHARE = 0.75  # and the share of them in one language
SWITCH_MIN_TURNS = 2  # a second language counts when at least this many turns are in it ...
SWITCH_MIN_SHARE = 0.1  # ... and they hold at least this share of the words that have a language


def fold_accents(text: str) -> str:
    """ "Dirección" -> "Direccion", "¿qué?" -> "?que?": accents and Spanish opening marks dropped."""
    decomposed = unicodedata.normalize("NFKD", text.replace("¿", " ").replace("¡", " "))
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def turn_language(text: str) -> tuple[str, int]:
    """(language, number of telling words) of one turn; ``""`` when the turn does not say enough."""
    low = text.lower()
    toks = _TOKEN.findall(low)
    hits: Counter[str] = Counter()
    for t in toks:
        langs = [lang for lang, words in _WORDS.items() if t in words]
        if not langs and _ACCENTS.search(t):  # "tranquilícese", "señora": Spanish spelling tells too
            langs = ["es"]
        for lang in langs:
            hits[lang] += 1
    total = sum(hits.values())
    if total < MIN_HITS:
        return "", total
    lang, n = hits.most_common(1)[0]
    return (lang, total) if n / total >= MIN_SHARE else ("", total)


def detect_language(
    turns: Sequence[Turn], transcripts: Sequence[ChannelTranscript] = (), configured: str | None = None
) -> LanguageReport:
    """The call's languages from its turns (and the recogniser's per-channel detection, kept for the record)."""
    per_turn = [turn_language(t.text) for t in turns]
    weight: Counter[str] = Counter()
    turns_in: Counter[str] = Counter()
    by_speaker: dict[str, Counter[str]] = {}
    for t, (lang, n) in zip(turns, per_turn, strict=True):
        if lang:
            weight[lang] += n
            turns_in[lang] += 1
            by_speaker.setdefault(t.speaker, Counter())[lang] += n
    channels = {str(tr.channel): tr.language for tr in transcripts if tr.language}
    total = sum(weight.values())
    if total:
        main = weight.most_common(1)[0][0]
        method = "text"
    else:  # nothing telling was said: the recogniser's word, else the configured language
        votes = Counter(channels.values())
        main = votes.most_common(1)[0][0] if votes else (configured or UNDETERMINED)
        method = "asr" if votes else "config"
    others = [
        lang
        for lang, n in weight.most_common()
        if lang != main and turns_in[lang] >= SWITCH_MIN_TURNS and n / total >= SWITCH_MIN_SHARE
    ]
    languages = (main, *others)
    unsupported = {
        stage: tuple(lang for lang in languages if lang not in supported)
        for stage, supported in STAGE_LANGUAGES.items()
    }
    return LanguageReport(
        language=main,
        languages=languages,
        method=method,
        turns=tuple(lang for lang, _ in per_turn),
        speakers={s: c.most_common(1)[0][0] for s, c in by_speaker.items()},
        channels=channels,
        switched=bool(others),
        unsupported={k: v for k, v in unsupported.items() if v},
    )


def stage_version() -> str:
    """This stage's version with the Spanish rules' (request type, emergency cues): a change re-runs stored calls."""
    from qa.nlp import emergency_es, request_type_es

    return f"{VERSION}+{request_type_es.VERSION}+es-cues-{emergency_es.VERSION}"


def supports(report: LanguageReport | None, stage: str) -> bool:
    return report is None or not report.unsupported.get(stage)


def unsupported_reason(report: LanguageReport, stage: str) -> str:
    return f"unsupported_language: {','.join(report.unsupported.get(stage, ()))}"


def switch_message(report: LanguageReport) -> str:
    counts = Counter(lang for lang in report.turns if lang)
    parts = ", ".join(f"{lang} in {n} turn(s)" for lang, n in counts.most_common())
    return f"the call switches language ({parts}); each turn is read in its own language where a stage supports it"
