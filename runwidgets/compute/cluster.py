"""What runwidgets asks a Dask cluster: its workers and what they run, and whether they can reach the store.

Every call opens a short-lived ``distributed.Client`` and closes it, so a
notebook that only looked at a cluster keeps no connection or thread to it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from distributed import Client

    from ..tracking.workspace import Workspace

KEY_PREFIX = "runwidgets-"  # a run's task on the cluster is "runwidgets-<run id>"
CONNECT_SECONDS = 10


class ComputeTargetException(ValueError):
    """A compute target that cannot be attached, created, found or used (Azure's name; a ValueError,
    since each is a bad name, address or configuration)."""


def task_key(run_id: str) -> str:
    return KEY_PREFIX + run_id


def run_of(key: Any) -> str | None:
    return key[len(KEY_PREFIX) :] if isinstance(key, str) and key.startswith(KEY_PREFIX) else None


@contextmanager
def connect(address: str, timeout: float = CONNECT_SECONDS) -> Iterator[Client]:
    """A client of the scheduler at ``address``, closed on leaving; a clear error when it does not answer."""
    from distributed import Client

    try:
        client = Client(address, timeout=timeout, set_as_default=False)
    except (OSError, TimeoutError) as e:
        raise ComputeTargetException(f"no Dask scheduler answers at {address} ({type(e).__name__}: {e})") from None
    try:
        yield client
    finally:
        client.close()


@dataclass(frozen=True)
class WorkerInfo:
    """One worker as the scheduler sees it, and the runs it executes now."""

    address: str
    name: str
    threads: int
    memory_limit: int  # bytes; 0 where unlimited
    memory: int  # bytes in use by the worker process
    cpu: float  # percent of one core
    runs: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ClusterInfo:
    address: str
    workers: list[WorkerInfo]

    @property
    def threads(self) -> int:
        return sum(w.threads for w in self.workers)


def cluster_info(address: str, timeout: float = CONNECT_SECONDS) -> ClusterInfo:
    with connect(address, timeout) as client:
        return info_of(client)


def info_of(client: Client) -> ClusterInfo:
    info = client.scheduler_info(n_workers=-1)
    processing = client.processing()
    workers = []
    for addr, w in sorted(info.get("workers", {}).items()):
        metrics = w.get("metrics") or {}
        runs = [r for r in (run_of(k) for k in processing.get(addr, ())) if r]
        workers.append(
            WorkerInfo(
                address=addr,
                name=str(w.get("name", addr)),
                threads=int(w.get("nthreads", 0)),
                memory_limit=int(w.get("memory_limit") or 0),
                memory=int(metrics.get("memory", 0)),
                cpu=float(metrics.get("cpu", 0.0)),
                runs=runs,
            )
        )
    return ClusterInfo(address=str(info.get("address", "")), workers=workers)


def _inode(path: str) -> int | None:  # runs on each worker
    try:
        return os.stat(path).st_ino
    except OSError:
        return None


def local_inode(path: str) -> int | None:
    """The store file's identity as this machine sees it (tests stand in another host's answer here)."""
    return _inode(path)


def store_file(ws: Workspace) -> Path | None:
    """The file a worker must see to reach ``ws``'s store; None when a server is reached over HTTP."""
    uri = ws.tracking_uri
    if not uri:
        return ws.path / "runwidgets.db"
    if uri.startswith(("http://", "https://")):
        return None
    for prefix in ("sqlite:///", "file://"):
        if uri.startswith(prefix):
            return Path("/" + uri[len(prefix) :].lstrip("/"))
    return Path(uri)


def check_store_reachable(client: Client, ws: Workspace) -> None:
    """Refuse a cluster whose workers cannot reach the workspace's store.

    A workspace folder (or an MLflow ``sqlite:``/``file:`` store) must be the very
    same file on every worker: the same host, or a shared filesystem. Anything
    else needs an MLflow tracking server, which workers reach over HTTP.
    """
    path = store_file(ws)
    if path is None:
        return
    ws.store  # noqa: B018 - a new workspace's database exists before the workers look for it
    here = local_inode(str(path))
    seen = client.run(_inode, str(path))
    blind = sorted(w for w, ino in seen.items() if here is None or ino != here)
    if blind:
        raise ComputeTargetException(
            f"worker(s) {', '.join(blind)} cannot see this workspace's store at {path}. Runs on a cluster need a"
            " store every worker reaches: the workspace on a shared filesystem (or the same host), or an MLflow"
            " tracking server: Workspace(path, tracking_uri='http://mlflow-host:5000')"
        )
