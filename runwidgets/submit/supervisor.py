"""The supervisor of one submitted run: ``python -m runwidgets.submit.supervisor WORKSPACE RUN_ID``.

It runs in its own session (so a kernel restart leaves it alone), starts the
script in its own process group in the run's snapshot folder, tees the
script's output into ``azureml-logs/70_driver_log.txt`` line by line, keeps the run's
heartbeat, obeys cancel and ``max_run_duration_seconds``, collects
``outputs/``, and records the final status and error from the exit code.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections import deque
from pathlib import Path

from .._process import die_with_parent, stop_group
from ..store.base import (
    CANCEL_REQUESTED,
    CANCELED,
    COMPLETED,
    FAILED,
    LIVE,
    NOT_STARTED,
    QUEUED,
    RUNNING,
    STARTING,
    env_seconds,
)
from ..store.files import BUILD_LOG, DRIVER_LOG
from ..tracking.system_metrics import SystemMonitor
from ..tracking.workspace import Workspace
from . import venvs
from .config import on_this_machine, snapshot_dir
from .detached import DetachedProcess

GRACE_SECONDS = 3.0  # between SIGTERM and SIGKILL on cancel


def log_ship_seconds() -> float:
    """How often a live run's new log lines are sent to a remote store ($RUNWIDGETS_LOG_SHIP_SECONDS)."""
    return env_seconds("RUNWIDGETS_LOG_SHIP_SECONDS", 5.0)


WATCH_INTERVAL = 0.25
_ERROR_LINE = re.compile(r"^([A-Za-z_][\w.]*(?:Error|Exception|Exit|Interrupt|Warning)|[A-Za-z_][\w.]*)(?::\s?(.*))?$")


def error_from_output(tail: list[str], exit_code: int) -> dict:
    """The exception type, message and traceback tail of a failed Python script, from its output."""
    start = max(
        (i for i, line in enumerate(tail) if line.startswith("Traceback (most recent call last)")), default=None
    )
    if start is None:
        last = next((line for line in reversed(tail) if line.strip()), "")
        return {"code": "NonZeroExit", "message": f"exited with code {exit_code}" + (f": {last}" if last else "")}
    tb = tail[start:]
    code, message = "ScriptError", ""
    for line in reversed(tb):
        m = _ERROR_LINE.match(line.strip())
        if m and not line.startswith(" "):
            code, message = m.group(1).rsplit(".", 1)[-1], (m.group(2) or "")
            break
    return {
        "code": code,
        "message": f"{code}: {message}" if message else code,
        "traceback": "\n".join(tb)[-8000:],
        "exit_code": exit_code,
    }


class Supervisor(DetachedProcess):
    role = "supervisor"

    def __init__(self, workspace: Workspace, run_id: str) -> None:
        super().__init__(workspace, run_id)
        if self.rec.details.definition is None:
            raise ValueError(f"run {run_id} is not a submitted script: it has no definition to run")
        self.definition = self.rec.details.definition
        self.tail: deque[str] = deque(maxlen=400)

    def run(self) -> int:
        if not self.store.set_status_if(self.run_id, ("Queued", "NotStarted"), status=STARTING, heartbeat=time.time()):
            self.say(f"run is {self.store.get_run(self.run_id).status}; not starting it")
            self.store.set_status_if(self.run_id, (CANCEL_REQUESTED,), status=CANCELED, ended=time.time())
            return 0
        self.start_beating()
        remote = os.environ.get("RUNWIDGETS_WORKER")  # set by a cluster's worker task (runwidgets.compute.worker)
        self.note_details(
            supervisor_pid=os.getpid(), host=socket.gethostname(), worker=remote,
            worker_name=os.environ.get("RUNWIDGETS_WORKER_NAME") if remote else None,
        )  # fmt: skip
        # on a worker the snapshot was shipped into the worker's own folder
        workdir = Path(os.environ.get("RUNWIDGETS_SNAPSHOT_DIR") or snapshot_dir(self.ws, self.run_id))
        if remote:
            self.definition = on_this_machine(self.definition)
        argv = self.definition.argv
        if not self.prepare_environment():
            return 0
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "RUNWIDGETS_SUBMITTED": "1"}
        for private in ("RUNWIDGETS_WORKER", "RUNWIDGETS_WORKER_NAME", "RUNWIDGETS_SNAPSHOT_DIR"):
            env.pop(private, None)
        if self.definition.python:  # a command's "python" is the run's environment's
            env["PATH"] = os.pathsep.join([os.path.dirname(self.definition.python), env.get("PATH", "")])
        log_path = self.store.log_path(self.run_id, DRIVER_LOG)
        self.say(f"starting {argv} in {workdir}")
        try:
            proc = subprocess.Popen(
                argv,
                cwd=workdir,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group, so cancel reaches its children too
                preexec_fn=die_with_parent,
            )
        except OSError as e:
            self.finish(FAILED, {"code": "StartFailed", "message": f"could not start {argv[0]}: {e}"})
            return 1
        now = time.time()
        self.store.update_run(self.run_id, status=RUNNING, started=now)
        self.note_details(pid=proc.pid)
        monitor = SystemMonitor(self.store, self.run_id, proc.pid).start()  # its first sample at once
        tee = threading.Thread(target=self.tee, args=(proc, log_path), daemon=True)
        tee.start()

        verdict = self.watch(proc, now)
        tee.join(timeout=5)
        monitor.stop()
        code = proc.returncode
        self.say(f"script exited with code {code}")
        self.collect_outputs(workdir)
        if verdict is not None:
            status, error = verdict
        elif code == 0:
            status, error = COMPLETED, None
        else:
            status, error = FAILED, error_from_output(list(self.tail), code)
        self.finish(status, error, exit_code=code)
        return 0

    def prepare_environment(self) -> bool:
        """Build (or reuse) the run's environment; False when the run ended instead (failed or canceled)."""
        spec = self.definition.environment
        if spec is None or spec.user_managed:
            return True
        self.say(f"preparing environment {spec.name!r}")
        with open(self.store.log_path(self.run_id, BUILD_LOG), "a", encoding="utf-8") as log:
            try:
                venvs.ensure(spec, log, canceled=self.cancel_requested)
            except venvs.BuildCanceled as e:
                self.say(str(e))
                self.finish(CANCELED, None)
                return False
            except (venvs.BuildFailed, OSError) as e:
                log.write(f"{e}\n")
                self.finish(FAILED, {"code": "EnvironmentBuildFailed", "message": f"environment {spec.name!r}: {e}"})
                return False
        return True

    def cancel_requested(self) -> bool:
        try:
            return self.store.get_run(self.run_id).status == CANCEL_REQUESTED
        except Exception:
            return False

    def watch(self, proc: subprocess.Popen, started: float) -> tuple[str, dict | None] | None:
        """Wait for the script; on a cancel request or time limit, stop its process group."""
        limit = self.definition.max_run_duration_seconds
        shipped = time.time()
        while proc.poll() is None:
            time.sleep(WATCH_INTERVAL)
            if time.time() - shipped > log_ship_seconds():
                shipped = time.time()
                self.ship_logs()
            try:
                status = self.store.get_run(self.run_id).status
            except Exception:
                continue
            if status == CANCEL_REQUESTED:
                self.say("cancel requested: stopping the script")
                self.stop(proc)
                return CANCELED, None
            if limit and time.time() - started > limit:
                self.say(f"max_run_duration_seconds={limit} reached: stopping the script")
                self.stop(proc)
                return CANCELED, {
                    "code": "MaxRunDurationExceeded",
                    "message": f"the run took longer than max_run_duration_seconds={limit} and was stopped",
                }
        return None

    def ship_logs(self) -> None:
        """Make the logs' new lines readable where the store is (a no-op for a local workspace)."""
        try:
            self.store.ship_logs(self.run_id)
        except Exception as e:  # a store that is away for a while: the next round sends it
            self.say(f"could not send the logs yet: {e}")

    def stop(self, proc: subprocess.Popen) -> None:
        stop_group(proc, GRACE_SECONDS)

    def tee(self, proc: subprocess.Popen, log_path: str) -> None:
        assert proc.stdout is not None  # started with stdout=PIPE
        with open(log_path, "ab", buffering=0) as log:
            for line in iter(proc.stdout.readline, b""):
                log.write(line)
                self.tail.append(line.decode("utf-8", errors="replace").rstrip("\n"))
        proc.stdout.close()

    def collect_outputs(self, workdir: Path) -> None:
        outputs = workdir / "outputs"
        if not outputs.is_dir():
            return
        n = 0
        for p in sorted(outputs.rglob("*")):
            if p.is_file():
                self.store.put_file(self.run_id, f"outputs/{p.relative_to(outputs).as_posix()}", str(p))
                n += 1
        self.say(f"collected {n} file(s) from outputs/")

    def finish(self, status: str, error: dict | None, exit_code: int | None = None) -> None:
        self.stop_beating.set()
        fields = {"status": status, "ended": time.time()}
        if error is not None:
            fields["error"] = error
        if exit_code is not None:
            self.note_details(exit_code=exit_code)
        if status == FAILED and error is not None:
            # the script's own verdict (run.complete() before a crash) does not outrank its exit code
            self.store.set_status_if(self.run_id, (*LIVE, COMPLETED), **fields)
        elif not self.store.set_status_if(self.run_id, tuple(LIVE), **fields):
            fields.pop("status")
            self.store.update_run(self.run_id, **{k: v for k, v in fields.items() if k == "ended"})
        self.end_orphans(status)
        self.say(f"run is {self.store.get_run(self.run_id).status}")

    def end_orphans(self, status: str) -> None:
        """Children the script was logging and never ended (it was canceled, or died mid-way): their writer
        is gone, so they end with the run rather than linger as Running until they read as lost."""
        try:
            kids = self.store.find_runs(parent_id=self.run_id)
        except Exception:
            return
        for kid in kids:
            if kid.details.supervised or kid.status not in (*LIVE, NOT_STARTED, QUEUED):
                continue  # a submitted child has its own supervisor
            ended = CANCELED if status == CANCELED else FAILED
            error = {"code": "ParentEnded", "message": f"the script logging this run ended ({status}) before it did"}
            if self.store.set_status_if(kid.run_id, (*LIVE, NOT_STARTED, QUEUED), status=ended, ended=time.time(),
                                        error=error):  # fmt: skip
                self.say(f"child {kid.run_id} ended as {ended}: the script logging it is gone")

    def crashed(self, error: BaseException) -> None:
        self.finish(FAILED, {"code": "SupervisorError", "message": f"{type(error).__name__}: {error}"})


main = Supervisor.main


if __name__ == "__main__":
    sys.exit(main())
