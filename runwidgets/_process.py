"""Stopping process groups and turning signals into exits: shared by the supervisor, sweeps and the dashboard."""

from __future__ import annotations

import os
import signal
import subprocess


def stop_group(proc: subprocess.Popen, grace: float) -> None:
    """Terminate ``proc``'s process group, wait ``grace`` seconds, then kill what is left."""
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def exit_on_signal(signum, frame) -> None:
    """A signal handler that exits normally, so ``finally`` blocks and atexit run."""
    raise SystemExit(128 + signum)
