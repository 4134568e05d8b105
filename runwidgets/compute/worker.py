"""The task a Dask worker runs for one submitted run: unpack the shipped snapshot into the worker's own
folder and run the run's supervisor there, as it runs on this machine for a local run.

The task holds one of the worker's threads for as long as the run lasts, so a
cluster never runs more scripts at once than it has worker threads. The
supervisor gets SIGKILL if the worker dies, and its script with it.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import tarfile
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class WorkerJob:
    """What a worker needs to run one run: where its store is, and the script's environment variables."""

    run_id: str
    workspace: str  # the submitter's workspace folder: used as it is when the store is a file every worker sees
    tracking_uri: str | None = None
    shared: bool = True  # False: the store is a server; the worker stages logs in a folder of its own
    env: dict[str, str] = field(default_factory=dict)  # values travel in memory, never into the store


def pack(folder: Path) -> bytes:
    """A snapshot folder as a gzipped tar, to ship with the task."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        tar.add(str(folder), arcname=".")
    return buf.getvalue()


def unpack(archive: bytes, dest: Path) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
        tar.extractall(dest, filter="data")  # no absolute paths, no links out of dest


def run_on_worker(job: WorkerJob, archive: bytes) -> int:
    """The body of the run's task: returns the supervisor's exit code."""
    from distributed import get_worker

    from .._process import die_with_parent
    from ..store.files import SUPERVISOR_LOG
    from ..tracking.workspace import Workspace

    worker = get_worker()
    base = Path(worker.local_directory) / "runwidgets" / job.run_id
    snapshot = base / "snapshot"
    unpack(archive, snapshot)
    ws_path = Path(job.workspace) if job.shared else base / "workspace"
    ws = Workspace(ws_path, tracking_uri=job.tracking_uri)
    env = {
        **os.environ,
        **job.env,
        "RUNWIDGETS_WORKSPACE": str(ws_path),
        "RUNWIDGETS_SNAPSHOT_DIR": str(snapshot),
        "RUNWIDGETS_WORKER": worker.address,
        "RUNWIDGETS_WORKER_NAME": str(worker.name),
    }
    if job.tracking_uri:
        env["RUNWIDGETS_TRACKING_URI"] = job.tracking_uri
    with open(ws.store.log_path(job.run_id, SUPERVISOR_LOG), "ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "runwidgets.submit.supervisor", str(ws_path), job.run_id],
            cwd=base,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=die_with_parent,  # this thread waits for it: a dead worker takes the run down with it
        )
    try:
        return proc.wait()
    finally:  # outputs and logs are in the store by now: a long-lived worker keeps no copy of each run
        shutil.rmtree(base, ignore_errors=True)
