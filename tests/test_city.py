"""City profile: street list in the config, addresses matched to it, Open311 export, tickets checked against calls."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qa.city.addresses import match_addresses
from qa.city.gazetteer import load_gazetteer, parse_street, sound_code
from qa.city.tickets import check_tickets, load_tickets
from qa.config import PipelineConfig, load_config
from qa.document import call_document
from qa.errors import ConfigError, InputError
from qa.exports.open311 import GEOREPORT_FIELDS, call_documents, export_open311, validate_request
from qa.nlp.entities import find_entities
from qa.nlp.taxonomy import load_taxonomy
from qa.types import Role, Turn, Word

ROOT = Path(__file__).resolve().parents[1]
LA = ROOT / "bench" / "data" / "city" / "los_angeles_streets.txt"


def T(text, role=Role.CALLER):
    words = tuple(Word(i * 0.4, i * 0.4 + 0.3, w, 0.9) for i, w in enumerate(text.split()))
    return Turn("s", role, 0.0, words[-1].end, text, words)


@pytest.fixture(scope="module")
def la():
    return load_gazetteer(LA)


@pytest.mark.parametrize(
    "said,street",
    [
        ("Tenth St", "10th Street"),
        ("10th Street", "10th Street"),
        ("W. Tenth Street", "10th Street"),
        ("Sepal Veda Boulevard", "Sepulveda Boulevard"),  # split in two by recognition
        ("Sepulvida Blvd", "Sepulveda Boulevard"),  # a vowel off, suffix abbreviated
        ("La Sienega Boulevard", "La Cienega Boulevard"),  # sounds the same
        ("Figaroa Street", "Figueroa Street"),
        ("Tujunga", "Tujunga Avenue"),  # no suffix said
        ("Cahuenga Blvd.", "Cahuenga Boulevard"),
    ],
)
def test_street_matches_by_spelling_sound_and_suffix(la, said, street):
    m = la.match(said, 0.82)
    assert m.street == street and m.score >= 0.82


@pytest.mark.parametrize("said", ["13th Street", "Birchwood Drive", "Main Road Avenue Lane"])
def test_unknown_streets_do_not_match(la, said):
    assert la.match(said, 0.82).street is None  # 13th is one letter from 12th/3rd but another street


def test_parse_and_sound_code():
    assert parse_street("N Forty-Second St") == parse_street("North 42nd Street")
    assert parse_street("St Andrews Place").base == ("saint", "andrews")
    assert sound_code("Sepulveda") == sound_code("Sepal Veda") == sound_code("Sepulvida")


def test_street_list_csv_with_aliases(tmp_path):
    f = tmp_path / "streets.csv"
    f.write_text("name,aliases\nMartin Luther King Jr Boulevard,MLK Boulevard|King Boulevard\nMain Street,\n")
    g = load_gazetteer(f)
    assert len(g) == 2 and g.match("MLK Blvd", 0.82).street == "Martin Luther King Jr Boulevard"
    bad = tmp_path / "bad.csv"
    bad.write_text("street\nMain\n")
    with pytest.raises(ConfigError, match="'name' column"):
        load_gazetteer(bad)
    empty = tmp_path / "empty.txt"
    empty.write_text("# nothing\n")
    with pytest.raises(ConfigError, match="no street names"):
        load_gazetteer(empty)


def test_city_profile_is_validated_and_hashed_by_content(tmp_path):
    streets = tmp_path / "streets.txt"
    streets.write_text("Main Street\n")
    (tmp_path / "c.yaml").write_text("city:\n  name: Springfield\n  streets: streets.txt\n")
    cfg = load_config(tmp_path / "c.yaml")  # relative to the config file
    assert cfg.city.streets == streets
    assert PipelineConfig().hash() != cfg.hash()
    before = cfg.hash()
    streets.write_text("Main Street\nElm Street\n")
    assert cfg.hash() != before  # an edited street list changes results, so the hash
    (tmp_path / "d.yaml").write_text("city:\n  streets: nowhere.txt\n")
    with pytest.raises(ConfigError, match="city.streets.*does not exist"):
        load_config(tmp_path / "d.yaml")
    (tmp_path / "e.yaml").write_text("city:\n  match_min: 2\n")
    with pytest.raises(ConfigError, match="city.match_min"):
        load_config(tmp_path / "e.yaml")


def test_address_entities_get_canonical_names_or_review(la):
    turns = [
        T("There's a pothole in front of 1200 Sepulvida Boulevard."),
        T("It's at Venice Boulevard and Tenth Street.", Role.AGENT),
        T("Or maybe on Birchwood Drive, I'm not sure."),
    ]
    ents, loc = match_addresses(find_entities(turns), la, 0.82)
    by = {e.type: e for e in ents if e.type in ("ADDRESS", "CROSS_STREETS", "STREET")}
    assert by["ADDRESS"].normalized == "Sepulveda Boulevard" and by["ADDRESS"].value.startswith("1200")
    assert by["CROSS_STREETS"].normalized == "Venice Boulevard & 10th Street"
    assert by["STREET"].normalized is None and by["STREET"].needs_review
    assert loc.valid and loc.street == "Sepulveda Boulevard" and loc.house_number and not loc.needs_review
    assert "1200" not in json.dumps([e.normalized for e in ents])  # the house number stays personal data
    ents, loc = match_addresses(find_entities([T("It's at Venice Boulevard and Birchwood Drive.")]), la, 0.82)
    (cross,) = [e for e in ents if e.type == "CROSS_STREETS"]
    assert cross.normalized == "Venice Boulevard" and cross.needs_review  # one street known, the other for a person
    assert not loc.valid and loc.street == "Venice Boulevard" and loc.needs_review


VTT = """WEBVTT

00:00:00.500 --> 00:00:04.000
<v Agent>Thank you for calling 311, my name is Maria. How can I help you?

00:00:04.500 --> 00:00:11.000
<v Caller>Hi, there's a huge pothole in front of 1200 Sepulvida Boulevard, my name is John Smith.

00:00:11.500 --> 00:00:15.000
<v Agent>So that is 1200 Sepulveda Boulevard. I will put in a pothole repair request for you.
"""


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    from qa.pipeline import Pipeline

    root = tmp_path_factory.mktemp("city")
    vtt = root / "pothole.vtt"
    vtt.write_text(VTT)
    cfg = PipelineConfig().with_overrides({"city.streets": str(LA), "city.name": "Los Angeles"})
    pipe = Pipeline(cfg)
    from qa.types import CallMetadata

    call = pipe.process_transcript(vtt, CallMetadata(agent_id="a17", started_at="2026-03-02T09:15:00-08:00"))
    out = root / "results"
    out.mkdir()
    (out / "pothole.json").write_text(json.dumps(call_document(call)))
    assert "city.addresses" in call.stages
    return out


def test_open311_export_is_georeport_v2(results):
    tax = load_taxonomy()
    reqs, notes = export_open311(results, tax, "lacity.org")
    assert len(reqs) == 1 and not notes
    r = reqs[0]
    assert set(r) <= GEOREPORT_FIELDS and validate_request(r) == []
    assert r["service_code"] == "pothole" and r["address_string"] == "1200 Sepulveda Boulevard"
    assert r["requested_datetime"] == "2026-03-02T09:15:00-08:00" and r["jurisdiction_id"] == "lacity.org"
    assert r["attribute"]["call_id"] and r["attribute"]["address_matched"] == "true"
    assert "John" not in r["description"] and "[PERSON]" in r["description"]  # the caller's words, redacted
    assert "Maria" not in r["description"]  # only the caller's turns


def test_open311_validation_catches_bad_requests():
    assert validate_request({"service_code": "x", "address_string": "Main Street", "status": "open"}) == []
    bad = {"service_code": "", "foo": 1, "requested_datetime": "2026-03-02T09:15:00", "lat": 1.0}
    problems = validate_request(bad)
    assert any("unknown field 'foo'" in p for p in problems)
    assert any("service_code" in p for p in problems)
    assert any("time zone" in p for p in problems)
    assert any("lat and long" in p for p in problems)
    assert any("no location" in p for p in validate_request({"service_code": "x"}))


def test_tickets_that_disagree_with_their_calls_are_flagged(results, tmp_path, la):
    docs = list(call_documents(results))
    cid = docs[0][1]["call_id"]
    tax = load_taxonomy()
    f = tmp_path / "t.csv"
    f.write_text(f"service_request_id,type,address,agent,time,call_id\n1-1,pothole,1200 Sepulveda Blvd,a17,,{cid}\n")
    assert check_tickets(load_tickets(f), docs, tax, la) == []
    f.write_text("service_request_id,type,address,agent,time\n1-2,graffiti,300 Figueroa St,a17,2026-03-02T17:20:00Z\n")
    kinds = {x.kind for x in check_tickets(load_tickets(f), docs, tax, la)}  # linked by agent and time
    assert kinds == {"type_mismatch", "street_mismatch"}
    f.write_text("service_request_id,type,address,agent,time\n1-3,pothole,Sepulveda,a99,2026-03-02T17:20:00Z\n")
    flags = check_tickets(load_tickets(f), docs, tax, la)  # another agent's ticket: this call has none
    assert [x.kind for x in flags] == ["no_ticket"]
    f.write_text("id,type\n")
    with pytest.raises(InputError, match="missing column"):
        load_tickets(f)


def test_cli_export_and_check(results, tmp_path):
    from typer.testing import CliRunner

    from qa.cli import app

    out = tmp_path / "requests.json"
    r = CliRunner().invoke(app, ["export", "open311", str(results), "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert json.loads(out.read_text())[0]["service_code"] == "pothole"
    t = tmp_path / "t.csv"
    t.write_text("service_request_id,type,address\n")
    r = CliRunner().invoke(app, ["check", "tickets", str(t), str(results)])
    assert r.exit_code == 1 and "no_ticket" in r.output


def test_location_item_can_require_a_listed_address(results, tmp_path):
    """A city's scorecard makes the location item require an address that matched the street list."""
    import yaml

    from qa.scoring.engine import evaluate_call
    from qa.scoring.rescore import DEFAULT_SCORECARD
    from qa.scoring.schema import load_scorecard

    card = yaml.safe_load(DEFAULT_SCORECARD.read_text())
    item = next(i for s in card["sections"] for i in s["items"] if i["id"] == "location_verified")
    item["rule"] = {"type": "all", "rules": [item["rule"], {"type": "field", "field": "location.valid", "value": True}]}
    p = tmp_path / "city-card.yaml"
    p.write_text(yaml.safe_dump(card))
    sc, digest = load_scorecard(p)
    doc = next(call_documents(results))[1]

    def answer(d):
        ev = evaluate_call(d, sc, digest)
        return next(i for i in ev.items if i.id == "location_verified").answer

    assert answer(doc) == "yes"
    assert answer({**doc, "location": {**doc["location"], "valid": False}}) == "no"


def _words(text, t0=0.0, step=0.4):
    return tuple(Word(t0 + i * step, t0 + i * step + 0.3, w, 0.9) for i, w in enumerate(text.split()))


def test_street_stretches_start_at_names_not_at_common_words():
    from qa.asr.hotwords import street_stretches

    words = _words("The street light is out at the corner of the Pangda Canyon Boulevard and no way")
    (s,) = street_stretches(words)
    assert s.first <= 10 and s.last == 13 and "Pangda Canyon Boulevard" in s.heard  # "Pangda".."and"
    assert s.start >= (words[s.first - 1].end + words[s.first].start) / 2  # the clip starts in a pause


class _FakeSegment:
    def __init__(self, words):
        self.words = words


class _FakeWord:
    def __init__(self, start, end, word):
        self.start, self.end, self.word, self.probability = start, end, word, 0.8


class _FakeModel:
    """Answers the second pass with fixed words (clip-relative times), and records the hotwords it was given."""

    def __init__(self, text):
        self.text, self.hotwords = text, []

    def transcribe(self, clip, **kw):
        self.hotwords.append(kw["hotwords"])
        if isinstance(self.text, list):  # (start, end, word) relative to the clip
            return [_FakeSegment([_FakeWord(a, b, " " + w) for a, b, w in self.text])], None
        words = [_FakeWord(i * 0.4, i * 0.4 + 0.3, " " + w) for i, w in enumerate(self.text.split())]
        return [_FakeSegment(words)], None


def _transcript(words):
    from qa.types import ChannelTranscript, VadReport

    return ChannelTranscript(0, words, "en", VadReport("silero", 1, 1, 1, 1), 1.0)


def test_second_pass_replaces_only_the_street_name(la):
    import numpy as np

    from qa.asr.hotwords import refine_streets

    words = _words("a couch on Las Vegas boulevard near Vardugo Road. Thank you")
    model = _FakeModel("a catch on Los Feliz Boulevard, here Verdugo Road. La Cienega Boulevard")
    x = np.zeros(16000 * 6, np.float32)
    tr = refine_streets(model, x, _transcript(words), la, language="en", beam_size=1, max_hotwords=5, min_score=0.82)
    text = " ".join(w.word for w in tr.words)
    # street names from the second pass; "a couch", "near" and the rest from the first; the hotword the model
    # put over "Thank you" is not taken (the first pass heard no street there)
    assert text == "a couch on Los Feliz Boulevard, near Verdugo Road. Thank you"
    assert "Verdugo Road" in model.hotwords[0] and tr.hotword_replaced == 2


def test_second_pass_keeps_the_words_around_the_name(la):
    import numpy as np

    from qa.asr.hotwords import refine_streets

    words = _words("Zell's Avenue near Tujam to Avenue. How long")
    new = [(0, 0.3, "Zelzah"), (0.4, 0.7, "Avenue"), (0.8, 1.9, "Tujunga"), (2.0, 2.3, "Avenue."), (2.4, 2.7, "How")]
    model = _FakeModel(new)  # the second decoding dropped "near"
    x = np.zeros(16000 * 4, np.float32)
    tr = refine_streets(model, x, _transcript(words), la, language="en", beam_size=1, max_hotwords=5, min_score=0.82)
    assert " ".join(w.word for w in tr.words) == "Zelzah Avenue near Tujunga Avenue. How long"


def test_second_pass_keeps_words_when_no_listed_street_comes_out(la):
    import numpy as np

    from qa.asr.hotwords import refine_streets

    words = _words("it is on Birchwood Drive I think")
    model = _FakeModel("it is on Birchwood Drive I think")
    x = np.zeros(16000 * 4, np.float32)
    tr = refine_streets(model, x, _transcript(words), la, language="en", beam_size=1, max_hotwords=5, min_score=0.82)
    assert tr.words == words and tr.hotword_replaced == 0


def test_a_stretch_with_one_exact_name_still_gets_its_other_name_decoded_again(la):
    """"on Owen Smith Avenue near Figueroa Street": the two names touch, so they are one stretch; Figueroa Street
    being listed exactly must not keep Owensmouth from its second pass (held-out calls of bench/city.py)."""
    import numpy as np

    from qa.asr.hotwords import all_listed, refine_streets, street_stretches

    words = _words("the gutter on Owen Smith Avenue near Figueroa Street. Thanks")
    assert not all_listed(words, la, 0.82) and all_listed(_words("on Figueroa Street near Alvarado Street"), la, 0.82)
    (stretch,) = street_stretches(words)
    said = [(3, "Owensmouth"), (5, "Avenue"), (6, "near"), (7, "Figueroa"), (8, "Street."), (9, "Thanks")]
    # the second decoding's words, timed from the clip's start: "Owensmouth" over "Owen Smith"
    new = [(words[k].start - stretch.start, words[k].end - stretch.start, w) for k, w in said]
    model = _FakeModel(new)
    x = np.zeros(16000 * 5, np.float32)
    tr = refine_streets(model, x, _transcript(words), la, language="en", beam_size=1, max_hotwords=5, min_score=0.82)
    assert " ".join(w.word for w in tr.words) == "the gutter on Owensmouth Avenue near Figueroa Street. Thanks"
    assert tr.hotword_stretches == 1 and tr.hotword_replaced == 1
    exact = _words("on Figueroa Street near Alvarado Street. Thanks")
    tr = refine_streets(model, x, _transcript(exact), la, language="en", beam_size=1, max_hotwords=5, min_score=0.82)
    assert tr.hotword_stretches == 0 and tr.words == exact  # both exact: nothing to decode again


@pytest.mark.slow
def test_pipeline_with_city_hotwords_on_a_street_call():
    """The real model on one of bench/city.py's calls: the second pass runs and the address matches the list."""
    from qa.pipeline import Pipeline
    from qa.types import CallMetadata

    calls = {c["id"]: c for c in json.loads((ROOT / "bench" / "audio" / "city" / "dev.json").read_text())}
    cfg = PipelineConfig().with_overrides(
        {"asr.model": "tiny.en", "asr.cpu_threads": 2, "city.streets": str(LA), "city.hotwords": True,
         "diarize.mono_backend": "single"}
    )  # fmt: skip
    call = Pipeline(cfg).process(ROOT / "bench" / "audio" / "city" / "city02.flac", CallMetadata(channels="mono"))
    assert call.stages["asr.city_hotwords"] == "2" and call.transcripts[0].hotword_stretches >= 1
    named = {n for e in call.entities if e.normalized for n in e.normalized.split(" & ")}
    assert named and named <= set(calls["city02"]["streets"])  # no street that was not said
    assert call.location is not None and call.location.street in calls["city02"]["streets"]


def test_places_are_matched_when_listed(tmp_path):
    from qa.types import Entity

    (tmp_path / "s.txt").write_text("Main Street\n")
    (tmp_path / "p.txt").write_text("Griffith Park\nEcho Park Lake\n")
    g = load_gazetteer(tmp_path / "s.txt", tmp_path / "p.txt")
    ents = (Entity("PLACE", "Griffeth Park", 0, 0, 1, 0.0, 1.0), Entity("PLACE", "France", 0, 3, 3, 1.0, 1.2))
    out, loc = match_addresses(ents, g, 0.82)
    assert out[0].normalized == "Griffith Park" and out[1].normalized is None and not out[1].needs_review
    assert not loc.valid and loc.entity is None


def test_listed_streets_in_lower_case_are_found(la):
    turns = [T("water is coming out in front of 16 verdugo roads and on la brea avenue too"), T("the street is wet")]
    ents, loc = match_addresses(find_entities(turns), la, 0.82, turns)
    found = {(e.type, e.value, e.normalized) for e in ents if e.type in ("ADDRESS", "STREET")}
    assert found == {("ADDRESS", "16 verdugo roads", "Verdugo Road"), ("STREET", "la brea avenue", "La Brea Avenue")}
    assert loc.street == "Verdugo Road" and loc.house_number
