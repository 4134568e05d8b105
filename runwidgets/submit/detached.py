"""What the supervisor and the sweep driver share: each is a process detached from the
notebook that owns one run, keeps its heartbeat, says what it does, and records its own crash."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time

from .._process import exit_on_signal
from ..store.base import FAILED, LIVE, heartbeat_interval
from ..tracking.workspace import Workspace


class DetachedProcess:
    role = "detached"

    def __init__(self, workspace: Workspace, run_id: str) -> None:
        self.ws = workspace
        self.store = workspace.store
        self.run_id = run_id
        self.rec = self.store.get_run(run_id)
        self.stop_beating = threading.Event()

    def say(self, msg: str) -> None:
        print(f"{time.strftime('%H:%M:%S')} {self.role}: {msg}", flush=True)

    def start_beating(self) -> None:
        threading.Thread(target=self._beat, daemon=True).start()

    def _beat(self) -> None:
        failing = False
        while not self.stop_beating.wait(heartbeat_interval()):
            try:
                self.store.heartbeat([self.run_id], time.time())
                failing = False
            except Exception as e:  # a busy store must not kill the run
                if not failing:
                    self.say(f"heartbeat failed, retrying: {e}")
                failing = True

    def note_details(self, **values) -> None:
        """Add to the run's details (pids, exit code) without losing what is there."""
        rec = self.store.get_run(self.run_id)
        self.store.update_run(self.run_id, details=rec.details.with_(**values))

    def crashed(self, error: BaseException) -> None:
        """Record that this process itself failed (not the work it watches)."""
        self.stop_beating.set()
        message = {"code": f"{self.role.capitalize()}Error", "message": f"{type(error).__name__}: {error}"}
        self.store.set_status_if(self.run_id, tuple(LIVE), status=FAILED, ended=time.time(), error=message)

    def run(self) -> int:
        raise NotImplementedError

    @classmethod
    def main(cls, argv: list[str] | None = None) -> int:
        """``python -m <module> WORKSPACE RUN_ID``."""
        argv = sys.argv[1:] if argv is None else argv
        if len(argv) != 2:
            print(f"usage: python -m {cls.__module__} WORKSPACE RUN_ID", file=sys.stderr)
            return 2
        process = cls(Workspace(argv[0], tracking_uri=os.environ.get("RUNWIDGETS_TRACKING_URI")), argv[1])
        # SIGTERM to this process (a machine shutting down): recorded as a crash; its children die with it.
        signal.signal(signal.SIGTERM, exit_on_signal)
        try:
            return process.run()
        except BaseException as e:
            process.crashed(e)
            raise
