"""Waiting for a run from a terminal or a notebook: streamed log lines, then a summary."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TextIO

from ..store.base import FAILED, TERMINAL
from ..store.files import DRIVER_LOG

if TYPE_CHECKING:
    from .run import Run

POLL_SECONDS = 0.5


class RunFailedError(RuntimeError):
    """Raised by ``wait_for_completion`` when the run failed; ``.details`` holds its details."""

    def __init__(self, message: str, details: dict) -> None:
        super().__init__(message)
        self.details = details


class LogFollower:
    """Reads a run's log past an offset, whole lines only: from its file where this machine has it,
    else through the store (a run on a cluster's worker sends its log to an MLflow server in pieces)."""

    def __init__(self, run: Run, name: str) -> None:
        self.store, self.run_id, self.name = run._store, run.id, name
        self.path = Path(self.store.file_path(run.id, name))
        self.offset = 0

    def read(self, final: bool = False) -> str:
        if not self.path.is_file():
            for name, text, offset in self.store.read_logs(self.run_id, {(self.run_id, self.name): self.offset}):
                if name == self.name:
                    self.offset = offset
                    return text
            return ""
        with open(self.path, "rb") as f:
            f.seek(self.offset)
            data = f.read()
        end = len(data) if final else data.rfind(b"\n") + 1
        self.offset += end
        return data[:end].decode("utf-8", errors="replace")


class Writer(Protocol):
    """Where log text goes: a terminal, a notebook's stdout, or a filter in front of either."""

    def write(self, text: str, /) -> Any: ...
    def flush(self) -> Any: ...


def follow(run: Run, out: Writer, log_name: str, until_done: bool = True) -> str:
    """Print the log as it grows until the run ends (or once, if not ``until_done``); the final status."""
    follower = LogFollower(run, log_name)
    while True:
        status = run.get_status()
        text = follower.read()
        if text:
            out.write(text)
            out.flush()
        if status in TERMINAL or not until_done:
            tail = follower.read(final=True)
            if tail:
                out.write(tail if tail.endswith("\n") else tail + "\n")
            return status
        time.sleep(POLL_SECONDS)


def wait_for_completion(
    run: Run, show_output: bool = False, raise_on_error: bool = True, out: TextIO | None = None
) -> dict:
    out = out or sys.stdout
    if show_output:
        out.write(f"RunId: {run.id}\nWeb View: {run.get_portal_url()}\n\nStreaming {DRIVER_LOG}\n")
        out.write("=" * 40 + "\n\n")
    try:
        if show_output:
            follow(run, out, DRIVER_LOG)
        else:
            while run.get_status() not in TERMINAL:
                time.sleep(POLL_SECONDS)
    except KeyboardInterrupt:
        status = run.get_status()
        out.write(
            f"\nStopped waiting. Run {run.id} is still {status} and goes on; "
            "run.cancel() stops it, run.wait_for_completion() waits again.\n"
        )
        return run.get_details()
    details = run.get_details()
    if show_output:
        out.write(f"\nExecution Summary\n=================\nRunId: {run.id}\nWeb View: {run.get_portal_url()}\n")
        out.write(f"Status: {details['status']}\n")
        if details.get("error"):
            out.write(f"Error: {details['error'].get('message', '')}\n")
        out.write("\n")
    if raise_on_error and details["status"] == FAILED:
        err = details.get("error") or {}
        raise RunFailedError(f"run {run.id} failed: {err.get('message', 'no error recorded')}", details)
    return details
