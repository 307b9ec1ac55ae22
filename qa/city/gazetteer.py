"""A city's street list (gazetteer) and tolerant matching of what was said or recognised against it.

Street names are where speech recognition fails most in a 311 call, and they fail in predictable ways: a suffix said
or written differently ("St" for "Street", "Tenth" for "10th"), a name split in two ("Sepal Veda"), vowels and
similar consonants swapped ("La Sienega"). A match therefore compares the name without its suffix and direction, by
spelling (spaces removed) and by a sound code, and the suffix only breaks ties or lowers the score. Numbered streets
must agree exactly: 10th and 11th differ by one letter but are different streets.
"""

from __future__ import annotations

import csv
import difflib
import functools
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from qa.errors import ConfigError

SUFFIXES = {
    "street": "Street", "st": "Street", "str": "Street", "avenue": "Avenue", "ave": "Avenue", "av": "Avenue",
    "road": "Road", "rd": "Road", "drive": "Drive", "dr": "Drive", "boulevard": "Boulevard", "blvd": "Boulevard",
    "lane": "Lane", "ln": "Lane", "way": "Way", "court": "Court", "ct": "Court", "place": "Place", "pl": "Place",
    "terrace": "Terrace", "ter": "Terrace", "parkway": "Parkway", "pkwy": "Parkway", "highway": "Highway",
    "hwy": "Highway", "circle": "Circle", "cir": "Circle", "square": "Square", "sq": "Square", "alley": "Alley",
    "trail": "Trail", "trl": "Trail", "plaza": "Plaza", "walk": "Walk", "row": "Row",
}  # fmt: skip
# recognition writes "Verdugo roads" for "Verdugo Road." now and then
SUFFIXES |= {f"{k}s": v for k, v in SUFFIXES.items() if len(k) > 3 and k not in ("plaza", "terrace")}
DIRECTIONS = {"n": "North", "north": "North", "s": "South", "south": "South", "e": "East", "east": "East",
              "w": "West", "west": "West"}  # fmt: skip
_ORDINALS = (
    "first second third fourth fifth sixth seventh eighth ninth tenth eleventh twelfth thirteenth fourteenth "
    "fifteenth sixteenth seventeenth eighteenth nineteenth twentieth"
).split()


def _ordinal(n: int) -> str:
    if 10 <= n % 100 <= 20:
        return f"{n}th"
    return f"{n}{ {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th') }"


ORDINAL_WORDS = {w: _ordinal(i) for i, w in enumerate(_ORDINALS, 1)}
_TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90}
ORDINAL_WORDS |= {t.replace("y", "ieth"): _ordinal(n) for t, n in _TENS.items()}
ORDINAL_WORDS |= {f"{t}-{w}": _ordinal(n + i) for t, n in _TENS.items() for i, w in enumerate(_ORDINALS[:9], 1)}
_SOUND = {**dict.fromkeys("bfpv", "1"), **dict.fromkeys("cgjkqsxz", "2"), **dict.fromkeys("dt", "3"), "l": "4",
          **dict.fromkeys("mn", "5"), "r": "6"}  # fmt: skip


@dataclass(frozen=True, slots=True)
class StreetName:
    """A street name taken apart: direction, the name proper (lower case words), suffix."""

    direction: str | None
    base: tuple[str, ...]
    suffix: str | None

    @property
    def key(self) -> str:
        return "".join(self.base)

    @property
    def numbered(self) -> bool:
        return any(ch.isdigit() for ch in self.key)


@dataclass(frozen=True, slots=True)
class Street:
    """A street of the list: its canonical name and every form it may be written or said in."""

    name: str
    forms: tuple[StreetName, ...]


@dataclass(frozen=True, slots=True)
class StreetMatch:
    """What a said street name matched: the canonical street (None below the list's threshold), the score of the best
    candidate (0..1) and the runners-up."""

    said: str
    street: str | None
    score: float
    best: str | None
    alternatives: tuple[tuple[str, float], ...]


def parse_street(text: str) -> StreetName:
    """'W. Tenth St' -> (West, ('10th',), Street); 'Sepulveda' -> (None, ('sepulveda',), None)."""
    toks = [t for t in re.split(r"[\s,.]+", text.lower().replace("&", " ")) if t]
    toks = [ORDINAL_WORDS.get(t, t) for t in toks]
    toks = [re.sub(r"^(\d+)(?:st|nd|rd|th)?$", lambda m: _ordinal(int(m.group(1))), t) for t in toks]
    direction = suffix = None
    if len(toks) > 1 and toks[0] in DIRECTIONS:
        direction = DIRECTIONS[toks.pop(0)]
    if len(toks) > 1 and toks[-1] in DIRECTIONS and direction is None:
        direction = DIRECTIONS[toks.pop()]
    if len(toks) > 1 and toks[-1] in SUFFIXES:
        suffix = SUFFIXES[toks.pop()]
    if toks and toks[0] == "st" and len(toks) > 1:  # "St Andrews" before the name is Saint
        toks[0] = "saint"
    base = tuple(re.sub(r"[^\w-]", "", t) for t in toks)
    return StreetName(direction, tuple(t for t in base if t), suffix)


def sound_code(text: str) -> str:
    """A sound code of the whole string (Soundex classes, no truncation): vowels and h/w/y dropped, similar consonants
    merged, repeats collapsed. 'Sepulveda', 'Sepulvida' and 'Sepal Veda' agree."""
    s = re.sub(r"[^a-z0-9]", "", text.lower()).replace("ph", "f")
    out: list[str] = []
    prev = ""
    for ch in s:
        code = ch if ch.isdigit() else _SOUND.get(ch, "")
        if code and code != prev:
            out.append(code)
        prev = code if code or ch not in "hw" else prev
    return "".join(out)


def similarity(said: StreetName, known: StreetName) -> float:
    """0..1: how likely ``said`` names ``known``."""
    if not said.key or not known.key:
        return 0.0
    if said.numbered or known.numbered:
        base = 1.0 if said.key == known.key else 0.0
    else:
        spelling = difflib.SequenceMatcher(None, said.key, known.key).ratio()
        a, b = sound_code(said.key), sound_code(known.key)
        sound = difflib.SequenceMatcher(None, a, b).ratio() if min(len(a), len(b)) >= 3 else spelling
        base = max(spelling, 0.5 * spelling + 0.5 * sound)
    if said.suffix and known.suffix and said.suffix != known.suffix:
        base *= 0.9
    elif said.suffix is None and known.suffix is not None:
        base *= 0.97
    if said.direction and known.direction and said.direction != known.direction:
        base *= 0.95
    return base


class Gazetteer:
    """The street list of one city, loaded once per file content."""

    def __init__(self, streets: tuple[Street, ...], places: tuple[str, ...] = (), source: str = "", digest: str = ""):
        if not streets:
            raise ConfigError(f"{source or 'street list'}: no street names found (one street a line, or a CSV "
                              "with a 'name' column)")  # fmt: skip
        self.streets = streets
        self.places = places
        self.source = source
        self.digest = digest
        self._forms = [(s, f) for s in streets for f in s.forms]
        self._places = [(Street(p, (parse_street(p),)), parse_street(p)) for p in places]

    def __len__(self) -> int:
        return len(self.streets)

    def candidates(self, said: StreetName, places: bool = False) -> list[tuple[str, float]]:
        """Every street (or place) with its best score, best first (a quick length filter before the exact ratio)."""
        best: dict[str, float] = {}
        for street, form in self._places if places else self._forms:
            if abs(len(form.key) - len(said.key)) > max(4, len(form.key) // 2):
                continue
            score = similarity(said, form)
            if score > best.get(street.name, 0.0):
                best[street.name] = score
        return sorted(best.items(), key=lambda kv: (-kv[1], kv[0]))

    def match(self, text: str, min_score: float, places: bool = False) -> StreetMatch:
        """The listed street (``places``: the listed place) ``text`` names, if any."""
        said = parse_street(text)
        ranked = self.candidates(said, places)[:4]
        if not ranked:
            return StreetMatch(text, None, 0.0, None, ())
        name, score = ranked[0]
        # two different streets equally close (Venice Boulevard / Venice Way said as "Venice"): not a match
        tie = len(ranked) > 1 and ranked[1][1] >= score - 1e-9
        street = name if score >= min_score and not tie else None
        return StreetMatch(text, street, round(score, 3), name, tuple((n, round(s, 3)) for n, s in ranked[1:]))

    def closest(self, texts: list[str], k: int) -> list[str]:
        """The ``k`` street names closest to any of ``texts`` (recognised words that may be a street): hotwords."""
        scores: dict[str, float] = {}
        for text in texts:
            for name, s in self.candidates(parse_street(text))[: 2 * k]:
                scores[name] = max(scores.get(name, 0.0), s)
        return [n for n, _ in sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))[:k]]


def _read_lines(path: Path) -> list[str]:
    try:
        raw = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the list ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text") from None
    return [ln.strip() for ln in raw.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]


def _read_streets(path: Path) -> tuple[Street, ...]:
    rows: list[tuple[str, list[str]]] = []
    if path.suffix.lower() == ".csv":
        with path.open(encoding="utf-8-sig", newline="") as fh:
            reader = csv.DictReader(fh)
            if not reader.fieldnames or "name" not in [f.strip().lower() for f in reader.fieldnames]:
                raise ConfigError(
                    f"{path}: a street CSV needs a 'name' column (and optionally 'aliases', '|'-separated)"
                )
            for row in reader:
                row = {(k or "").strip().lower(): (v or "").strip() for k, v in row.items()}
                if row.get("name"):
                    rows.append((row["name"], [a.strip() for a in row.get("aliases", "").split("|") if a.strip()]))
    else:
        rows = [(ln, []) for ln in _read_lines(path)]
    seen: dict[str, Street] = {}
    for name, aliases in rows:
        forms = tuple(f for f in (parse_street(n) for n in [name, *aliases]) if f.key)
        if forms and name not in seen:
            seen[name] = Street(name, forms)
    return tuple(seen.values())


@functools.lru_cache(maxsize=4)
def _load(streets: str, places: str | None, digest: str) -> Gazetteer:
    p = Path(streets)
    names = tuple(_read_lines(Path(places))) if places else ()
    return Gazetteer(_read_streets(p), names, str(p), digest)


def load_gazetteer(streets: str | Path, places: str | Path | None = None) -> Gazetteer:
    """The list at ``streets`` (cached by content, so an edited file is re-read)."""
    h = hashlib.sha256()
    for f in (streets, places):
        if f is not None:
            try:
                h.update(Path(f).read_bytes())
            except OSError as exc:
                raise ConfigError(f"{f}: cannot read the list ({exc.strerror})") from None
    return _load(str(streets), str(places) if places else None, h.hexdigest()[:16])
