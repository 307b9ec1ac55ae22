"""The job queue as the API shows it: one job's status, and the overview (counts, throughput, ETA, failures).

A supervisor with a team sees that team's jobs only (another team's job is "no job N", like a missing one). Server
paths (in ``path`` and inside error messages) are shown to admins only; everyone else gets the file name.
"""

from __future__ import annotations

from pathlib import PurePath
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException

from api.deps import RowId, StoreDep, require
from api.permissions import Principal, sees_server_paths
from api.schemas import JobOut
from qa.runner import queue

router = APIRouter(tags=["jobs"])


def _team(user: Principal) -> str | None:
    return user.team if user.limited_to_team else None


def hide_path(path: str, text: str | None) -> str | None:
    """``text`` with the server path (and its folder) replaced by the file name."""
    if text is None:
        return None
    p = PurePath(path)
    return text.replace(str(p), p.name).replace(str(p.parent), "...")


def job_out(job: dict[str, Any], user: Principal) -> dict[str, Any]:
    path = job["path"]
    out = {**job, "file": PurePath(path).name}
    if not sees_server_paths(user):
        out["path"] = None
        out["error"] = hide_path(path, job.get("error"))
    return out


@router.get("/jobs/{job_id}", response_model=JobOut, summary="A job's status (and its call id when done)")
def get_job(job_id: RowId, store: StoreDep, user: Annotated[Principal, Depends(require("jobs:read"))]) -> dict:
    st = queue.job_status(store, job_id, team=_team(user))
    if st is None:
        raise HTTPException(404, f"no job {job_id}")
    return job_out(st, user)


@router.get("/jobs", summary="Queue overview: counts by status, failures with reasons, throughput, ETA")
def list_jobs(store: StoreDep, user: Annotated[Principal, Depends(require("jobs:read"))]) -> dict:
    st = queue.stats(store, team=_team(user))
    failures = []
    for f in st["failures"]:
        shown = {**f, "file": PurePath(f["path"]).name}
        if not sees_server_paths(user):
            shown["error"] = hide_path(f["path"], f["error"])
            del shown["path"]
        failures.append(shown)
    return {**st, "failures": failures}
