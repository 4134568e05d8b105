"""One daemon thread that refreshes every open view.

A thread, not an asyncio task: a task on the kernel's loop is frozen while a
cell runs, and the main use is a training loop running in the next cell. The
thread exists only while some view is polling, so closing every view leaves
the thread count where it was.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import random
import threading
import time
from typing import Protocol

log = logging.getLogger("runwidgets")

DEFAULT_INTERVAL = 10.0  # seconds; each wait is jittered up to +50%: 10 to 15 s
MAX_BACKOFF = 60.0


class Pollable(Protocol):
    def poll(self) -> bool:
        """Refresh once. True while there is more to watch; False when done. May raise."""

    def poll_failed(self, error: BaseException, retry_in: float) -> None: ...


class Poller:
    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._queue: list[tuple[float, int, Pollable]] = []
        self._intervals: dict[int, float] = {}
        self._failures: dict[int, int] = {}
        self._ids = itertools.count()
        self._thread: threading.Thread | None = None
        self._rng = random.Random()

    def add(self, view: Pollable, interval: float | None = None, first_in: float | None = None) -> None:
        with self._cond:
            self._intervals[id(view)] = interval or DEFAULT_INTERVAL
            self._failures[id(view)] = 0
            due = time.monotonic() + (first_in if first_in is not None else self._wait(id(view)))
            heapq.heappush(self._queue, (due, next(self._ids), view))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._loop, name="runwidgets-poller", daemon=True)
                self._thread.start()
            self._cond.notify()

    def remove(self, view: Pollable) -> None:
        with self._cond:
            self._intervals.pop(id(view), None)
            self._failures.pop(id(view), None)
            self._queue = [e for e in self._queue if e[2] is not view]
            heapq.heapify(self._queue)
            self._cond.notify()

    def is_polling(self, view: Pollable) -> bool:
        with self._cond:
            return id(view) in self._intervals

    def _wait(self, key: int) -> float:
        base = self._intervals.get(key, DEFAULT_INTERVAL)
        return base * (1 + 0.5 * self._rng.random())

    def _loop(self) -> None:
        while True:
            with self._cond:
                while True:
                    if not self._queue:
                        self._thread = None
                        return  # nothing to watch: the thread ends
                    due, _, view = self._queue[0]
                    now = time.monotonic()
                    if due <= now:
                        heapq.heappop(self._queue)
                        break
                    self._cond.wait(due - now)
            key = id(view)
            try:
                more = view.poll()
                failed = None
            except Exception as e:  # a store error never reaches the kernel
                more, failed = True, e
            with self._cond:
                if key not in self._intervals:
                    continue  # closed while polling
                if failed is not None:
                    n = self._failures[key] = self._failures[key] + 1
                    delay = min(self._intervals[key] * 2 ** (n - 1), max(MAX_BACKOFF, self._intervals[key]))
                else:
                    self._failures[key] = 0
                    delay = self._wait(key)
                if not more:
                    self._intervals.pop(key, None)
                    self._failures.pop(key, None)
                    continue
                heapq.heappush(self._queue, (time.monotonic() + delay, next(self._ids), view))
            if failed is not None:
                try:
                    view.poll_failed(failed, delay)
                except Exception:
                    log.debug("runwidgets: could not show a poll error", exc_info=True)


POLLER = Poller()
