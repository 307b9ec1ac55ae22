"""App factory for multi-process serving (``qa serve --workers N``): settings come from the environment."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path


def app():
    from api.main import Settings, create_app
    from qa.store import open_store
    from qa.store.lifecycle import Policy

    store = open_store(os.environ.get("CALLQA_DB", "sqlite:///qa.db"))
    settings = Settings(
        data_dir=Path(os.environ.get("CALLQA_DATA_DIR", "callqa-data")),
        max_upload_bytes=int(os.environ.get("CALLQA_MAX_UPLOAD_MB", "200")) * 2**20,
        worker=False,  # with several HTTP processes, run `qa worker` beside them
        review_sample=int(os.environ.get("CALLQA_REVIEW_SAMPLE", "2")),
        db_busy_timeout_s=float(os.environ.get("CALLQA_DB_BUSY_TIMEOUT_S", "2")),
        lifecycle=Policy(
            dt.timedelta(days=int(os.environ.get("CALLQA_DISPUTE_WINDOW_DAYS", "14"))),
            int(os.environ.get("CALLQA_MAX_DISPUTES", "1")),
        ),
    )
    return create_app(store, settings)
