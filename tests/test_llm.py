"""The LLM stage (issue #17): the checks that keep the model honest (quotes found in the call, summary facts found in
the call), the model resolver's join/verify/cache logic (on a small fake file: not a model test), `ask` items
without the stage (needs_review, never a guess), answers reused instead of re-asked, HR never sees a summary, and
the real model on real calls (slow; skipped with the reason when llama-cpp-python or the model parts are missing)."""

import hashlib
import importlib.util
from pathlib import Path

import pytest

from qa.config import LlmConfig, PipelineConfig
from qa.errors import ModelNotFoundError
from qa.llm import models as M
from qa.llm.ask import attach_answers, card_questions, doc_pairs
from qa.llm.prompts import PROMPT_VERSION, transcript_sha256
from qa.llm.stage import check_summary
from qa.llm.verify import find_quote, missing_facts, number_vocabulary, word_vocabulary
from qa.nlp.tokens import lines_of_doc
from qa.scoring.engine import evaluate_call
from qa.scoring.schema import Scorecard
from qa.store.scrub import strip_document

ROOT = Path(__file__).resolve().parents[1]

TURNS = [
    ("agent", "Good morning, City of Riverton three one one, this is [PERSON] speaking."),
    ("caller", "Hi, there's a pothole on Delancey Avenue between Ninth and Tenth. My number is [PHONE]."),
    ("agent", "Okay. Delancey Avenue between Ninth and Tenth Street, is that right?"),
    ("caller", "Yes. Can I get a number?"),
    ("agent", "Your request number is two zero four five one. The crew will patch it within five business days."),
    ("agent", "Is there anything else I can help you with today?"),
]


def doc_of(turns=TURNS, **extra):
    ts = [{"role": r, "start": 4.0 * i, "end": 4.0 * i + 3, "text": t} for i, (r, t) in enumerate(turns)]
    doc = {
        "audio": {"duration_s": 30.0},
        "turns": ts,
        "redacted": ts,
        "metrics": {"interruptions_by": {"agent": 0, "caller": 0}, "holds": []},
        "entities": [],
        "request_type": {"label": "pothole"},
        "emergency": {"flag": False},
    }
    doc.update(extra)
    return doc


def card(*rules):
    items = [{"id": f"q{i}", "question": "?", "rule": r} for i, r in enumerate(rules)]
    sections = [{"id": "s", "name": "S", "items": items}]
    return Scorecard.model_validate({"id": "t", "name": "t", "version": "1", "sections": sections})


SR = {"type": "ask", "role": "agent", "question": "Did the agent give the caller a service request number?"}


# -- quotes ---------------------------------------------------------------------------------------------------------


def test_a_quote_is_found_in_the_role_turns_whatever_its_case_punctuation_and_number_form():
    lines = lines_of_doc(doc_of()["turns"])
    m = find_quote("your request number is 20451.", lines, "agent")
    assert m is not None and m.turn == 4 and m.exact and m.quote == "your request number is 20451"
    m = find_quote("YOUR REQUEST NUMBER IS 2-0-4-5-1", lines, "agent")
    assert m is not None and m.turn == 4
    # a near copy (one word changed) of a long sentence still counts; the evidence is the call's words
    m = find_quote("The crew would patch it within five business days", lines, "agent")
    assert m is not None and not m.exact and "will" in m.quote.split()


def test_an_invented_or_wrong_role_or_wrong_number_quote_is_not_found():
    lines = lines_of_doc(doc_of()["turns"])
    assert find_quote("Your service request number is SR-99812.", lines, "agent") is None  # invented
    assert find_quote("Your request number is two zero four five two.", lines, "agent") is None  # one digit off
    assert find_quote("Can I get a number?", lines, "agent") is None  # the caller said it
    assert find_quote("Can I get a number?", lines, "caller") is not None
    assert find_quote("Okay.", lines, "agent") is None  # too short to prove anything


# -- summary facts ----------------------------------------------------------------------------------------------------


def test_summary_facts_are_looked_up_in_the_call():
    lines = lines_of_doc(doc_of()["turns"])
    nums, words = number_vocabulary(lines), word_vocabulary(lines)
    assert missing_facts("A pothole on Delancey Avenue between 9th and 10th Street.", nums, words) == []
    assert missing_facts("The crew will patch it within 5 business days; request 20451.", nums, words) == []
    assert missing_facts("The crew will patch it within 3 days.", nums, words) == ["3"]
    found = missing_facts("Public Works will send Officer Grant.", nums, words)
    assert found == ["Public", "Works", "Officer", "Grant"]


def test_a_summary_field_with_an_unverified_fact_is_dropped_with_a_warning_that_quotes_nothing():
    raw = {
        "reason": "A pothole on Delancey Avenue between Ninth and Tenth.",
        "actions": "The agent confirmed the location and logged request 20451.",
        "outcome": "Street Maintenance Division will patch it within 3 days.",  # invented name and number
        "request_number": "20451",
    }
    s, warnings = check_summary(raw, TURNS, "m", "sha")
    assert s.reason and s.actions and s.outcome is None and s.request_number == "20451"
    assert s.dropped == ("outcome",) and "Maintenance" not in s.text and "20451" in s.text
    assert len(warnings) == 1 and warnings[0].code == "summary_unverified"
    assert "Maintenance" not in warnings[0].message and "3 days" not in warnings[0].message
    s, _ = check_summary({**raw, "request_number": "SR-88812"}, TURNS, "m", "sha")
    assert s.request_number is None and "request_number" in s.dropped
    # every token of it is in the call, but not as one number (seen on the test set): dropped too
    s, _ = check_summary({**raw, "request_number": "20 four 5 1 9"}, TURNS, "m", "sha")
    assert s.request_number is None and "request_number" in s.dropped
    s, warnings = check_summary({**raw, "outcome": None, "request_number": "NONE"}, TURNS, "m", "sha")
    assert s.request_number is None and s.dropped == () and warnings == ()


# -- resolver (a fake GGUF: the join/hash logic only) -----------------------------------------------------------------


def _parts(tmp_path, n=3):
    parts = []
    for i in range(n):
        p = tmp_path / f"part{i}.bin"
        p.write_bytes(bytes([i]) * (1000 + i))
        parts.append(p)
    data = b"".join(p.read_bytes() for p in parts)
    return parts, hashlib.sha256(data).hexdigest(), len(data)


def test_parts_are_joined_once_verified_and_reused(tmp_path):
    parts, sha, size = _parts(tmp_path)
    target = tmp_path / "cache" / "model.gguf"
    assert M.join_parts(parts, target, sha, size) == target
    assert hashlib.sha256(target.read_bytes()).hexdigest() == sha
    mtime = target.stat().st_mtime_ns
    assert M.join_parts(parts, target, sha, size) == target and target.stat().st_mtime_ns == mtime  # reused
    target.write_bytes(b"x" * size)  # damaged after the fact: the marker no longer matches, it is rebuilt
    assert M.join_parts(parts, target, sha, size) == target
    assert hashlib.sha256(target.read_bytes()).hexdigest() == sha
    assert not [p for p in target.parent.iterdir() if p.name.endswith(".tmp")]


def test_a_wrong_hash_or_size_leaves_no_model_behind(tmp_path):
    parts, sha, size = _parts(tmp_path)
    target = tmp_path / "cache" / "model.gguf"
    with pytest.raises(ModelNotFoundError, match="SHA-256"):
        M.join_parts(parts, target, "0" * 64, size)
    with pytest.raises(ModelNotFoundError, match="bytes"):
        M.join_parts(parts, target, sha, size + 1)
    assert not target.exists() and not [p for p in target.parent.iterdir() if p.suffix == ".tmp"]


def test_a_local_gguf_is_identified_by_its_hash_and_changes_the_job_identity(tmp_path):
    gguf = tmp_path / "big-model.gguf"
    gguf.write_bytes(b"GGUF" + b"\0" * 100)
    src = M.resolve(str(gguf), tmp_path / "cache")
    assert src.kind == "local" and src.sha256 == hashlib.sha256(gguf.read_bytes()).hexdigest()
    assert (tmp_path / "cache" / "hashes.json").is_file()
    with pytest.raises(ModelNotFoundError, match="neither"):
        M.resolve(str(tmp_path / "missing.gguf"))
    from qa.pipeline import Pipeline

    off = PipelineConfig()
    on = off.model_copy(update={"llm": LlmConfig(enabled=True, model=str(gguf), cache_dir=tmp_path / "cache")})
    assert off.hash() == PipelineConfig(llm=LlmConfig(threads=3)).hash()  # off: the same identity as before
    assert on.hash() == on.model_copy(update={"llm": on.llm.model_copy(update={"threads": 7})}).hash()
    p_on, p_off = Pipeline(on), Pipeline(off)
    assert p_on.stage_versions()["llm"] == f"{src.sha256[:16]}-{PROMPT_VERSION}" and "llm" not in p_off.stage_versions()
    assert p_on.call_config_hash() != p_off.call_config_hash()


# -- ask items in the scorer ------------------------------------------------------------------------------------------


def test_ask_without_the_llm_goes_to_review_with_the_reason():
    doc = attach_answers(doc_of(), card(SR), None)
    ev = evaluate_call(doc, card(SR), "h")
    item = ev.items[0]
    assert item.answer is None and item.needs_review
    assert item.evidence[0].quote.startswith(("llm_off", "llm_unavailable"))
    assert "a person answers" in item.evidence[0].quote


def _stored(doc, role, question, quote, truncated=False):
    sha = transcript_sha256(doc_pairs(doc))
    doc["asks"] = [
        {"question": question, "role": role, "quote": quote, "model": "m", "prompt_version": PROMPT_VERSION,
         "transcript_sha256": sha, "truncated": truncated}
    ]  # fmt: skip
    return doc


def test_stored_answers_map_to_yes_no_na_and_review():
    q = SR["question"]
    ev = evaluate_call(_stored(doc_of(), "agent", q, "Your request number is 20451."), card(SR), "h").items[0]
    assert ev.answer == "yes" and ev.evidence[0].turn == 4 and ev.evidence[0].quote == "your request number is 20451"
    invented = "Your service request number is SR-99812."
    ev = evaluate_call(_stored(doc_of(), "agent", q, invented), card(SR), "h").items[0]
    assert ev.answer is None and ev.needs_review and "99812" not in str(ev.evidence)  # an invented quote is never kept
    ev = evaluate_call(_stored(doc_of(), "agent", q, None), card(SR), "h").items[0]
    assert ev.answer == "no" and not ev.needs_review
    ev = evaluate_call(_stored(doc_of(), "agent", q, None), card({**SR, "none": "na"}), "h").items[0]
    assert ev.answer == "na" and ev.points == ev.max_points == 0
    ev = evaluate_call(_stored(doc_of(), "agent", q, None, truncated=True), card(SR), "h").items[0]
    assert ev.answer is None and ev.needs_review  # NONE from a model that did not read the whole call proves nothing


def test_an_answer_for_another_transcript_is_not_used():
    doc = _stored(doc_of(), "agent", SR["question"], "Your request number is 20451.")
    doc["redacted"] = doc["redacted"][:3]  # the transcript changed since the question was asked
    doc["turns"] = doc["turns"][:3]
    doc = attach_answers(doc, card(SR), None)
    assert doc["asks"] == [] and evaluate_call(doc, card(SR), "h").items[0].answer is None


class _CountingStage:
    """Stands in for the stage in a test of the glue that decides when to ask (no model claims here)."""

    def __init__(self):
        self.asked = []
        self.model_id = "m"
        self.config = LlmConfig(enabled=True)

    def ask(self, pairs, role, question):
        from qa.types import AskAnswer

        self.asked.append(question)
        return AskAnswer(question, role, None, "m", PROMPT_VERSION, transcript_sha256(pairs))


def test_rescoring_an_unchanged_call_asks_nothing_and_only_the_cards_questions_are_asked():
    stage = _CountingStage()
    c = card(SR, {"type": "not", "rule": {**SR, "question": "Did the agent interrupt the caller?"}},
             {"type": "phrase", "phrases": ["anything else"]})  # fmt: skip
    assert len(card_questions(c)) == 2
    doc = attach_answers(doc_of(), c, stage)
    assert len(stage.asked) == 2 and len(doc["asks"]) == 2 and doc["timings_s"]["llm"] >= 0
    attach_answers(doc, c, stage)
    assert len(stage.asked) == 2  # re-scoring: answers reused
    attach_answers(doc_of(), card({"type": "phrase", "phrases": ["hello"]}), stage)
    assert len(stage.asked) == 2  # a scorecard without ask items costs nothing


def _second_opinion_card():
    """q0: decided by its phrase ("anything else" is said); q1: manual (always left to a person); both with a second
    opinion; q2: a phrase that is not said (a confident "no")."""
    items = [
        {"id": "q0", "question": "?", "rule": {"type": "phrase", "phrases": ["anything else"]},
         "second_opinion": {**SR, "question": "Did the agent ask if there was anything else?"}},
        {"id": "q1", "question": "?", "rule": {"type": "manual"}, "second_opinion": SR},
        {"id": "q2", "question": "?", "rule": {"type": "phrase", "phrases": ["have a nice weekend"]}},
    ]  # fmt: skip
    sections = [{"id": "s", "name": "S", "items": items}]
    return Scorecard.model_validate({"id": "t", "name": "t", "version": "1", "sections": sections})


def test_a_second_opinion_decides_only_what_the_rules_left_to_a_person():
    c = _second_opinion_card()
    ev = {it.id: it for it in evaluate_call(doc_of(), c, "h").items}
    assert ev["q0"].answer == "yes" and ev["q1"].answer is None and ev["q1"].needs_review  # no answer yet
    found = {it.id: it for it in evaluate_call(_stored(doc_of(), "agent", SR["question"], "Your request number is "
                                                       "20451."), c, "h").items}  # fmt: skip
    assert found["q1"].answer == "yes" and not found["q1"].needs_review and found["q1"].evidence[0].turn == 4
    assert found["q1"].evidence[0].rule == "second_opinion"
    no = {it.id: it for it in evaluate_call(_stored(doc_of(), "agent", SR["question"], None), c, "h").items}
    assert no["q1"].answer == "no"
    invented = {it.id: it for it in evaluate_call(_stored(doc_of(), "agent", SR["question"], "SR-99812 is yours."),
                                                  c, "h").items}  # fmt: skip
    assert invented["q1"].answer is None and invented["q1"].needs_review and "99812" not in str(invented["q1"])
    assert any(e.rule == "second_opinion" and "not in the agent's turns" in (e.quote or "")
               for e in invented["q1"].evidence)  # fmt: skip  # the reviewer sees why it did not decide
    other = "Did the agent ask if there was anything else?"  # a stored NO never overturns what the rules decided
    assert {it.id: it for it in evaluate_call(_stored(doc_of(), "agent", other, None), c, "h").items}["q0"].answer \
        == "yes"


def test_the_scorer_asks_second_opinions_only_for_items_left_to_a_person_and_once():
    from qa.scoring.scorer import Scorer

    stage = _CountingStage()
    scorer = Scorer(_second_opinion_card(), "h", llm=stage)  # type: ignore[arg-type]
    doc, ev = scorer.score(doc_of())
    assert stage.asked == [SR["question"]]  # q1 only: q0 and q2 were decided by their phrases
    assert {it.id: it.answer for it in ev.items}["q1"] == "no"  # the stand-in answers NO
    doc, ev = scorer.score(doc)
    assert stage.asked == [SR["question"]]  # re-scoring: the stored answer decides, nothing is asked again
    stale = _stored(doc_of(), "agent", SR["question"], "SR-99812 is yours.")  # another model's invented quote
    stale["asks"][0]["model"] = "older-model"
    doc, ev = scorer.score(stale)
    assert [a["model"] for a in doc["asks"]] == ["m"]  # replaced by this model's answer ...
    assert {it.id: it.answer for it in ev.items}["q1"] == "no"  # ... and the evaluation is made from it
    assert scorer.score(doc)[1] == ev  # re-scoring the result gives the same evaluation
    asked = list(stage.asked)
    off = Scorer(_second_opinion_card(), "h", llm=None).score(doc_of())[1]
    assert {it.id: it.answer for it in off.items}["q1"] is None  # no stage: left to a person
    stage.config = LlmConfig(enabled=True, ask=False)
    Scorer(_second_opinion_card(), "h", llm=stage).score(doc_of())  # type: ignore[arg-type]
    assert stage.asked == asked  # llm.ask off: nothing asked


def test_transcript_removal_takes_the_summary_and_answers():
    doc = _stored(doc_of(summary={"text": "A pothole on Delancey Avenue."}), "agent", "q?", "Your request number")
    d = strip_document(doc)
    assert d["summary"] is None and d["asks"] == []


def test_hr_never_gets_the_summary(monkeypatch):
    from api import views

    doc = doc_of(summary={"text": "A pothole on Delancey Avenue."}, stages={}, warnings=[])

    class _Call:
        document = doc
        turns = []
        source = "x.flac"
        channel_layout = "stereo"

    monkeypatch.setattr(views, "summary", lambda call, released_only=False: {})
    monkeypatch.setattr(views, "evaluation_view", lambda *a, **k: None)
    assert views.call_view(None, _Call(), views.TextAccess.NONE)["summary"] is None
    assert views.call_view(None, _Call(), views.TextAccess.REDACTED)["summary"]["text"].startswith("A pothole")


# -- the real model (slow) ------------------------------------------------------------------------------------------

_MISSING = [m for m in ("llama_cpp", *M.PART_MODULES) if importlib.util.find_spec(m) is None]
real_model = pytest.mark.skipif(
    bool(_MISSING), reason=f"the LLM extra is not installed ({len(_MISSING)} module(s) missing: {_MISSING[:2]})"
)


@pytest.fixture(scope="module")
def stage(tmp_path_factory):
    from qa.llm.cache import AnswerCache
    from qa.llm.stage import LlmStage

    # one thread: the suite shares the machine with other work, and llama.cpp threads that wait on a busy core stall
    s = LlmStage(LlmConfig(enabled=True, threads=1))  # the model joined once into the user's cache folder
    s.cache = AnswerCache(Path(tmp_path_factory.mktemp("llm")))  # answers: fresh, so the model really runs
    s.load()
    return s


def _script_pairs(path: Path):
    from qa.eval.references import Line, parse_script

    return [(x.role.lower(), x.text) for x in parse_script(path).items if isinstance(x, Line)]


@pytest.mark.slow
@real_model
def test_real_summary_of_a_sample_call_states_only_what_the_call_says(stage):
    pairs = _script_pairs(ROOT / "samples" / "scripts" / "pothole_report.txt")
    summary, warnings = stage.summarize(pairs)
    assert summary.text and summary.reason, "the model wrote a summary"
    lines = lines_of_doc([{"role": r, "start": 0, "end": 0, "text": t} for r, t in pairs])
    assert missing_facts(summary.text, number_vocabulary(lines), word_vocabulary(lines)) == []
    calls = stage.stats.completions
    again, _ = stage.summarize(pairs)
    assert again == summary and stage.stats.completions == calls  # unchanged call: reused, not regenerated


@pytest.mark.slow
@real_model
def test_real_ask_never_says_yes_with_an_invented_quote_when_the_answer_is_no(stage):
    # d01: the agent says the request is "saved under your phone number" and never reads out a number. The 1.5B model
    # may still copy a real but unrelated agent sentence (bench/llm.py measures how often: the yes-bias rate); what
    # the program guarantees is that a "yes" stands on words the agent said, never on a sentence the model made up.
    pairs = _script_pairs(ROOT / "bench" / "data" / "dev_calls" / "d01_pothole_hurt_someone.txt")
    ts = [{"role": r, "start": 3.0 * i, "end": 3.0 * i + 2, "text": t} for i, (r, t) in enumerate(pairs)]
    doc = attach_answers(doc_of(turns=pairs) | {"turns": ts, "redacted": ts}, card(SR), stage)
    item = evaluate_call(doc, card(SR), "h").items[0]
    answer = doc["asks"][0]
    assert answer["model"] == stage.model_id
    if item.answer == "yes":  # the call's own words, in an agent turn
        match = find_quote(item.evidence[0].quote, lines_of_doc(ts), "agent")
        assert match is not None and match.exact
    if answer["quote"] is not None and find_quote(answer["quote"], lines_of_doc(ts), "agent") is None:
        assert item.answer is None and item.needs_review  # an invented quote: review, and the quote is not kept
        assert answer["quote"] not in str(item.evidence)


@pytest.mark.slow
@real_model
def test_real_pipeline_writes_the_summary_into_the_call_json_and_reuses_it(tmp_path, stage):
    from qa.document import call_document
    from qa.eval.references import script_webvtt
    from qa.pipeline import Pipeline

    vtt = tmp_path / "pothole.vtt"
    vtt.write_text(script_webvtt(ROOT / "samples" / "scripts" / "pothole_report.txt"))
    pipe = Pipeline(PipelineConfig(llm=stage.config))
    pipe.llm = stage  # the model the module already loaded (same config)
    doc = call_document(pipe.process_transcript(vtt))
    assert doc["summary"]["text"] and doc["stages"]["llm"] == stage.version and doc["timings_s"]["llm"] > 0
    assert doc["summary"]["transcript_sha256"] == transcript_sha256(doc_pairs(doc))  # written from the redacted turns
    calls = stage.stats.completions
    again = call_document(pipe.process_transcript(vtt))
    assert again["summary"] == doc["summary"] and stage.stats.completions == calls  # reused, not regenerated
