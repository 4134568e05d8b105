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

from ..store.base import HEARTBEAT_INTERVAL

if TYPE_CHECKING:
    from .run import Run

log = logging.getLogger("runwidgets")


def flush_interval() -> float:
    try:
        return max(0.05, float(os.environ.get("RUNWIDGETS_FLUSH_INTERVAL", "1.0")))
    except ValueError:
        return 1.0


class Flusher:
    def __init__(self) -> None:
        self.interval = flush_interval()
        self._runs: weakref.WeakSet[Run] = weakref.WeakSet()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._pid = os.getpid()
        self._last_beat = 0.0
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
            self._wake.wait(self.interval)
            self._wake.clear()
            self.flush_all()

    def flush_all(self) -> None:
        with self._lock:
            runs = list(self._runs)
        for run in runs:
            try:
                run._flush()
            except Exception:  # keep the thread alive; the points stay buffered for the next try
                log.exception("runwidgets: could not write %s's metrics; will retry", run.id)
        now = time.time()
        if now - self._last_beat >= HEARTBEAT_INTERVAL:
            self._last_beat = now
            by_store: dict = {}
            for run in runs:
                if run._beats:
                    by_store.setdefault(run._store, []).append(run.id)
            for store, ids in by_store.items():
                try:
                    store.heartbeat(ids, now)
                except Exception:
                    log.warning("runwidgets: heartbeat failed; will retry", exc_info=True)

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
