"""The results store: migrations up and down on SQLite and PostgreSQL, idempotent import, final scores with
overrides, calibration statistics, and the job queue's claim semantics."""

import datetime as dt

import pytest
from sqlalchemy import func, select
from storekit import load, variant

from qa.store import open_store
from qa.store.calls import final_evaluation, import_document, refresh_call_score
from qa.store.db import make_engine, migrate, normalize_url
from qa.store.models import Base, Call, EvaluationRow, Review, TurnRow, User
from qa.store.reports import agreement, cohen_kappa


def test_url_forms():
    assert normalize_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalize_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalize_url("results/qa.db") == "sqlite:///results/qa.db"


def test_bad_database_urls_are_clear_errors(tmp_path):
    from qa.store.db import StoreError

    with pytest.raises(StoreError, match="does not exist"):
        open_store(f"sqlite:///{tmp_path}/missing/qa.db")
    with pytest.raises(StoreError, match="unsupported database"):
        open_store("mysql://root@127.0.0.1/test")
    with pytest.raises(StoreError, match="cannot use"):
        open_store("postgresql://nobody@127.0.0.1:1/none")


def test_migrations_up_down_and_match_the_models(store_url):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from qa.store.search import include_object_for

    engine = make_engine(store_url)
    migrate(engine)
    with engine.connect() as c:
        ctx = MigrationContext.configure(c, opts={"include_object": include_object_for(engine.dialect.name)})
        diffs = compare_metadata(ctx, Base.metadata)
    assert diffs == [], diffs  # the models and the migrations describe the same schema
    migrate(engine, "base")
    from sqlalchemy import inspect

    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    migrate(engine)
    assert {"calls", "turns", "evaluations", "jobs", "users"} <= set(inspect(engine).get_table_names())
    if engine.dialect.name == "sqlite":
        with engine.connect() as c:
            assert c.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert c.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    engine.dispose()


@pytest.mark.slow
def test_import_is_idempotent_and_keeps_old_evaluations(store, sample_docs):
    doc = variant(sample_docs["pothole_report"], 1, "A1", "east", "2026-11-02T10:00:00Z")
    with store.session() as s:
        call, created = import_document(s, doc)
        assert created
    with store.session() as s:
        _, created = import_document(s, doc)
        assert not created
        assert s.scalar(select(func.count()).select_from(Call)) == 1
        assert s.scalar(select(func.count()).select_from(TurnRow)) == len(doc["turns"])
        c = s.get(Call, doc["call_id"])
        assert c.started_at == dt.datetime(2026, 11, 2, 10, 0) and c.agent_id == "A1" and c.percent is not None
        assert "springfield" in c.search_text and c.search_text == c.search_text.lower()
    rescored = variant(sample_docs["pothole_report"], 1, "A1", "east", "2026-11-02T10:00:00Z")
    rescored["evaluation"] = {
        **rescored["evaluation"],
        "scorecard": {**rescored["evaluation"]["scorecard"], "hash": "x" * 16, "version": "2"},
    }
    with store.session() as s:
        import_document(s, rescored)
        rows = s.scalars(select(EvaluationRow).order_by(EvaluationRow.id)).all()
        first = sample_docs["pothole_report"]["evaluation"]["scorecard"]["version"]
        assert [(r.scorecard_version, r.current) for r in rows] == [(first, False), ("2", True)]


@pytest.mark.slow
def test_override_changes_final_score_and_keeps_the_automatic_one(store, sample_docs):
    (cid,) = load(store, [variant(sample_docs["pothole_report"], 2, "A1", "east", "2026-11-02T10:00:00")])
    with store.session() as s:
        s.add(User(name="r", role="reviewer", key_hash="h"))
        s.flush()
        ev = s.scalar(select(EvaluationRow))
        yes_items = [it for it in ev.data["items"] if it["answer"] == "yes"]
        assert yes_items, "the pothole sample should pass some items"
        target = yes_items[0]
        s.add(Review(evaluation_id=ev.id, item_id=target["id"], answer="no", comment="missed", reviewer_id=1))
        s.flush()
        final = refresh_call_score(s, s.get(Call, cid))
    item = {it["id"]: it for it in final["items"]}[target["id"]]
    assert item["automatic_answer"] == "yes" and item["answer"] == "no" and item["override"]["comment"] == "missed"
    assert final["score"] == ev.data["score"] - target["points_possible"]
    assert final["automatic"]["score"] == ev.data["score"] and final["reviewed"]
    with store.session() as s:
        assert s.get(Call, cid).score == final["score"]


def test_final_evaluation_applies_critical_and_section_rules():
    ev = EvaluationRow(
        data={
            "score": 3.0,
            "max_score": 3.0,
            "percent": 100.0,
            "passed": True,
            "critical_failed": [],
            "rules": {"pass_percent": 80.0, "critical_fails": "call", "section_weights": {"a": 1.0, "b": 3.0}},
            "items": [
                {
                    "id": "x",
                    "section": "a",
                    "answer": "yes",
                    "points": 1.0,
                    "max_points": 1.0,
                    "needs_review": False,
                    "critical": True,
                    "points_possible": 1.0,
                    "evidence": [],
                },
                {
                    "id": "y",
                    "section": "b",
                    "answer": "yes",
                    "points": 2.0,
                    "max_points": 2.0,
                    "needs_review": False,
                    "critical": False,
                    "points_possible": 2.0,
                    "evidence": [],
                },
                {
                    "id": "z",
                    "section": "b",
                    "answer": "na",
                    "points": 0.0,
                    "max_points": 0.0,
                    "needs_review": False,
                    "critical": False,
                    "points_possible": 5.0,
                    "evidence": [],
                },
            ],
        }
    )
    r = Review(item_id="x", answer="no", comment="", reviewer_id=1, created_at=dt.datetime(2026, 1, 1), id=1)
    f = final_evaluation(ev, [r])
    assert f["critical_failed"] == ["x"] and not f["passed"]
    assert f["percent"] == pytest.approx(100 * (1 * 0 + 3 * 1) / 4)  # section weights
    r2 = Review(item_id="z", answer="yes", comment="", reviewer_id=1, created_at=dt.datetime(2026, 1, 2), id=2)
    f = final_evaluation(ev, [r, r2])
    assert f["max_score"] == 8.0 and f["score"] == 7.0  # an N/A item answered by a reviewer counts again


def test_cohen_kappa_matches_a_worked_example():
    # 50 items: both yes 20, a-yes/b-no 5, a-no/b-yes 10, both no 15 -> po 0.7, pe 0.5, kappa 0.4
    a = ["yes"] * 20 + ["yes"] * 5 + ["no"] * 10 + ["no"] * 15
    b = ["yes"] * 20 + ["no"] * 5 + ["yes"] * 10 + ["no"] * 15
    assert cohen_kappa(a, b) == pytest.approx(0.4)
    assert cohen_kappa(["yes", "yes"], ["yes", "yes"]) == 1.0
    res = agreement({"r1": {"i": "yes", "j": "no"}, "r2": {"i": "yes", "j": "yes"}}, {"i": "yes", "j": "no"})
    assert res["items"]["i"]["pair_agreement"] == 1.0 and res["items"]["j"]["pair_agreement"] == 0.0
    assert res["overall"]["percent_agreement"] == 50.0
    assert res["reviewer_vs_automatic"]["r1"]["percent_agreement"] == 100.0


def test_downgrading_evaluation_revisions_is_refused_then_keeps_revision_one(store, store_url):
    """Migration 0004: a later revision of an evaluation (a re-import of a released one) is lost on downgrade, so
    `downgrade` refuses without force; forced, revision 1 stays and becomes current again."""
    from sqlalchemy import text

    from qa.store.db import StoreError, downgrade, downgrade_losses

    with store.session() as s:
        s.add(
            Call(id="c1", audio_sha256="a" * 64, source="x", duration_s=1.0, channel_layout="mono", config_hash="h",
                 document={})
        )  # fmt: skip
        s.flush()
        for rev, state, current in ((1, "final", False), (2, "draft", True)):
            s.add(
                EvaluationRow(call_id="c1", scorecard_id="s", scorecard_version="1", scorecard_hash="h", revision=rev,
                              state=state, current=current, auto_score=1.0, auto_percent=50.0, auto_passed=False,
                              data={})
            )  # fmt: skip
    assert downgrade_losses(store.engine, "-4") == ["1 evaluation revisions (with their reviews) (revision 0004)"]
    with pytest.raises(StoreError, match="--force"):
        downgrade(store.engine, "-4")
    downgrade(store.engine, "-4", force=True)
    with store.engine.connect() as c:
        assert c.execute(text("SELECT state, current FROM evaluations")).all() == [("final", True)]
    migrate(store.engine)


def test_a_document_without_a_call_id_is_refused_with_a_clear_error(tmp_path):
    store = open_store(f"sqlite:///{tmp_path / 'qa.db'}")
    doc = {"audio": {"sha256": "a" * 64}, "turns": []}
    for bad in (doc, {**doc, "call_id": ""}, {**doc, "call_id": 7}):
        with store.session() as s, pytest.raises(ValueError, match="no call_id"):
            import_document(s, bad)
    with store.session() as s:
        assert s.scalar(select(func.count()).select_from(Call)) == 0
