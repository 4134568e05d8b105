"""What a view knows about a run: records and series, grown from the store's deltas."""

from __future__ import annotations

import numpy as np

from .. import ranking
from ..store.base import LIVE, SCALAR, TERMINAL, Delta, RunRecord, SeriesKey, heartbeat_timeout


class Series:
    """One series' points in arrays that grow by doubling (appends stay O(1) amortised)."""

    def __init__(self, key: SeriesKey, description: str = "") -> None:
        self.key = key
        self.description = description
        self.n = 0
        self._x = np.empty(64)
        self._y = np.empty(64)
        self._obj: list | None = None  # values when some are not numbers
        self.last = None
        self.total: int | None = None  # points in the whole series, when a store sent a sample

    def extend(self, x: np.ndarray, values: np.ndarray) -> None:
        k = len(values)
        if not k:
            return
        if self.n == 0 and values.dtype != object and k > len(self._x):
            # a first read of a long series: keep its arrays rather than copy them into ours
            self._x = np.asarray(x, dtype=np.float64)
            self._y = values.astype(np.float64, copy=False)
            self.n = k
            self.last = values[-1].item()
            return
        if self.n + k > len(self._x) or not self._x.flags.writeable or not self._y.flags.writeable:
            size = max(2 * len(self._x), self.n + k)
            self._x = np.resize(self._x, size)
            self._y = np.resize(self._y, size)
        self._x[self.n : self.n + k] = x
        if values.dtype == object:
            if self._obj is None:
                self._obj = self._y[: self.n].tolist()
            self._obj += values.tolist()
            numeric = [
                v if isinstance(v, (int, float)) and not isinstance(v, bool) else np.nan for v in values.tolist()
            ]
            self._y[self.n : self.n + k] = numeric
        else:
            self._y[self.n : self.n + k] = values.astype(np.float64)
            if self._obj is not None:
                self._obj += values.tolist()
        self.n += k
        self.last = values[-1].item() if hasattr(values[-1], "item") else values[-1]

    @property
    def x(self) -> np.ndarray:
        return self._x[: self.n]

    @property
    def y(self) -> np.ndarray:
        return self._y[: self.n]

    @property
    def numeric(self) -> bool:
        """True when every value is a number (bools count): it can be charted."""
        if self._obj is None:
            return True
        return all(isinstance(v, (int, float)) for v in self._obj)


class RunState:
    """Records of the watched run and its children, and every series, accumulated from deltas."""

    def __init__(self, run_id: str) -> None:
        self.run_id = run_id
        self.records: dict[str, RunRecord] = {}
        self.series: dict[SeriesKey, Series] = {}
        self._live: set[str] = set()  # runs recorded as live: the only ones that can turn lost
        self._lost: set[str] = set()  # live runs whose writer stopped beating, as last shown
        # run id -> metric name -> its series (a table: one per column), kept as deltas arrive so a
        # poll never scans the series of a thousand children to find the run's own
        self._groups: dict[str, dict[str, list[Series]]] = {}

    def apply(self, delta: Delta) -> tuple[set[str], set[SeriesKey]]:
        """Fold a delta in; return the run ids and series keys that changed.

        A run counts as changed when its record changed, or when what a person
        sees of it did: a heartbeat that brings a run back from lost, or the
        lack of one that makes it lost (checked on every call, delta or not).
        """
        self.records.update(delta.runs)
        runs = set(delta.runs)
        for run_id, rec in delta.runs.items():
            (self._live.add if rec.status in LIVE else self._live.discard)(run_id)
        for run_id, beat in delta.beats.items():
            beating = self.records.get(run_id)
            if beating is not None:
                beating.heartbeat = beat
        if self._live or self._lost:
            timeout = heartbeat_timeout()
            for run_id in self._live | self._lost:
                rec = self.records[run_id]
                lost = rec.status in LIVE and rec.is_lost(timeout=timeout)
                if lost != (run_id in self._lost):
                    (self._lost.add if lost else self._lost.discard)(run_id)
                    runs.add(run_id)
        changed = set()
        for ch in delta.series:
            old = self.series.get(ch.key)
            if old is None or ch.replace:
                s = self.series[ch.key] = Series(ch.key, ch.description)
                s.total = ch.total
                group = self._groups.setdefault(ch.key.run_id, {}).setdefault(ch.key.name, [])
                if old is None:
                    group.append(s)
                else:
                    group[group.index(old)] = s
            else:
                s = old
            x = (
                ch.x()
                if ch.key.kind == SCALAR
                else np.arange(ch.first_index, ch.first_index + len(ch), dtype=np.float64)
            )
            s.extend(x, ch.values)
            changed.add(ch.key)
        return runs, changed

    @property
    def record(self) -> RunRecord:
        return self.records[self.run_id]

    def children(self) -> list[RunRecord]:
        return sorted(
            (r for r in self.records.values() if r.parent_id == self.run_id), key=lambda r: (r.created, r.run_id)
        )

    def finished(self) -> bool:
        """The run and every child have a recorded end. A run shown as lost has none: its writer may
        only be stalled (a busy disk, a suspended laptop) and beat again, so it is still watched."""
        return all(
            r.status in TERMINAL for r in self.records.values() if r.run_id == self.run_id or r.parent_id == self.run_id
        )

    def metrics_of(self, run_id: str) -> dict[str, list[Series]]:
        """Series of one run grouped by metric name, in order of first appearance (read-only)."""
        return self._groups.get(run_id, {})

    def best_value(self, run_id: str, name: str, goal: str) -> float | None:
        """The value a child is ranked by (see ``runwidgets.ranking``)."""
        s = self.series.get(SeriesKey(run_id, name, SCALAR))
        if s is None or not s.n:
            return None
        if s.n == 1:  # a sweep child's usual one value: no array work
            v = float(s._y[0])
            return v if np.isfinite(v) else None
        return ranking.best_value(s.y, goal)
