"""The installable package: a wheel built from this checkout carries every package, the trained models, the
scorecards and the migrations, and `qa process` works from it in another folder (nothing found relative to the
source tree)."""

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from conftest import POTHOLE_VTT as VTT

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    out = tmp_path_factory.mktemp("wheel")
    build = tmp_path_factory.mktemp("build")
    env = {**os.environ, "TMPDIR": str(build)}
    cmd = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out), str(ROOT)]
    subprocess.run(cmd, check=True, env=env, capture_output=True, timeout=600)
    (whl,) = out.glob("callqa-*.whl")
    return whl


@pytest.mark.slow
def test_the_wheel_carries_every_package_and_the_data(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for init in [*ROOT.glob("qa/**/__init__.py"), *ROOT.glob("api/**/__init__.py")]:
        rel = init.relative_to(ROOT).as_posix()
        assert rel in names, f"{rel} is not in the wheel: add its package to [tool.setuptools] packages"
    for needed in (
        "callqa_models/request_type/model.joblib",
        "callqa_models/request_type/taxonomy.yaml",
        "callqa_models/emergency/model.joblib",
        "callqa_models/caller_state/model.joblib",
        "callqa_models/encoder/static.npz",
        "callqa_scorecards/311-standard.yaml",
        "qa/store/migrations/env.py",
        "api/console/templates/call.html",
        "api/console/static/call.js",
    ):
        assert needed in names, needed


@pytest.mark.slow
def test_qa_process_runs_from_the_installed_wheel_in_another_folder(wheel, tmp_path):
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    work = tmp_path / "elsewhere"
    work.mkdir()
    (work / "call.vtt").write_text(VTT)
    # The wheel's folder comes first on sys.path, so it wins over this checkout's editable install.
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); import qa, callqa_models; "
        "assert qa.__file__.startswith(sys.argv[1]) and callqa_models.__file__.startswith(sys.argv[1]), qa.__file__; "
        "from qa.cli import main; sys.argv = ['qa', 'process', 'call.vtt', '--out', 'out', '--no-progress']; main()"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    r = subprocess.run(
        [sys.executable, "-c", code, str(site)], cwd=work, env=env, capture_output=True, text=True, timeout=600
    )
    assert r.returncode == 0, r.stderr[-2000:]
    import json

    doc = json.loads((work / "out" / "call.json").read_text())
    assert doc["request_type"]["label"] == "pothole"
    assert doc["evaluation"]["scorecard"]["id"] == "311-standard"
    items = {it["id"]: it["answer"] for it in doc["evaluation"]["items"]}
    assert items["greeting"] == "yes" and items["sr_number_given"] == "yes"


def test_accepting_an_upload_loads_no_model(tmp_path):
    """The web process computes a job's identity from stage versions read off the manifests: a fresh interpreter
    that serves one upload has imported no model library."""
    script = Path(__file__).with_name("lean_upload.py")
    sample = ROOT / "samples" / "pothole_report.flac"
    r = subprocess.run(
        [sys.executable, str(script), str(tmp_path), str(sample)], capture_output=True, text=True, timeout=300
    )
    assert r.returncode == 0, r.stderr[-2000:]
    status, heavy = r.stdout.splitlines()[0], r.stdout.splitlines()[-1]
    assert status.startswith("202 ") and heavy == "HEAVY []", r.stdout


BASE_ONLY = """
import sys
# the libraries of the store, server, exports and ray extras: "not installed" (import fails, find_spec says None)
for name in ("sqlalchemy", "alembic", "psycopg", "fastapi", "fastapi_offline", "uvicorn", "python_multipart",
             "starlette", "openpyxl", "matplotlib", "ray"):
    sys.modules[name] = None
from qa.cli import main
sys.argv = ["qa", *sys.argv[1:]]
main()
"""


@pytest.mark.slow
def test_the_base_install_processes_a_call_without_the_extras(tmp_path):
    """`pip install callqa` (no store, server, exports or ray extra) runs `qa process` and `qa score`; a command that
    needs an extra names it instead of a traceback."""
    (tmp_path / "call.vtt").write_text(VTT)
    (tmp_path / "base.py").write_text(BASE_ONLY)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}

    def qa(*args):
        return subprocess.run(
            [sys.executable, "base.py", *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600
        )

    r = qa("process", "call.vtt", "--out", "out", "--no-progress", "--format", "json,vtt,srt,rttm")
    assert r.returncode == 0, r.stderr[-2000:]
    import json

    doc = json.loads((tmp_path / "out" / "call.json").read_text())
    assert doc["evaluation"]["scorecard"]["id"] == "311-standard" and doc["request_type"]["label"] == "pothole"
    assert qa("score", "out").returncode == 0
    r = qa("serve")
    assert r.returncode == 2 and "needs the 'server' extra: pip install 'callqa[server]'" in r.stderr
    r = qa("import", "out")
    assert r.returncode == 2 and "'store' extra" in r.stderr and "Traceback" not in r.stderr
