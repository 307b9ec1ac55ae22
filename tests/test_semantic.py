"""Semantic scorecard items: golden answers on constructed calls with the real sentence encoder (the static table
in models/encoder), evidence, counter-examples, the review band, missing vectors, time windows, bad rules, and
applicability that follows uncertain classifiers (review, never "no")."""

import pytest

from qa.nlp.sentences import embed_sentences, pack, unpack
from qa.nlp.static_encoder import load_encoder
from qa.scoring.engine import evaluate_call
from qa.scoring.schema import Scorecard, ScorecardError
from qa.types import Role, Turn, Word


def turns_of(lines):
    out = []
    for role, start, text in lines:
        words = tuple(Word(start + 0.3 * i, start + 0.3 * i + 0.25, w, 0.9) for i, w in enumerate(text.split()))
        out.append(Turn(role, Role(role), start, words[-1].end, text, words))
    return tuple(out)


def doc_of(lines, **extra):
    turns = turns_of(lines)
    doc = {
        "audio": {"duration_s": 90.0},
        "turns": [
            {"role": t.role.value, "start": t.start, "end": t.end, "text": t.text,
             "words": [{"start": w.start, "end": w.end, "word": w.word} for w in t.words]}
            for t in turns
        ],  # fmt: skip
        "sentences": pack(embed_sentences(turns, load_encoder())),
        "metrics": {"interruptions_by": {"agent": 0}, "holds": []},
        "entities": [],
        "request_type": {"label": "pothole"},
        "emergency": {"flag": False},
        "sentiment": {"caller": {"upset": True}},
    }
    doc.update(extra)
    return doc


def card(rule, applies_if=None):
    item = {"id": "it", "question": "?", "rule": rule}
    if applies_if:
        item["applies_if"] = applies_if
    return Scorecard.model_validate({"id": "t", "name": "t", "version": "1", "sections": [
        {"id": "s", "name": "S", "items": [item]}]})  # fmt: skip


MORE = {"type": "semantic", "role": "agent", "threshold": 0.6, "examples": ["Is there anything else I can help with?"]}


def result(doc, rule, applies_if=None):
    return evaluate_call(doc, card(rule, applies_if), "h").items[0]


def test_semantic_match_in_other_words_with_evidence():
    doc = doc_of([("agent", 0, "Okay, it's all logged."), ("agent", 40, "What else can I do for you today?")])
    it = result(doc, MORE)
    assert it.answer == "yes"
    ev = it.evidence[0]
    assert ev.quote == "What else can I do for you today?" and ev.turn == 1 and ev.start == 40
    assert ev.example == MORE["examples"][0] and 0.6 <= ev.score <= 1.0


def test_semantic_no_when_nothing_close_and_role_and_window_respected():
    doc = doc_of([("agent", 0, "The crew fills potholes on Tuesdays."), ("caller", 5, "Anything else I should know?")])
    assert result(doc, MORE).answer == "no"  # the caller said it, not the agent
    late = doc_of([("agent", 70, "Is there anything else I can help you with?")])
    assert result(late, {**MORE, "within_s": 20}).answer == "no"
    assert result(late, {**MORE, "last_s": 30}).answer == "yes"
    assert result(doc_of([("agent", 0, "Okay.")]), MORE).answer == "no"  # shorter than min_words


def test_counter_example_keeps_a_near_miss_out():
    rule = {"type": "semantic", "role": "agent", "threshold": 0.5,
            "examples": ["I'm so sorry you are dealing with this"],
            "counter_examples": ["Sorry, could you repeat that?"]}  # fmt: skip
    assert result(doc_of([("agent", 0, "Sorry, can you repeat that please?")]), rule).answer == "no"
    assert result(doc_of([("agent", 0, "I'm really sorry you have to deal with that")]), rule).answer == "yes"


def test_review_band_sends_a_borderline_match_to_review():
    doc = doc_of([("agent", 0, "What else can I do for you today?")])
    score = result(doc, {**MORE, "threshold": 0.5}).evidence[0].score
    it = result(doc, {**MORE, "threshold": min(0.99, score + 0.02), "review_band": 0.05})
    assert it.answer is None and it.needs_review and it.evidence[0].score == score


def test_analysis_without_sentence_vectors_goes_to_review_with_the_reason():
    doc = doc_of([("agent", 0, "What else can I do for you today?")])
    del doc["sentences"]
    it = result(doc, MORE)
    assert it.answer is None and "re-run `qa process`" in it.evidence[0].quote
    doc = doc_of([("agent", 0, "What else can I do for you today?")])
    doc["sentences"]["encoder"] = "some-other-encoder"
    assert "re-run" in result(doc, MORE).evidence[0].quote


def test_packed_vectors_round_trip():
    turns = turns_of([("agent", 0, "Hello there. How can I help?"), ("caller", 3, "My trash was not picked up")])
    sv = embed_sentences(turns, load_encoder())
    doc_turns = [{"words": [{"start": w.start, "end": w.end} for w in t.words]} for t in turns]
    back = unpack(pack(sv), doc_turns)
    assert [(s.turn, s.first_word, s.last_word) for s in back.sentences] == [(0, 0, 1), (0, 2, 5), (1, 0, 5)]
    assert back.sentences[2].start == 3.0
    assert (abs((back.vectors * sv.vectors).sum(axis=1) - 1) < 1e-3).all()


def test_blocks_without_times_read_their_times_from_the_words():
    doc = doc_of([("agent", 0, "Okay, it's all logged."), ("agent", 40, "What else can I do for you today?")])
    with_times = result(doc, MORE)
    del doc["sentences"]["times"]  # an analysis stored before the times were kept in the block
    assert result(doc, MORE) == with_times and with_times.evidence[0].start == 40
    doc["sentences"]["times"] = doc_of([("agent", 0, "Hi.")])["sentences"]["times"]  # wrong length: not read
    assert result(doc, MORE) == with_times
    for bad in ("not base64!", 17, None, "AAAA"):  # a hand-made block: the times come from the words
        doc["sentences"]["times"] = bad
        assert result(doc, MORE) == with_times


def test_stored_tokens_are_read_only_when_made_from_this_text():
    from qa.nlp.tokens import TOKENS_VERSION, stored_tokens, turn_tokens

    rule = {"type": "phrase", "role": "agent", "phrases": ["request number 241"]}
    doc = doc_of([("agent", 0, "Your request number is two four one.")])
    assert result(doc, rule).answer == "no"  # "is" sits between them
    turn = doc["turns"][0] | stored_tokens(doc["turns"][0]["text"])
    assert turn["tokens"] == "your request number is 241"
    assert turn_tokens(turn) == ("your", "request", "number", "is", "241")
    forged = {**turn, "tokens": "your request number 241"}  # tokens that the text does not hold
    doc["turns"][0] = {**forged, "tokens_crc": turn["tokens_crc"]}
    assert result(doc, rule).answer == "yes"  # read as stored when the checksum says they were made from this text
    doc["turns"][0] = {**forged, "text": "Your request number two four one."}  # text edited after: made again
    assert turn_tokens(doc["turns"][0]) == ("your", "request", "number", "241")
    stale = {**turn, "tokens": "x", "tokens_crc": turn["tokens_crc"] ^ 1}  # e.g. another TOKENS_VERSION
    assert turn_tokens(stale) == turn_tokens(turn) and TOKENS_VERSION
    assert turn_tokens({**turn, "tokens": ["your"]}) == turn_tokens(turn)  # not a string: normalised again


@pytest.mark.parametrize(
    "bad,field",
    [
        ({"threshold": 1.5}, "threshold"),
        ({"examples": []}, "examples"),
        ({"examples": ["x"]}, "examples.0"),
        ({"role": "supervisor"}, "role"),
        ({"review_band": -0.1}, "review_band"),
        ({"meaning": "greeting"}, "meaning"),
    ],
)
def test_bad_semantic_rules_are_refused_with_the_field(tmp_path, bad, field):
    import yaml

    from qa.scoring.schema import load_scorecard

    rule = {**MORE, **bad}
    p = tmp_path / "c.yaml"
    p.write_text(yaml.safe_dump({"id": "t", "name": "t", "version": "1", "sections": [
        {"id": "s", "name": "S", "items": [{"id": "it", "question": "?", "rule": rule}]}]}))  # fmt: skip
    with pytest.raises(ScorecardError, match=rf"item 'it' \(section 's'\), field 'rule.{field}"):
        load_scorecard(p)


TRANSFER = {"type": "phrase", "role": "agent", "phrases": ["911"]}


def test_uncertain_emergency_gives_review_not_no():
    unsure = {"flag": False, "needs_review": True}
    said = doc_of([("agent", 0, "Please hang up and call 911 now")], emergency=unsure)
    silent = doc_of([("agent", 0, "What is the address?")], emergency=unsure)
    assert result(said, TRANSFER, {"emergency": True}).answer == "yes"
    item = result(silent, TRANSFER, {"emergency": True})
    assert item.answer is None and item.needs_review
    sure_not = doc_of([("agent", 0, "What is the address?")], emergency={"flag": False})
    assert result(sure_not, TRANSFER, {"emergency": True}).answer == "na"


def test_caller_upset_condition_and_uncertain_request_type():
    empathy = {"type": "phrase", "role": "agent", "phrases": ["sorry"]}
    calm = doc_of([("agent", 0, "Okay, noted")], sentiment={"caller": {"upset": False}})
    assert result(calm, empathy, {"caller_upset": True}).answer == "na"
    unsure = doc_of([("agent", 0, "Okay, noted")], sentiment={"caller": {"upset": True, "upset_review": True}})
    assert result(unsure, empathy, {"caller_upset": True}).answer is None
    rt = {"label": "pothole", "needs_review": True, "alternatives": [["service_request_status", 0.3]]}
    doc = doc_of([("agent", 0, "Okay, noted")], request_type=rt)
    assert result(doc, TRANSFER, {"request_type_not_in": ["service_request_status"]}).answer is None
