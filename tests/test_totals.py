"""The scorecard totals rule: one pure function for automatic answers (the engine) and reviewed ones (the store)."""

import datetime as dt

import pytest

from qa.scoring.rescore import score_document
from qa.scoring.schema import Scorecard
from qa.scoring.totals import Scored, TotalsRules, totals
from qa.store.calls import final_evaluation
from qa.store.models import EvaluationRow, Review


def s(id_, sec, answer, pts, critical=False):
    return Scored(id_, sec, answer, pts if answer == "yes" else 0.0, pts if answer in ("yes", "no") else 0.0, critical)


def test_weights_na_and_review_are_out_of_the_denominator():
    t = totals(
        [
            s("a", "x", "yes", 2),
            s("b", "x", "no", 2),
            s("c", "x", "na", 5),
            s("d", "y", None, 3),
            s("e", "y", "yes", 1),
        ],
        TotalsRules(80.0, "call", {"x": 1.0, "y": 3.0}),
        ["x", "y", "z"],
    )
    assert [(x.id, x.score, x.max_score, x.percent) for x in t.sections] == [
        ("x", 2.0, 4.0, 50.0),
        ("y", 1.0, 1.0, 100.0),
        ("z", 0.0, 0.0, None),
    ]
    assert t.percent == pytest.approx(100 * (0.5 * 1 + 1.0 * 3) / 4) and t.passed is True  # 87.5 >= 80
    assert t.score == 3.0 and t.max_score == 5.0


def test_critical_fails_the_call_or_only_its_section():
    items = [s("a", "x", "no", 1, critical=True), s("b", "x", "yes", 3), s("c", "y", "yes", 4)]
    call = totals(items, TotalsRules(50.0, "call"))
    assert call.critical_failed == ("a",) and call.passed is False and call.sections[0].score == 3.0
    section = totals(items, TotalsRules(50.0, "section"))
    assert section.sections[0].score == 0.0 and section.percent == pytest.approx(50.0) and section.passed is True


def test_nothing_scorable_has_no_percent_and_does_not_pass():
    t = totals([s("a", "x", "na", 1), s("b", "x", None, 1)], TotalsRules())
    assert t.percent is None and t.passed is False and t.score == 0.0


CARD = Scorecard.model_validate(
    {
        "id": "t",
        "name": "t",
        "version": "1",
        "pass_percent": 70,
        "critical_fails": "section",
        "sections": [
            {"id": "open", "name": "Open", "weight": 1, "items": [
                {"id": "hello", "question": "?", "points": 2, "rule": {"type": "phrase", "role": "agent",
                                                                        "phrases": ["hello"]}},
                {"id": "bye", "question": "?", "points": 1, "critical": True,
                 "rule": {"type": "phrase", "role": "agent", "phrases": ["goodbye"]}},
            ]},
            {"id": "care", "name": "Care", "weight": 3, "items": [
                {"id": "sorry", "question": "?", "points": 4, "rule": {"type": "phrase", "role": "agent",
                                                                        "phrases": ["sorry"]}},
            ]},
        ],
    }
)  # fmt: skip


def doc():
    turns = [("agent", 0.0, "hello there"), ("caller", 2.0, "my street is flooded"), ("agent", 4.0, "so sorry")]
    return {
        "audio": {"duration_s": 10.0},
        "turns": [
            {
                "role": r,
                "start": t,
                "end": t + 1,
                "text": x,
                "words": [{"start": t, "end": t + 1, "word": w} for w in x.split()],
            }
            for r, t, x in turns
        ],  # fmt: skip
        "entities": [],
        "metrics": {},
    }


def row(ev):
    r = EvaluationRow(data=ev)
    return r


def review(item, answer, minute):
    return Review(
        id=minute,
        item_id=item,
        answer=answer,
        comment="c",
        reviewer_id=1,
        created_at=dt.datetime(2026, 1, 1, 0, minute),
    )


def test_a_review_that_confirms_every_answer_gives_the_engines_totals():
    ev = score_document(doc(), CARD, "h")["evaluation"]
    assert [it["answer"] for it in ev["items"]] == ["yes", "no", "yes"]
    confirmed = final_evaluation(row(ev), [review(it["id"], it["answer"], i) for i, it in enumerate(ev["items"])])
    for k in ("score", "max_score", "percent", "passed", "critical_failed", "sections"):
        assert confirmed[k] == ev[k], k


def test_an_override_recomputes_sections_too():
    ev = score_document(doc(), CARD, "h")["evaluation"]
    assert ev["sections"][0]["score"] == 0.0  # the critical "bye" zeroes its section
    fixed = final_evaluation(row(ev), [review("bye", "yes", 1)])
    assert fixed["sections"][0] == {"id": "open", "score": 3.0, "max_score": 3.0, "percent": 100.0}
    assert fixed["critical_failed"] == [] and fixed["percent"] == pytest.approx(100.0) and fixed["passed"]
    assert fixed["automatic"]["percent"] == ev["percent"]
