"""Request-type taxonomy, corpus, the shipped classifier (real model), emergency cues, `qa classify`."""

import json

import pytest
from typer.testing import CliRunner

from qa.cli import app
from qa.errors import ConfigError
from qa.nlp.augment import augment, noisy_variant, to_asr_style
from qa.nlp.emergency import detect_emergency
from qa.nlp.taxonomy import DEFAULT_TAXONOMY, load_taxonomy
from qa.nlp.train import load_corpus
from qa.types import Role, Turn, Word

REQUIRED = {
    "pothole", "streetlight_out", "graffiti", "bulky_item_pickup", "missed_trash_collection", "illegal_dumping",
    "abandoned_vehicle", "noise_complaint", "water_leak", "sewer_backup", "tree_maintenance", "dead_animal",
    "homeless_encampment", "parking_enforcement", "traffic_signal", "sidewalk_repair", "rodent_infestation",
    "heat_hot_water", "information_request", "service_request_status", "other",
}  # fmt: skip


def turn(role, text, t0=0.0):
    words = tuple(Word(t0 + i * 0.4, t0 + i * 0.4 + 0.3, w, 0.9) for i, w in enumerate(text.split()))
    return Turn("s", role, words[0].start, words[-1].end, text, words)


def test_taxonomy_covers_the_required_types_and_errors_name_the_field(tmp_path):
    tax = load_taxonomy()
    assert REQUIRED <= set(tax.types) and tax.version
    assert all(t.department and t.description for t in tax.types.values())
    bad = tmp_path / "t.yaml"
    bad.write_text("version: '1'\ntypes:\n  pothole: {department: Streets}\n")
    with pytest.raises(ConfigError, match="field 'types.pothole.description'"):
        load_taxonomy(bad)


def test_corpus_covers_every_type_and_bad_lines_are_named(tmp_path):
    texts, labels = load_corpus(DEFAULT_TAXONOMY.parent / "corpus.tsv", set(load_taxonomy().types))
    assert set(labels) == set(load_taxonomy().types) and len(texts) >= 300
    bad = tmp_path / "c.tsv"
    bad.write_text("label\ttext\npothole\tbig hole\nunicorn\tsomething\n\tno label\n")
    with pytest.raises(ConfigError) as exc:
        load_corpus(bad, {"pothole"})
    assert "line 3: label 'unicorn'" in str(exc.value) and "line 4: needs a label" in str(exc.value)


def test_augmentation_is_reproducible_and_asr_like():
    assert to_asr_style("Hi, I'd like to REPORT a Pothole!") == "hi i'd like to report a pothole"
    a = augment(["There's a pothole on Main Street."], ["pothole"], 3, seed=1)
    assert a == augment(["There's a pothole on Main Street."], ["pothole"], 3, seed=1)
    assert len(a[0]) == 5 and all(t == t.lower() for t in a[0][1:])
    import random

    variants = {noisy_variant("the pothole on my street", random.Random(i)) for i in range(30)}
    assert len(variants) > 5


@pytest.fixture(scope="module")
def classifier():
    from qa.nlp.request_type import RequestTypeClassifier

    return RequestTypeClassifier()


@pytest.mark.slow
def test_shipped_classifier_on_unseen_phrasings(classifier):
    cases = {
        "a car drove into a huge hole in the asphalt on my road": "pothole",
        "uh the garbage truck never came by our house this week": "missed_trash_collection",
        "the lamp over the crosswalk is dark every night": "streetlight_out",
        "there's no heat in my apartment and my landlord ignores me": "heat_hot_water",
        "I'm calling to see what happened with the ticket I opened": "service_request_status",
        "rats are all over the dumpster behind the bakery": "rodent_infestation",
    }
    preds = classifier.predict(list(cases))
    assert [p.label for p in preds] == list(cases.values())
    for p in preds:
        assert 0 < p.confidence <= 1 and len(p.alternatives) == 3
        assert all(p.confidence >= c for _, c in p.alternatives)
        assert p.model.startswith("1-")


@pytest.mark.slow
def test_low_confidence_needs_review_and_call_reads_the_caller(classifier):
    from qa.nlp.request_type import RequestTypeClassifier

    strict = RequestTypeClassifier(review_below=0.999)
    assert strict.predict(["hmm"])[0].needs_review
    turns = (
        turn(Role.AGENT, "thank you for calling 311 how can I help"),
        turn(Role.CALLER, "my trash was not picked up this week", 3),
        turn(Role.AGENT, "is there anything else about graffiti or potholes", 6),
    )
    assert classifier.for_call(turns).label == "missed_trash_collection"
    assert classifier.for_call(()).needs_review


@pytest.mark.parametrize(
    "text,category",
    [
        ("I smell gas in my kitchen and my head hurts", "gas"),
        ("the house across the street is on fire", "fire_smoke"),
        ("there's black smoke coming out of the garage", "fire_smoke"),
        ("my neighbor fell off a ladder and he's bleeding", "medical"),
        ("a man collapsed on the sidewalk and he's not breathing", "medical"),
        ("someone is breaking into the car right now", "violence_crime"),
        ("a power line is down and sparking in the road", "electrical_hazard"),
    ],
)
def test_emergency_cues(text, category):
    em = detect_emergency((turn(Role.AGENT, "311 how can I help"), turn(Role.CALLER, text, 2.0)))
    assert em.flag and em.category == category and em.turn == 1 and em.method == "rule"
    assert em.time >= 2.0 and em.cue.lower() in text.lower()


@pytest.mark.parametrize(
    "text",
    [  # indirect: no rule fires, the model must see it (phrasings written for this test, not in any corpus)
        "my grandpa is slumped over in his recliner and his lips look kind of blue and he won't wake up",
        "it smells like rotten eggs near the water heater and my little girl says her head is spinning",
        "there's a bright orange glow behind the warehouse on Dock Street and ash is falling on my car",
    ],
)
def test_emergency_model_catches_indirect_descriptions(text):
    em = detect_emergency((turn(Role.AGENT, "311 how can I help"), turn(Role.CALLER, text, 2.0)))
    assert em.flag and em.method == "model" and em.turn == 1 and em.cue == text


def test_emergency_model_leaves_an_ordinary_call_alone():
    turns = (
        turn(Role.AGENT, "311 this is Kim how can I help"),
        turn(Role.CALLER, "hi, the streetlight on my corner has been out since Sunday", 2.0),
        turn(Role.AGENT, "what is the nearest address", 5.0),
        turn(Role.CALLER, "it's in front of sixty two Alder Lane", 7.0),
        turn(Role.CALLER, "thanks so much, have a good one", 12.0),
    )
    em = detect_emergency(turns)
    assert not em.flag and not em.needs_review and em.score < 0.1


@pytest.mark.parametrize(
    "turns",
    [
        (turn(Role.CALLER, "the car hit a pothole but nobody is hurt"),),
        (turn(Role.CALLER, "a car is parked in front of the fire hydrant"),),
        (turn(Role.CALLER, "there is no smoke coming out, it's just steam"),),
        (turn(Role.AGENT, "if you ever smell gas leave and call 911"), turn(Role.CALLER, "okay thanks")),
    ],
)
def test_no_emergency_on_negation_or_other_senses(turns):
    assert not detect_emergency(turns).flag


runner = CliRunner()


@pytest.mark.slow
def test_classify_cli(tmp_path):
    res = runner.invoke(app, ["classify", "there's a dead raccoon in the road", "my toilet backs up with sewage"])
    assert res.exit_code == 0, res.output
    rows = [json.loads(line) for line in res.output.splitlines()]
    assert [r["label"] for r in rows] == ["dead_animal", "sewer_backup"]
    assert set(rows[0]) == {"label", "confidence", "alternatives", "needs_review", "model", "reason"}
    lines = tmp_path / "forms.txt"
    lines.write_text("graffiti on the bus shelter\n\nsomeone parked across my driveway\n")
    res = runner.invoke(app, ["classify", "--file", str(lines)])
    assert [json.loads(x)["label"] for x in res.output.splitlines()] == ["graffiti", "parking_enforcement"]
    call = tmp_path / "call.json"
    call.write_text(json.dumps({"turns": [{"role": "caller", "text": "a tree fell across the road"}]}))
    res = runner.invoke(app, ["classify", "--file", str(call)])
    assert json.loads(res.output)["label"] == "tree_maintenance"
    res = runner.invoke(app, ["classify", "checking on my request about the tree that fell"])
    row = json.loads(res.output)
    assert row["label"] == "service_request_status" and "existing request" in row["reason"]


def test_classify_cli_errors(tmp_path):
    res = runner.invoke(app, ["classify"])
    assert res.exit_code == 2 and "nothing to classify" in res.output
    bad = tmp_path / "x.json"
    bad.write_text("{not json")
    res = runner.invoke(app, ["classify", "--file", str(bad)])
    assert res.exit_code == 2 and "not a call JSON" in res.output
    res = runner.invoke(app, ["classify", "x", "--model", str(tmp_path)])
    assert res.exit_code == 2 and "no trained request-type model" in res.output


def test_sentiment_on_the_labelled_set():
    """The project's labelled utterances: plain VADER gets 51/70, with the spoken-complaint cues 63/70."""
    import csv

    from qa.nlp.sentiment import classify

    rows = list(csv.DictReader((DEFAULT_TAXONOMY.parents[1] / "sentiment" / "labelled.tsv").open(), delimiter="\t"))
    correct = sum(classify(r["text"])[0] == r["label"] for r in rows)
    assert len(rows) >= 70 and correct / len(rows) >= 0.85


@pytest.mark.parametrize(
    "text,label",
    [
        ("this is the third time I'm calling about the same pothole", "negative"),
        ("I've called four times and nobody came", "negative"),
        ("I'm not happy at all", "negative"),
        ("my address is twelve Oak Street", "neutral"),
        ("thank you so much, that's really helpful", "positive"),
    ],
)
def test_sentiment_understands_spoken_complaints(text, label):
    from qa.nlp.sentiment import classify

    assert classify(text)[0] == label


def test_caller_arc_de_escalation():
    from qa.nlp.sentiment import call_sentiment

    turns = (
        turn(Role.AGENT, "thank you for calling 311 how can I help"),
        turn(Role.CALLER, "this is the third time I'm calling, nobody ever listens", 2),
        turn(Role.AGENT, "I'm sorry, I understand, let me fix this for you", 5),
        turn(Role.CALLER, "it's on Oak Street", 8),
        turn(Role.AGENT, "your request number is 61208", 10),
        turn(Role.CALLER, "okay great, thank you so much", 12),
    )
    s = call_sentiment(turns)
    assert [t.label for t in s.turns if t.role == "caller"] == ["negative", "neutral", "positive"]
    assert s.caller.start.label == "negative" and s.caller.end.label == "positive"
    assert s.caller.de_escalated and s.caller.was_negative and s.caller.most_negative_turn == 1
    assert s.caller.change > 1.0 and s.agent.label == "positive"


@pytest.mark.slow
@pytest.mark.parametrize(
    "caller",
    [
        "hi I'm following up on my report about the broken streetlight on Elm",
        "I'm checking on a request I made about a water main leak",
        "yeah my ticket number is 4471, the graffiti is still there",
    ],
)
def test_follow_ups_are_status_calls_whatever_their_topic(classifier, caller):
    pred = classifier.for_call((turn(Role.AGENT, "311 how can I help"), turn(Role.CALLER, caller, 2)))
    assert pred.label == "service_request_status" and pred.reason
    assert not pred.needs_review and len(pred.alternatives) >= 1  # the topic is kept for the reviewer


@pytest.mark.slow
def test_new_reports_are_not_mistaken_for_follow_ups(classifier):
    pred = classifier.for_call((turn(Role.CALLER, "I want to report a pothole, it's a big one on Main Street"),))
    assert pred.label == "pothole" and pred.reason is None


def test_direct_probabilities_equal_scikit_learns_on_every_shipped_model():
    """qa/nlp/fastproba.py computes the calibrated linear models' probabilities on their arrays: the same numbers
    as predict_proba, for the request type (21 classes), the emergency flag and the caller state (two classes)."""
    import numpy as np
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    from qa.nlp import caller_state, emergency, fastproba, request_type

    models = {
        "request_type": request_type._load(str(request_type.MODEL_DIR))[0],
        "emergency": emergency._load(str(emergency.MODEL_DIR))[0]["flag"],
        "caller_state": caller_state.load_model(str(caller_state.MODEL_DIR))[0],
    }
    texts = ["", "my trash was not picked up on tuesday", "I smell gas in the hallway and my head hurts",
             "This is the third time I'm calling and nobody has done anything!!", "okay", "x" * 2000,
             "el bache en la calle Tujunga es enorme", "Thank you for calling 311, my name is Dana."]  # fmt: skip
    for name, model in models.items():
        assert fastproba.compiled(model) is not None, name  # the shape it knows: the direct path is taken
        np.testing.assert_allclose(fastproba.proba(model, texts), model.predict_proba(texts), rtol=0, atol=1e-12)
    # a model of another shape is left to its own predict_proba
    other = make_pipeline(FunctionTransformer(lambda x: np.array([[len(t), t.count(" ")] for t in x], float)),
                          CalibratedClassifierCV(LogisticRegression(), cv=2))  # fmt: skip
    other.fit(["a b", "a", "a b c d", "abc", "a b c", "ab"] * 3, [1, 0, 1, 0, 1, 0] * 3)
    assert fastproba.compiled(other) is None
    np.testing.assert_array_equal(fastproba.proba(other, ["a b c"]), other.predict_proba(["a b c"]))
