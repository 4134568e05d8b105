"""Points logged but not yet stored: one deque per series, drained by the flush thread.

``run.log()`` appends to a deque (atomic under the GIL, no lock). The flush
thread swaps each deque for an empty one, writes what it took in batches, and
on failure puts the points back in front, in order, for the next try. A value
the store cannot encode is dropped alone and said once; nothing else is lost.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections import deque
from collections.abc import Callable
from datetime import datetime
from itertools import islice
from operator import itemgetter
from typing import Any

from ..store.base import SCALAR, PointBatch, SeriesKey

log = logging.getLogger("runwidgets")
FLUSH_CHUNK = 250_000  # points per transaction: short transactions keep writers fair
# What a store raises for a value it cannot encode: such points are dropped alone, never retried.
# Anything else (a full disk, a server down) keeps every point buffered for the next try.
UNWRITABLE = (ValueError, TypeError, OverflowError, UnicodeError)
_COLUMNS = (itemgetter(0), itemgetter(1), itemgetter(2))  # value, step, wall of a queued point

# A queue's key: a scalar metric's name (a str: the fast path looks it up by name), else (kind, name, column).
QueueKey = Any


class PointBuffer:
    """The buffered points of one run. ``queues`` is read by ``Run.log``'s fast path directly."""

    def __init__(self, run_id: str, write: Callable[[list[PointBatch]], None], note: Callable[[str], None]) -> None:
        self.run_id = run_id
        self.queues: dict[QueueKey, deque] = {}
        self.retired: list[tuple[QueueKey, deque, int]] = []  # see take()
        self.dropped: dict[str, int] = {}  # metric -> points the store could not encode
        self.error: str | None = None  # the flush thread's last failure, said once by the flusher
        self._write_batches = write
        self._note = note  # writes a line into the run's own log
        self._keys: dict[QueueKey, SeriesKey] = {}
        self._lock = threading.Lock()

    def queue(self, key: QueueKey) -> deque:
        q = self.queues.get(key)
        if q is None:  # setdefault is atomic: two threads starting one metric share one deque
            q = self.queues.setdefault(key, deque())
        return q

    def take(self) -> list[tuple[QueueKey, list]]:
        """Every buffered point, per series, oldest first; the deques are swapped, not popped.

        A logger that fetched a deque just before the swap may still append to
        it. A swapped-out deque is therefore kept, and drained of such late
        points first, until nothing but this method refers to it any more.
        """
        taken: dict[QueueKey, list] = {}
        retired, self.retired = self.retired, []
        for key, old, seen in retired:
            n = len(old)
            if n > seen:
                taken.setdefault(key, []).extend(islice(old, seen, n))
            # references: the tuple in `retired`, the loop variable, getrefcount's argument
            if sys.getrefcount(old) > 3:
                self.retired.append((key, old, n))
        for key in list(self.queues):
            q = self.queues[key]
            if q:
                self.queues[key] = deque()
                points = list(q)
                self.retired.append((key, q, len(points)))
                taken.setdefault(key, []).extend(points)
        return list(taken.items())

    def flush(self) -> None:
        with self._lock:
            units = [
                (key, points[i : i + FLUSH_CHUNK])
                for key, points in self.take()
                for i in range(0, len(points), FLUSH_CHUNK)
            ]
            done = 0
            try:
                while done < len(units):
                    batch, size = [], 0
                    for key, part in units[done:]:
                        batch.append((key, part))
                        size += len(part)
                        if size >= FLUSH_CHUNK:
                            break
                    try:
                        self._write(batch)
                    except UNWRITABLE:
                        for key, part in batch:
                            self._write_or_drop(key, part)
                    done += len(batch)
            except BaseException:
                for key, part in reversed(units[done:]):  # back in front, in order, for the next try
                    self.queue(key).extendleft(reversed(part))
                raise

    def _key(self, key: QueueKey) -> SeriesKey:
        typed = self._keys.get(key)
        if typed is None:
            kind, name, column = (SCALAR, key, None) if type(key) is str else key
            typed = self._keys[key] = SeriesKey(self.run_id, name, kind, column)
        return typed

    def _write(self, batch: list[tuple[QueueKey, list]]) -> None:
        self._write_batches(
            [PointBatch(self._key(key), *(list(map(col, part)) for col in _COLUMNS)) for key, part in batch]
        )

    def _write_or_drop(self, key: QueueKey, part: list) -> None:
        """Write what the store can encode, halving around what it cannot; drop only those points."""
        try:
            self._write([(key, part)])
        except UNWRITABLE as e:
            if len(part) == 1:
                self._drop(key, e)
            else:
                half = len(part) // 2
                self._write_or_drop(key, part[:half])
                self._write_or_drop(key, part[half:])

    def _drop(self, key: QueueKey, error: BaseException) -> None:
        name = self._key(key).name
        first = name not in self.dropped
        self.dropped[name] = self.dropped.get(name, 0) + 1
        if not first:
            return
        msg = (
            f"runwidgets: run {self.run_id}: a point of metric {name!r} could not be stored and was dropped"
            f" ({type(error).__name__}: {error}). Other points and metrics are kept; further drops of"
            " this metric are counted, not logged again"
        )
        log.warning(msg)
        try:
            self._note(f"{datetime.now().isoformat(timespec='seconds')} WARNING {msg}\n")
        except Exception:  # the run's log is a courtesy; the Python log has it
            pass
