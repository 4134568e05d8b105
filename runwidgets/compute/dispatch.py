"""The dispatcher of one run on a cluster: ``python -m runwidgets.compute.dispatch WORKSPACE RUN_ID``.

Detached from the notebook like a local supervisor, it ships the run's snapshot
to the cluster as a task, keeps the run's heartbeat while it waits for a free
worker thread, and watches the worker: a worker that leaves the cluster
mid-run fails the run with the worker named, and a cancel before the run
started withdraws the task. Once a worker runs it, the supervisor there owns
the run (status, logs, cancel); this process only watches for the worker's loss.
"""

from __future__ import annotations

import os
import sys
import time

from ..store.base import CANCEL_REQUESTED, CANCELED, FAILED, LIVE, QUEUED, TERMINAL, env_seconds, heartbeat_timeout
from ..submit.config import snapshot_dir
from ..submit.detached import DetachedProcess
from ..tracking.workspace import Workspace
from .cluster import ComputeTargetException, check_store_reachable, connect, store_file, task_key
from .registry import Registry
from .worker import WorkerJob, pack, run_on_worker

WATCH_SECONDS = 0.5


def settle_seconds() -> float:
    """After the task ends, how long the worker's supervisor has to record the run's end
    ($RUNWIDGETS_DISPATCH_SETTLE_SECONDS); past it, the supervisor is taken for lost."""
    return env_seconds("RUNWIDGETS_DISPATCH_SETTLE_SECONDS", 10.0)


class Dispatcher(DetachedProcess):
    role = "dispatch"

    def __init__(self, workspace: Workspace, run_id: str) -> None:
        super().__init__(workspace, run_id)
        definition = self.rec.details.definition
        if definition is None:
            raise ValueError(f"run {run_id} is not a submitted script: it has no definition to run")
        self.definition = definition
        self.target = definition.target
        record = Registry(workspace.path).get(self.target)
        if record is None or not record.address:
            raise ComputeTargetException(f"the workspace has no cluster {self.target!r} (detached, or never started)")
        self.address = record.address

    def run(self) -> int:
        self.start_beating()  # a run waiting for a free worker is queued, not lost
        self.note_details(dispatcher_pid=os.getpid())
        names = self.definition.environment_variables
        env = {k: os.environ[k] for k in (*names, "RUNWIDGETS_RUN_ID", "MLFLOW_TRACKING_URI", "MLFLOW_RUN_ID")
               if k in os.environ}  # fmt: skip
        job = WorkerJob(
            run_id=self.run_id,
            workspace=str(self.ws.path),
            tracking_uri=self.ws.tracking_uri,
            shared=store_file(self.ws) is not None,
            env=env,
        )
        archive = pack(snapshot_dir(self.ws, self.run_id))
        with connect(self.address) as client:
            try:
                check_store_reachable(client, self.ws)
            except ComputeTargetException as e:
                self.fail("StoreUnreachable", str(e))
                return 0
            from distributed import fire_and_forget

            future = client.submit(run_on_worker, job, archive, key=task_key(self.run_id), pure=False, retries=0)
            fire_and_forget(future)  # the cluster keeps the run even if this process goes
            self.say(f"handed to {self.target} ({self.address}): {len(archive) // 1024} KiB snapshot")
            self.watch(client, future)
        self.stop_beating.set()
        self.store.ship_logs(self.run_id, final=True)  # this process's own log, for a store elsewhere
        return 0

    def watch(self, client, future) -> None:
        worker_seen: str | None = None
        ended_at: float | None = None
        unreachable_since: float | None = None
        while True:
            time.sleep(WATCH_SECONDS)
            try:
                rec = self.store.get_run(self.run_id)
            except Exception:
                continue
            if rec.status in TERMINAL:
                return
            worker = rec.details.worker
            if worker and worker != worker_seen:
                worker_seen = worker
                self.say(f"running on worker {worker} ({rec.details.worker_name})")
            if rec.status == CANCEL_REQUESTED and worker is None:
                client.cancel(future, force=True)
                if self.store.set_status_if(self.run_id, (CANCEL_REQUESTED,), status=CANCELED, ended=time.time()):
                    self.say("canceled before any worker started it")
                    return
            if worker is not None:
                try:
                    workers = client.scheduler_info(n_workers=-1).get("workers", {})
                    unreachable_since = None
                except Exception as e:  # the scheduler is away: give it the heartbeat timeout to come back
                    unreachable_since = unreachable_since or time.time()
                    if time.time() - unreachable_since > heartbeat_timeout():
                        self.fail("ClusterLost", f"the scheduler of {self.target} ({self.address}) is gone: {e}")
                        return
                    continue
                if worker not in workers:
                    name = rec.details.worker_name or worker
                    client.cancel(future, force=True)  # the scheduler would run it again elsewhere
                    self.fail("WorkerLost", f"worker {name} ({worker}) left the cluster while it ran this script")
                    return
            if future.status in ("error", "cancelled", "finished") and ended_at is None:
                ended_at = time.time()
                if future.status == "error" and rec.status in (QUEUED, *LIVE) and worker is None:
                    exc = future.exception()
                    self.fail("ClusterError", f"the cluster could not run the script: {type(exc).__name__}: {exc}")
                    return
            if ended_at is not None and time.time() - ended_at > settle_seconds():
                self.fail(
                    "SupervisorLost", f"the task on {worker or self.target} ended without recording the run's end"
                )
                return

    def fail(self, code: str, message: str) -> None:
        self.say(message)
        self.store.set_status_if(
            self.run_id, (QUEUED, CANCEL_REQUESTED, *LIVE), status=FAILED, ended=time.time(),
            error={"code": code, "message": message},
        )  # fmt: skip

    def crashed(self, error: BaseException) -> None:
        self.stop_beating.set()
        self.fail("DispatchError", f"{type(error).__name__}: {error}")


main = Dispatcher.main


if __name__ == "__main__":
    sys.exit(main())
