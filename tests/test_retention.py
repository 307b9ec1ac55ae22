"""Retention and erasure: recordings and transcript text go after their age (or on a records request); scores,
evaluations, reviews, disputes, metrics and the audit trail stay; a re-import cannot bring erased text back; the
retention policy is not part of the pipeline configuration (so it never changes a call's config hash)."""

import json
from pathlib import Path

import pytest
from conftest import SAMPLES
from sqlalchemy import func, select
from storekit import load, variant

from qa.store.models import Analysis, Base, Call, Dispute, EvaluationRow, Review, TurnRow, User
from qa.store.retention import RetentionPolicy, apply, erase_call, load_policy

pytestmark = pytest.mark.slow


def _counts(store) -> dict[str, int]:
    with store.session() as s:
        return {t.name: s.scalar(select(func.count()).select_from(t)) for t in Base.metadata.sorted_tables}


def _setup(store, sample_docs, tmp_path):
    old = variant(sample_docs["pothole_report"], 1, "A1", "east", "2020-01-01T09:00:00")
    new = variant(sample_docs["angry_caller"], 2, "A1", "east", "2099-01-01T09:00:00")
    ext = variant(sample_docs["status_followup"], 3, "A1", "east", "2020-02-01T09:00:00")
    ids = load(store, [old, new, ext])
    data = tmp_path / "data"
    (data / "uploads").mkdir(parents=True)
    owned = data / "uploads" / "old.flac"
    outside = tmp_path / "archive" / "ext.flac"
    outside.parent.mkdir()
    for p in (owned, outside):
        p.write_bytes((SAMPLES / "pothole_report.flac").read_bytes())
    with store.session() as s:
        s.get(Call, ids[0]).audio_path = str(owned)
        s.get(Call, ids[2]).audio_path = str(outside)
        s.add(User(name="r", role="reviewer", key_hash="h"))
        s.flush()
        ev = s.scalar(select(EvaluationRow).where(EvaluationRow.call_id == ids[0]))
        s.add(Review(evaluation_id=ev.id, item_id="greeting", answer="no", comment="missed", reviewer_id=1))
        s.add(Dispute(evaluation_id=ev.id, item_id="closing", agent_user_id=1, reason="r"))
    return ids, [old, new, ext], data, owned, outside


def test_retention_removes_audio_and_transcripts_past_their_age_and_keeps_the_rest(store, sample_docs, tmp_path):
    ids, docs, data, owned, outside = _setup(store, sample_docs, tmp_path)
    policy = RetentionPolicy(audio_days=90, transcripts_days=365)
    before = _counts(store)
    with store.session() as s:
        scores = {c.id: (c.score, c.percent, c.passed, c.answers) for c in s.scalars(select(Call))}
    dry = apply(store, policy, execute=False, data_dirs=[data])
    assert dry.plan.audio == sorted([ids[0], ids[2]]) and sorted(dry.plan.transcripts) == sorted([ids[0], ids[2]])
    assert _counts(store) == before and owned.exists()  # a dry run changes nothing

    report = apply(store, policy, execute=True, data_dirs=[data])
    assert not owned.exists() and outside.exists() and report.external == [str(outside)]  # callqa's copy only
    after = _counts(store)
    kept = {k: v for k, v in after.items() if k not in ("turns", "audit_log")}
    assert kept == {k: v for k, v in before.items() if k not in ("turns", "audit_log")}  # nothing else is lost
    assert after["audit_log"] == before["audit_log"] + 3  # two calls and the run
    with store.session() as s:
        for cid in (ids[0], ids[2]):
            c = s.get(Call, cid)
            assert c.audio_path is None and c.search_text == c.search_redacted == "" and c.transcript_removed_at
            assert s.scalar(select(func.count()).select_from(TurnRow).where(TurnRow.call_id == cid)) == 0
            blob = json.dumps(
                [c.document]
                + [e.data for e in s.scalars(select(EvaluationRow).where(EvaluationRow.call_id == cid))]
                + [a.data for a in s.scalars(select(Analysis).where(Analysis.call_id == cid))]
            )
            doc = docs[ids.index(cid)]
            assert all(t.get("tokens") for t in doc["turns"])  # each turn carries its normalised tokens...
            for t in doc["turns"]:
                if len(t["text"].split()) >= 3:
                    assert t["text"] not in blob and t["tokens"] not in blob  # ...and they go with the text
            assert (
                c.document["metrics"] == doc["metrics"] and c.document["turns"][0]["start"] == doc["turns"][0]["start"]
            )
            assert (c.score, c.percent, c.passed, c.answers) == scores[cid]  # scores unchanged
        young = s.get(Call, ids[1])
        assert young.search_text and young.transcript_removed_at is None  # not old enough
        assert s.scalar(select(func.count()).select_from(Review)) == 1 and s.scalar(select(Dispute.reason)) == "r"
    again = apply(store, policy, execute=True, data_dirs=[data])
    assert again.counts() == {"audio": 0, "transcripts": 0, "calls": 0}  # idempotent


def test_scores_retention_removes_whole_calls(store, sample_docs, tmp_path):
    ids, docs, data, owned, outside = _setup(store, sample_docs, tmp_path)
    apply(store, RetentionPolicy(scores_days=365), execute=True, data_dirs=[data])
    with store.session() as s:
        assert sorted(s.scalars(select(Call.id))) == [ids[1]]
        assert s.scalar(select(func.count()).select_from(Review)) == 0  # they went with their call
    assert not owned.exists()


def test_erasure_removes_one_calls_personal_data_and_a_reimport_cannot_restore_it(store, sample_docs, tmp_path):
    from qa.store.calls import import_document

    ids, docs, data, owned, outside = _setup(store, sample_docs, tmp_path)
    done = erase_call(store, ids[0], "request 17", data_dirs=[data])
    assert done["audio"] == "deleted" and not owned.exists()
    with store.session() as s:
        import_document(s, docs[0], str(owned))  # the results folder is imported again
    with store.session() as s:
        c = s.get(Call, ids[0])
        assert c.erased_at and c.source == "erased" and c.audio_path is None
        assert s.scalar(select(func.count()).select_from(TurnRow).where(TurnRow.call_id == c.id)) == 0
        assert c.document["entities"] == [] and c.document["redacted"] is None and c.percent is not None
        quotes = [e["quote"] for it in c.document["evaluation"]["items"] for e in it["evidence"]]
        assert quotes and all(q is None for q in quotes)
        other = s.get(Call, ids[1])
        assert other.search_text and other.erased_at is None  # the others are untouched


def test_erasure_and_retention_forget_the_file_name_in_the_call_the_document_jobs_and_the_audit(
    store, sample_docs, tmp_path
):
    """A recording's file name can name the caller (``2125550123-smith.flac``): it went into the erased call's
    document (``source``) and into the erasure's and retention's audit rows."""
    from qa.store import audit
    from qa.store.calls import import_document
    from qa.store.models import AuditRow, Job

    ids, docs, data, owned, outside = _setup(store, sample_docs, tmp_path)
    source = str(docs[0]["source"])
    assert source
    with store.session() as s:
        s.add(Job(path=str(owned), meta={}, input_sha256="a" * 64, config_hash="c", call_id=ids[0], status="done"))
    erase_call(store, ids[0], "request 17", data_dirs=[data])
    apply(store, RetentionPolicy(audio_days=90, transcripts_days=365), execute=True, data_dirs=[data])
    with store.session() as s:
        import_document(s, docs[0], str(owned))  # a re-import brings no name back either
        import_document(s, docs[2], str(outside))
    names = {Path(source).name, Path(source).stem, owned.name, outside.name, Path(str(docs[2]["source"])).name}
    with store.session() as s:
        for cid in (ids[0], ids[2]):
            c = s.get(Call, cid)
            blob = json.dumps([c.source, c.document, c.audio_path])
            assert not any(n in blob for n in names), (cid, c.source, c.document.get("source"))
        assert s.get(Call, ids[0]).source == "erased" and s.get(Call, ids[2]).source == "removed"
        assert s.scalar(select(Job.path).where(Job.call_id == ids[0])) == "removed"
        rows = [audit.as_dict(r) for r in s.scalars(select(AuditRow))]
    assert {r["action"] for r in rows} >= {"call.erase", "retention.apply"}
    trail = json.dumps(rows, default=str)
    assert not any(n in trail for n in names), trail


def test_the_retention_policy_is_not_pipeline_configuration(tmp_path):
    from qa.config import PipelineConfig
    from qa.errors import ConfigError

    assert "retention" not in PipelineConfig.model_fields  # so it can never enter the config hash
    f = tmp_path / "retention.yaml"
    f.write_text("audio_days: 90\ntranscripts_days: 365\nscores_days: null\n")
    assert load_policy(f) == RetentionPolicy(audio_days=90, transcripts_days=365)
    f.write_text("audio_days: 0\n")
    with pytest.raises(ConfigError, match="audio_days"):
        load_policy(f)
    f.write_text("audio: 3\n")
    with pytest.raises(ConfigError, match="audio"):
        load_policy(f)


def _with_llm_answers(doc: dict, sha: str) -> dict:
    """A call JSON as the LLM stage leaves it: a summary and an ask answer, made from the transcript ``sha``."""
    summary = {"text": "Pothole reported.", "transcript_sha256": sha}
    ask = {"question": "q", "role": "agent", "quote": None, "transcript_sha256": sha}
    return {**doc, "summary": summary, "asks": [ask]}


def test_cached_llm_answers_about_a_call_go_with_its_text(store, store_url, sample_docs, tmp_path):
    """The LLM stage caches its answers on disk by transcript (qa/llm/cache.py): erasure, transcript retention and
    whole-call retention remove them, also those about a transcript an earlier import of the call had (and count
    them in the audit row, with the folder); answers about other calls stay; answers in the old layout (not filed by
    transcript, so never erasable) are dropped."""
    from typer.testing import CliRunner

    from qa.cli import app
    from qa.llm.cache import AnswerCache
    from qa.store.calls import import_document
    from qa.store.models import AuditRow

    shas = [f"{n:064x}" for n in range(1, 6)]
    docs = [
        _with_llm_answers(variant(sample_docs["pothole_report"], 11 + i, "A1", "east", when), shas[i])
        for i, when in enumerate(("2099-01-01T09:00:00", "2020-01-01T09:00:00", "2099-02-01T09:00:00"))
    ]
    ids = load(store, docs)
    with store.session() as s:  # re-processed later with another transcript: its first answers must go too
        import_document(s, _with_llm_answers(docs[2], shas[3]))
    old_layout = tmp_path / "llm" / "answers" / "ab" / f"ab{'0' * 62}.json"
    old_layout.parent.mkdir(parents=True)
    old_layout.write_text("{}")
    answers = AnswerCache(tmp_path / "llm" / "answers")
    assert not old_layout.exists()
    for sha in shas:
        answers.put(sha, "k1", {"quote": "x"})
        answers.put(sha, "k2", {"quote": None})
    assert answers.get(shas[0], "k1") == {"quote": "x"}
    assert (answers.folder / shas[0][:2] / shas[0]).stat().st_mode & 0o077 == 0  # owner-only

    done = erase_call(store, ids[0], "request 17", data_dirs=[tmp_path], answers=answers)
    assert done["llm_answers_removed"] == 2 and answers.get(shas[0], "k1") is None
    apply(store, RetentionPolicy(transcripts_days=365), execute=True, data_dirs=[tmp_path], answers=answers)
    assert answers.get(shas[1], "k1") is None and answers.get(shas[1], "k2") is None  # its transcript was old
    assert answers.get(shas[2], "k1") == {"quote": "x"} and answers.get(shas[4], "k1") == {"quote": "x"}
    with store.session() as s:
        rows = {(r.action, r.object_id): r.details for r in s.scalars(select(AuditRow))}
    assert rows[("call.erase", ids[0])]["llm_answers_removed"] == 2
    assert rows[("call.erase", ids[0])]["llm_cache"] == str(answers.folder)
    assert rows[("retention.apply", ids[1])]["llm_answers_removed"] == 2

    # the command line: `qa erase --llm-cache DIR` (the stage's llm.cache_dir); both of the call's transcripts
    args = ["erase", "--call", ids[2], "--reason", "request 18", "--db", store_url]
    bad = CliRunner().invoke(app, [*args, "--config", str(tmp_path / "missing.yaml")])  # one error, nothing erased
    assert bad.exit_code != 0 and "missing.yaml" in bad.output and "Traceback" not in bad.output
    with store.session() as s:
        assert s.get(Call, ids[2]).erased_at is None and answers.get(shas[2], "k1") == {"quote": "x"}
    res = CliRunner().invoke(app, [*args, "--llm-cache", str(tmp_path / "llm")])
    assert res.exit_code == 0, res.output
    assert "cached LLM answers removed: 4" in res.output
    assert answers.get(shas[2], "k1") is None and answers.get(shas[3], "k1") is None
    assert answers.get(shas[4], "k1") == {"quote": "x"}  # never a call's: untouched
    with pytest.raises(ValueError):
        answers.put("../../etc", "k", {})  # a name from a call's JSON is never a path
