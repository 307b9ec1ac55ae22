"""The core behind the CLI, the API and the workers: one ``Pipeline.process`` from the input to the evaluation, the
stage registry building only what the configuration uses, re-scoring through the same scorer, and a package without
import circles."""

import ast
from dataclasses import replace
from pathlib import Path

import pytest
from conftest import POTHOLE_VTT as VTT

from qa.config import PipelineConfig
from qa.document import call_document
from qa.pipeline import Pipeline
from qa.scoring.scorer import Scorer
from qa.stages import REGISTRY, build, chosen
from qa.types import Evaluation

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def vtt(tmp_path_factory):
    p = tmp_path_factory.mktemp("core") / "call.vtt"
    p.write_text(VTT)
    return p


@pytest.fixture(scope="module")
def scored(vtt):
    return Pipeline(PipelineConfig(), Scorer.from_file()).process_transcript(vtt)


def test_process_returns_the_typed_evaluation_and_the_document_carries_it(scored):
    ev = scored.evaluation
    assert isinstance(ev, Evaluation) and ev.scorecard_id == "311-standard"
    assert scored.stages["scoring.scorecard"].startswith("311-standard@")
    assert "scoring" in scored.timings_s
    by_id = {it.id: it for it in ev.items}
    assert by_id["greeting"].answer == "yes" and by_id["greeting"].question  # the scorecard's question comes along
    assert ev.rules.pass_percent == 80.0 and set(ev.rules.section_weights) == {s.id for s in ev.sections}
    doc = call_document(scored)
    assert doc["evaluation"]["scorecard"]["id"] == "311-standard"
    assert {"scorecard_id", "scorecard_hash"}.isdisjoint(doc["evaluation"])  # the stored schema, unchanged
    assert doc["evaluation"]["rules"]["section_weights"] == {k: float(v) for k, v in ev.rules.section_weights.items()}


def test_without_a_scorer_the_call_is_not_scored(vtt):
    call = Pipeline(PipelineConfig()).process_transcript(vtt)
    assert call.evaluation is None and "scoring.scorecard" not in call.stages
    assert "evaluation" not in call_document(call)


def test_rescoring_a_stored_document_gives_what_a_fresh_run_gives(vtt, scored):
    bare = call_document(Pipeline(PipelineConfig()).process_transcript(vtt))
    scorer = Scorer.from_file()
    again = scorer.rescore(bare)
    assert "evaluation" not in bare  # the stored document is not changed in place
    fresh = call_document(scored)
    assert again["evaluation"] == fresh["evaluation"] and again["stages"] == fresh["stages"]
    assert scorer.is_current(again) and not scorer.is_current(bare)


def test_a_scorecard_that_does_not_apply_gives_no_evaluation(vtt):
    info = Scorer.from_file(ROOT / "scorecards" / "311-information.yaml")
    call = Pipeline(PipelineConfig(), info).process_transcript(vtt)  # a pothole call is not an information call
    assert call.evaluation is None and "scoring.scorecard" in call.stages
    assert call_document(call)["evaluation"] is None


def test_only_the_stages_the_configuration_uses_are_built_and_hashed():
    default = Pipeline(PipelineConfig())
    names = {st.name for st in default.stages.values()}
    assert "diarize.pyannote" not in names and "diarize.single" not in names
    assert "diarize.pyannote" not in default.stage_versions()
    mono = PipelineConfig().diarize.mono_backend
    assert default.slots["speakers.one_channel"] == f"diarize.{mono}.v1"
    assert default.slots["speakers.two_channel"] == "diarize.channels.v1"
    # a pyannote upgrade changes only the identity of pipelines that use pyannote
    py = PipelineConfig().with_overrides({"diarize.mono_backend": "pyannote"})
    assert "diarize.pyannote" in Pipeline(py).stage_versions()
    single = PipelineConfig().with_overrides({"diarize.backend": "single"})
    s = Pipeline(single)
    assert s.stages["speakers.one_channel"] is s.stages["speakers.two_channel"]  # one slot, one instance
    off = PipelineConfig().with_overrides({"nlp.enabled": False})
    assert not {"request_type", "emergency", "sentiment"} & set(chosen(off))


def test_every_registered_stage_has_the_one_shape():
    cfg = PipelineConfig().with_overrides({"diarize.pyannote_pipeline": "/nonexistent"})
    for key, factory in REGISTRY.items():
        st = factory(cfg)
        assert key.startswith(st.name + ".v"), key
        assert callable(st.load) and callable(st)
        if key != "diarize.pyannote.v1":  # its version is fixed; building it checks nothing until load()
            assert isinstance(st.version, str) and st.version
    with pytest.raises(Exception, match="unknown stage"):
        build(cfg, {"asr": "asr.nope.v1"})


def test_a_configured_pipeline_can_change_scorer_without_rebuilding_its_stages(vtt):
    base = Pipeline(PipelineConfig())
    scored = base.with_scorer(Scorer.from_file())
    assert scored.stages is base.stages and base.scorer is None


def _imports(path: Path, package: str) -> set[str]:
    """The qa.* modules a module imports at load time (not inside functions, not under TYPE_CHECKING)."""
    tree = ast.parse(path.read_text())
    out: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            continue
        for n in ast.walk(node) if not isinstance(node, (ast.FunctionDef, ast.ClassDef)) else ():
            if isinstance(n, ast.ImportFrom) and n.module and n.level == 0 and n.module.split(".")[0] == package:
                out.add(n.module)
            elif isinstance(n, ast.Import):
                out.update(a.name for a in n.names if a.name.split(".")[0] == package)
    return out


def test_no_import_circles_in_the_core():
    modules = {
        ".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__"): p
        for p in (ROOT / "qa").rglob("*.py")
        if "migrations" not in p.parts
    }
    graph = {m: {i for i in _imports(p, "qa") if i in modules and i != m} for m, p in modules.items()}
    # a package's __init__ importing its own submodules is not a circle in practice; everything else is
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(m: str, stack: list[str]) -> None:
        state[m] = 1
        for n in sorted(graph[m]):
            if state.get(n) == 1:
                cycles.append([*stack[stack.index(n) :], n] if n in stack else [m, n])
            elif n not in state:
                visit(n, [*stack, n])
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m, [m])
    assert not cycles, cycles


def test_replace_keeps_an_analysis_typed(scored):
    assert replace(scored, evaluation=None).evaluation is None


def test_the_call_and_evaluation_responses_are_typed_all_the_way_down(tmp_path):
    """No free-form object (``dict[str, Any]``) anywhere under the call and evaluation responses in the OpenAPI."""
    from api.main import Settings, create_app
    from qa.store import open_store

    store = open_store(f"sqlite:///{tmp_path / 'qa.db'}")
    app = create_app(store, Settings(data_dir=tmp_path / "data", worker=False))
    schemas = app.openapi()["components"]["schemas"]
    seen: set[str] = set()
    loose: list[str] = []

    def walk(node, where):
        if isinstance(node, dict):
            if "$ref" in node:
                name = node["$ref"].rsplit("/", 1)[-1]
                if name not in seen:
                    seen.add(name)
                    walk(schemas[name], name)
                return
            if node.get("type") == "object" and "properties" not in node:
                extra = node.get("additionalProperties")
                if extra in (None, True, {}):
                    loose.append(where)
            if node == {} or node.get("additionalProperties") is True:
                loose.append(where)
            for k, v in node.items():
                walk(v, f"{where}.{k}")
        elif isinstance(node, list):
            for i, v in enumerate(node):
                walk(v, f"{where}[{i}]")

    for root in ("CallDetail", "EvaluationOut"):
        walk({"$ref": f"#/components/schemas/{root}"}, root)
    assert {"Metrics", "Sentiment", "Entity", "Emergency", "Prediction", "ItemOut", "EvidenceOut"} <= seen
    assert not loose, loose


def test_per_object_values_are_made_once_per_live_object_and_key():
    from qa.objcache import PerObject

    made = []
    cache: PerObject[int] = PerObject(limit=2)
    a, b = [1], [1]  # equal, unhashable, distinct objects

    def make(obj):
        made.append(obj)
        return len(made)

    assert cache.get(a, lambda: make(a)) == cache.get(a, lambda: make(a)) == 1  # once for a
    assert cache.get(b, lambda: make(b)) == 2  # equal but another object: its own value
    assert cache.get(a, lambda: make(a), key="es") == 3  # what it depends on changed: made again
    cache.get([2], lambda: 0)  # over the limit: cleared, then kept
    assert cache.get(a, lambda: make(a), key="es") == 4 and len(made) == 4
