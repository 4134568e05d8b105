"""Compute targets in Azure ML v1's shape, on Dask clusters.

    from runwidgets.compute import ComputeTarget, DaskCompute
    config = DaskCompute.attach_configuration(address="tcp://10.0.0.5:8786")
    cluster = ComputeTarget.attach(ws, "cpu-cluster", config)
    ScriptRunConfig(src, "train.py", compute_target="cpu-cluster")

``ComputeTarget.create(ws, name, DaskCompute.provisioning_configuration(...))``
starts a Dask ``LocalCluster`` on this machine in a process of its own (it
outlives the notebook) until ``delete()``.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .._process import alive
from .cluster import ClusterInfo, ComputeTargetException, check_store_reachable, cluster_info, connect
from .registry import DASK, LOCAL, Registry, TargetRecord, check_name

if TYPE_CHECKING:
    from ..tracking.workspace import Workspace

START_SECONDS = 120.0  # for a provisioned cluster to come up


@dataclass(frozen=True)
class DaskAttachConfiguration:
    address: str


@dataclass(frozen=True)
class DaskProvisioningConfiguration:
    n_workers: int = 2
    threads_per_worker: int = 1
    memory_limit: str = "auto"


@dataclass(frozen=True)
class ComputeStatus:
    """What ``get_status()`` says: Azure's ``provisioning_state`` and the cluster's size now."""

    provisioning_state: str  # "Succeeded", "Creating", "Failed", "Unreachable"
    workers: int = 0
    threads: int = 0
    error: str | None = None


class ComputeTarget:
    """A place runs execute: ``local`` (this machine) or a Dask cluster the workspace knows by name.

    ``ComputeTarget(ws, name)`` looks one up (:class:`ComputeTargetException` if there is none).
    """

    type = "local"

    def __new__(cls, workspace: Workspace | None = None, name: str | None = None) -> Any:
        if cls is ComputeTarget and workspace is not None and name is not None:
            return _lookup(workspace, name)
        return super().__new__(cls)

    def __init__(self, workspace: Workspace | None = None, name: str | None = None) -> None:
        if not hasattr(self, "workspace"):
            self.workspace, self.name = workspace, name or LOCAL

    @staticmethod
    def attach(workspace: Workspace, name: str, attach_configuration: DaskAttachConfiguration) -> DaskCompute:
        """Attach the running Dask cluster at the configuration's address under ``name``."""
        if not isinstance(attach_configuration, DaskAttachConfiguration):
            raise TypeError("attach_configuration must come from DaskCompute.attach_configuration(address=...)")
        check_name(name)
        address = _check_address(attach_configuration.address)
        with connect(address) as client:
            check_store_reachable(client, workspace)
        record = Registry(workspace.path).add(TargetRecord(name=name, address=address))
        return DaskCompute._of(workspace, record)

    @staticmethod
    def create(
        workspace: Workspace, name: str, provisioning_configuration: DaskProvisioningConfiguration
    ) -> DaskCompute:
        """Start a Dask ``LocalCluster`` on this machine as ``name``; ``wait_for_completion()`` waits for it."""
        if not isinstance(provisioning_configuration, DaskProvisioningConfiguration):
            raise TypeError("provisioning_configuration must come from DaskCompute.provisioning_configuration()")
        check_name(name)
        cfg = provisioning_configuration
        for what, v in (("n_workers", cfg.n_workers), ("threads_per_worker", cfg.threads_per_worker)):
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise ValueError(f"{what} must be a whole number >= 1, got {v!r}")
        registry = Registry(workspace.path)
        record = registry.add(
            TargetRecord(name=name, provisioned=True, host=socket.gethostname(), n_workers=cfg.n_workers,
                         threads_per_worker=cfg.threads_per_worker, memory_limit=cfg.memory_limit)
        )  # fmt: skip
        log = workspace.path / "compute" / f"{name}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        with open(log, "ab") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "runwidgets.compute.local_cluster", str(workspace.path), name],
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
                env={**os.environ, **workspace._env()},
            )  # fmt: skip
        from ..submit.config import _REAPER

        _REAPER.watch(proc)
        record = registry.update(name, pid=proc.pid)
        return DaskCompute._of(workspace, record)

    @property
    def compute_type(self) -> str:
        return self.type

    def get_status(self) -> ComputeStatus:
        return ComputeStatus("Succeeded")

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


class LocalCompute(ComputeTarget):
    """This machine: every run is a local process (the default target)."""

    type = "local"


class DaskCompute(ComputeTarget):
    """A Dask distributed cluster: runs execute on its workers, one worker thread each."""

    type = DASK

    @classmethod
    def _of(cls, workspace: Workspace, record: TargetRecord) -> DaskCompute:
        self = object.__new__(cls)
        self.workspace, self.name, self._record = workspace, record.name, record
        return self

    @staticmethod
    def attach_configuration(address: str) -> DaskAttachConfiguration:
        return DaskAttachConfiguration(address=_check_address(address))

    @staticmethod
    def provisioning_configuration(
        n_workers: int = 2, threads_per_worker: int = 1, memory_limit: str = "auto"
    ) -> DaskProvisioningConfiguration:
        return DaskProvisioningConfiguration(n_workers, threads_per_worker, memory_limit)

    @property
    def record(self) -> TargetRecord:
        rec = Registry(self.workspace.path).get(self.name)  # type: ignore[union-attr]
        if rec is None:
            raise ComputeTargetException(f"compute target {self.name!r} was detached")
        self._record = rec
        return rec

    @property
    def address(self) -> str:
        return self.record.address

    @property
    def provisioned(self) -> bool:
        return self.record.provisioned

    def info(self, timeout: float = 5.0) -> ClusterInfo:
        """The cluster's workers now: address, threads, memory, CPU, and the runs each executes."""
        address = self.wait_for_completion()
        return cluster_info(address, timeout)

    def get_status(self) -> ComputeStatus:
        rec = self.record
        if rec.error:
            return ComputeStatus("Failed", error=rec.error)
        if not rec.address:
            state = "Creating" if alive(rec.pid) else "Failed"
            return ComputeStatus(state, error=None if state == "Creating" else "the cluster's process exited")
        try:
            info = cluster_info(rec.address, timeout=5)
        except ComputeTargetException as e:
            return ComputeStatus("Unreachable", error=str(e))
        return ComputeStatus("Succeeded", workers=len(info.workers), threads=info.threads)

    def wait_for_completion(self, show_output: bool = False, timeout: float = START_SECONDS) -> str:
        """Wait until a provisioned cluster answers; its scheduler's address."""
        deadline = time.time() + timeout
        while True:
            rec = self.record
            if rec.error:
                raise ComputeTargetException(f"cluster {self.name!r} failed to start: {rec.error}")
            if rec.address:
                if show_output:
                    print(f"{self.name}: Succeeded at {rec.address}")
                return rec.address
            if rec.provisioned and not alive(rec.pid):
                raise ComputeTargetException(f"cluster {self.name!r} exited while starting; see its log")
            if time.time() > deadline:
                raise ComputeTargetException(f"cluster {self.name!r} did not start within {timeout:.0f} s")
            time.sleep(0.2)

    def threads(self) -> int:
        return self.info().threads

    def detach(self) -> None:
        """Forget an attached cluster (it keeps running). A cluster created here is removed with ``delete()``."""
        if self.record.provisioned:
            raise ComputeTargetException(f"{self.name!r} was created by runwidgets: delete() stops and removes it")
        self._refuse_if_busy("detach")
        Registry(self.workspace.path).remove(self.name)  # type: ignore[union-attr]

    def delete(self) -> None:
        """Stop a cluster created with ``ComputeTarget.create`` and remove it from the workspace."""
        rec = self.record
        if not rec.provisioned:
            raise ComputeTargetException(f"{self.name!r} is an attached cluster: detach() removes it")
        self._refuse_if_busy("delete")
        if rec.pid and rec.host == socket.gethostname() and alive(rec.pid):
            os.kill(rec.pid, signal.SIGTERM)
            deadline = time.time() + 30
            while alive(rec.pid) and time.time() < deadline:
                time.sleep(0.1)
            if alive(rec.pid):
                os.kill(rec.pid, signal.SIGKILL)
        Registry(self.workspace.path).remove(self.name)  # type: ignore[union-attr]

    def _refuse_if_busy(self, what: str) -> None:
        live = live_runs(self.workspace).get(self.name, [])  # type: ignore[arg-type]
        if live:
            ids = ", ".join(r.run_id for r in live[:5])
            raise ComputeTargetException(
                f"cannot {what} {self.name!r}: {len(live)} run(s) are queued or running on it ({ids}); cancel"
                " them or wait for them first"
            )


def live_runs(workspace: Workspace) -> dict[str, list]:
    """The workspace's queued and running runs by target name, oldest first (one query per live status)."""
    from ..store.base import LIVE, QUEUED

    out: dict[str, list] = {}
    for status in (QUEUED, *sorted(LIVE)):  # by status: never every run of a big workspace
        for rec in workspace.store.find_runs(status=status):
            d = rec.details.definition
            if d is not None and not rec.is_lost():
                out.setdefault(d.target, []).append(rec)
    return {t: sorted(recs, key=lambda r: r.created) for t, recs in out.items()}


def targets_of(workspace: Workspace) -> dict[str, ComputeTarget]:
    """``ws.compute_targets``: ``local`` and every cluster the workspace knows."""
    out: dict[str, ComputeTarget] = {LOCAL: LocalCompute(workspace, LOCAL)}
    for name, rec in Registry(workspace.path).all().items():
        out[name] = DaskCompute._of(workspace, rec)
    return out


def _lookup(workspace: Workspace, name: str) -> ComputeTarget:
    if name == LOCAL:
        return LocalCompute(workspace, LOCAL)
    rec = Registry(workspace.path).get(name)
    if rec is None:
        known = ", ".join(sorted(targets_of(workspace)))
        raise ComputeTargetException(f"the workspace has no compute target {name!r} (it has: {known})")
    return DaskCompute._of(workspace, rec)


def resolve(workspace: Workspace, target: Any) -> str:
    """The name of a run's target (a name or a target object), checked against the workspace."""
    if target is None:
        return LOCAL
    name = getattr(target, "name", target)
    if not isinstance(name, str):
        raise TypeError(f"compute_target must be a target's name or a ComputeTarget, got {type(target).__name__}")
    try:
        _lookup(workspace, name)
    except ComputeTargetException as e:
        raise ComputeTargetException(f"compute_target={name!r}: {e}; attach one with ComputeTarget.attach") from None
    return name


def _check_address(address: Any) -> str:
    if not isinstance(address, str) or "://" not in address:
        raise ValueError(f"address must be a Dask scheduler's address like 'tcp://10.0.0.5:8786', got {address!r}")
    return address
