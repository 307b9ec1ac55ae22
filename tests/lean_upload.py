"""Run by tests/test_package.py in a fresh interpreter: accept one upload through the API, then list the heavy
modules that got imported (none should: the job identity comes from manifests and versions)."""

import sys
from pathlib import Path

from fastapi.testclient import TestClient

from api.main import Settings, create_app
from qa.store.db import open_store
from qa.store.users import add_user

tmp = Path(sys.argv[1])
store = open_store(f"sqlite:///{tmp / 'qa.db'}")
key = add_user(store, "rita", "reviewer")
app = create_app(store, Settings(data_dir=tmp / "data", worker=False))
with TestClient(app) as c:
    with open(sys.argv[2], "rb") as f:
        r = c.post(
            "/calls",
            headers={"Authorization": f"Bearer {key}"},
            files={"file": ("a.flac", f, "audio/flac")},
            data={"agent_id": "A1", "team": "east"},
        )
    print(r.status_code, r.text[:200])
HEAVY = ("torch", "faster_whisper", "ctranslate2", "sentence_transformers", "spacy", "sklearn", "joblib", "resemblyzer")
heavy = sorted(m for m in (*HEAVY, "pyannote", "tokenizers") if m in sys.modules)
print("HEAVY", heavy)
