"""The one daemon thread per process that moves buffered points into the store.

``run.log()`` only appends to the run's deque (atomic under the GIL, no lock).
This thread drains every run's deque each interval, writes the points in one
transaction per run, refreshes the heartbeat of live runs this process owns,
and at interpreter exit flushes everything and closes runs left open.
"""

from __future__ import annotations

import atexit
import logging
import os
import sys
import threading
import time
import weakref
from typing import TYPE_CHECKING

from ..store.base import env_seconds, heartbeat_interval

if TYPE_CHECKING:
    from .run import Run

log = logging.getLogger("runwidgets")


def flush_interval() -> float:
    """Seconds between flushes ($RUNWIDGETS_FLUSH_INTERVAL)."""
    return env_seconds("RUNWIDGETS_FLUSH_INTERVAL", 1.0)


class Flusher:
    def __init__(self) -> None:
        self.interval = flush_interval()
        self._runs: weakref.WeakSet[Run] = weakref.WeakSet()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._pid = os.getpid()
        self._last_beat = 0.0
        self._last_flush = 0.0
        self._beat_error: str | None = None
        self.uncaught: BaseException | None = None

    def register(self, run: Run) -> None:
        with self._lock:
            self._runs.add(run)
            if self._thread is None or not self._thread.is_alive() or self._pid != os.getpid():
                # after fork() the parent's thread does not exist here: start our own
                self._pid = os.getpid()
                self._thread = threading.Thread(target=self._loop, name="runwidgets-flush", daemon=True)
                self._thread.start()

    def wake(self) -> None:
        """Flush now rather than at the next interval (a metric's first point: it shows at once)."""
        self._wake.set()

    def _loop(self) -> None:
        while True:
            # a long flush interval must not starve the heartbeat: readers would call the run lost
            woken = self._wake.wait(min(self.interval, heartbeat_interval()))
            self._wake.clear()
            # a wake (a metric's first point) always flushes; a round made for the heartbeat alone does not
            self.flush_all(beat_only=not woken and time.time() - self._last_flush < self.interval)

    def flush_all(self, beat_only: bool = False) -> None:
        with self._lock:
            runs = list(self._runs)
        if not beat_only:
            self._last_flush = time.time()
            for run in runs:
                self._flush_one(run)
        now = time.time()
        if now - self._last_beat >= heartbeat_interval() * 0.9:
            self._last_beat = now
            self._beat([run for run in runs if run._beats], now)

    def _flush_one(self, run: Run) -> None:
        """Flush a run; a failure is said once (and its end once), not every second."""
        buffer = run._buffer
        try:
            buffer.flush()
        except Exception as e:  # keep the thread alive; the points stay buffered for the next try
            said = f"{type(e).__name__}: {e}"
            if buffer.error != said:
                buffer.error = said
                log.warning(
                    "runwidgets: could not write run %s's metrics (%s); they stay buffered and are retried",
                    run.id,
                    said,
                )
        else:
            if buffer.error is not None:
                buffer.error = None
                log.warning("runwidgets: run %s's metrics are being written again; nothing was lost", run.id)

    def _beat(self, runs: list[Run], now: float) -> None:
        by_store: dict = {}
        for run in runs:
            by_store.setdefault(run._store, []).append(run.id)
        for store, ids in by_store.items():
            try:
                store.heartbeat(ids, now)
            except Exception as e:
                said = f"{type(e).__name__}: {e}"
                if self._beat_error != said:
                    self._beat_error = said
                    log.warning("runwidgets: heartbeat failed (%s); will retry", said)
            else:
                self._beat_error = None

    def at_exit(self) -> None:
        """Flush every run; complete (or fail, after an uncaught exception) runs left open."""
        if self._pid != os.getpid():
            return
        self.flush_all()
        with self._lock:
            runs = list(self._runs)
        for run in runs:
            if run._closes_at_exit and not run._closed:
                try:
                    if self.uncaught is not None:
                        run.fail(self.uncaught)
                    else:
                        run.complete()
                except Exception:
                    log.exception("runwidgets: could not close run %s at exit", run.id)


FLUSHER = Flusher()
atexit.register(FLUSHER.at_exit)

_previous_hook = sys.excepthook


def _remember_uncaught(tp, value, tb):
    FLUSHER.uncaught = value
    _previous_hook(tp, value, tb)


sys.excepthook = _remember_uncaught
