"""Early-termination policies, with Azure HyperDrive's semantics.

An *interval* is one report of the primary metric by a child (its n-th
logged value is interval n). A policy is applied at every multiple of
``evaluation_interval`` that is at least ``delay_evaluation``. A child's
value at interval n is the best it reported up to n; NaN (or a missing value)
counts as the worst value there is. Minimizing mirrors maximizing.

- Bandit: stop a child whose value is outside the slack of the best child's
  value at that interval: below ``best / (1 + slack_factor)`` or
  ``best - slack_amount`` when maximizing (above ``best * (1 + slack_factor)``
  or ``best + slack_amount`` when minimizing).
- Median stopping: stop a child whose value is worse than the median of the
  running averages (of the values up to that interval) of every child that
  reached it.
- Truncation selection: stop a child in the worst ``truncation_percentage``
  percent of the children that reached that interval (finished ones left out
  with ``exclude_finished_jobs``).

Each decision says which policy stopped the run, at which interval, its value
and the cutoff, so that the run's record can say why it ended.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..ranking import MAXIMIZE


@dataclass(frozen=True)
class Stop:
    """Why a child is stopped: recorded as its error (code ``EarlyTermination``)."""

    policy: str
    interval: int
    value: float
    cutoff: float
    metric: str = ""

    def message(self) -> str:
        return (
            f"{self.policy} stopped the run at interval {self.interval}: {self.metric or 'the primary metric'}"
            f" {_fmt(self.value)} is worse than the cutoff {_fmt(self.cutoff)}"
        )

    def error(self) -> dict[str, Any]:
        return {
            "code": "EarlyTermination",
            "message": self.message(),
            "policy": self.policy,
            "interval": self.interval,
            "value": self.value,
            "cutoff": self.cutoff,
        }


class EarlyTerminationPolicy:
    name = "EarlyTerminationPolicy"

    def __init__(self, evaluation_interval: int = 1, delay_evaluation: int = 0) -> None:
        for label, v, low in (
            ("evaluation_interval", evaluation_interval, 1),
            ("delay_evaluation", delay_evaluation, 0),
        ):
            if not isinstance(v, int) or isinstance(v, bool) or v < low:
                raise ValueError(f"{self.name}: {label} must be a whole number >= {low}, got {v!r}")
        self.evaluation_interval = evaluation_interval
        self.delay_evaluation = delay_evaluation

    def due(self, interval: int) -> bool:
        return interval >= max(1, self.delay_evaluation) and interval % self.evaluation_interval == 0

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, **{k: v for k, v in vars(self).items() if not k.startswith("_")}}

    def evaluate(
        self, curves: Mapping[str, Sequence[float]], running: set[str], goal: str, done: dict[str, int],
        finished: set[str] = frozenset(),  # type: ignore[assignment]
    ) -> dict[str, Stop]:  # fmt: skip
        """Children of ``running`` to stop now. ``curves`` holds every child's primary metric so far;
        ``done`` the last interval already evaluated per child (updated here)."""
        out: dict[str, Stop] = {}
        for rid in running:
            n = len(curves.get(rid, ()))
            intervals = [i for i in range(done.get(rid, 0) + 1, n + 1) if self.due(i)]
            latest = next((i for i in range(n, 0, -1) if self.due(i)), None)
            if latest is not None and latest not in intervals:
                # looked at again: other children may have reached it since (a child that waits reports nothing new)
                intervals.append(latest)
            done[rid] = max(done.get(rid, 0), n)
            for interval in intervals:
                stop = self._decide(rid, interval, curves, goal, finished)
                if stop is not None:
                    out[rid] = stop
                    break
        return out

    def _decide(self, rid, interval, curves, goal, finished) -> Stop | None:
        return None

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.to_dict().items() if k != "name")
        return f"{self.name}({args})"


class NoTerminationPolicy(EarlyTerminationPolicy):
    """Every child runs to its end."""

    name = "NoTerminationPolicy"

    def __init__(self) -> None:
        super().__init__()


class BanditPolicy(EarlyTerminationPolicy):
    """Stop children outside the slack of the best child at an interval."""

    name = "BanditPolicy"

    def __init__(
        self,
        evaluation_interval: int = 1,
        slack_factor: float | None = None,
        slack_amount: float | None = None,
        delay_evaluation: int = 0,
    ) -> None:
        super().__init__(evaluation_interval, delay_evaluation)
        if (slack_factor is None) == (slack_amount is None):
            raise ValueError("BanditPolicy needs exactly one of slack_factor= or slack_amount=")
        for label, v in (("slack_factor", slack_factor), ("slack_amount", slack_amount)):
            if v is not None and not (isinstance(v, (int, float)) and math.isfinite(v) and v >= 0):
                raise ValueError(f"BanditPolicy: {label} must be a number >= 0, got {v!r}")
        self.slack_factor = slack_factor
        self.slack_amount = slack_amount

    def _decide(self, rid, interval, curves, goal, finished):
        values = {r: best_up_to(c, interval, goal) for r, c in curves.items() if len(c) >= interval}
        finite = [v for v in values.values() if math.isfinite(v)]
        if not finite:
            return None
        top = max(finite) if goal == MAXIMIZE else min(finite)
        if self.slack_amount is not None:
            cutoff = top - self.slack_amount if goal == MAXIMIZE else top + self.slack_amount
        else:
            cutoff = top / (1 + self.slack_factor) if goal == MAXIMIZE else top * (1 + self.slack_factor)
        value = values[rid]
        if worse(value, cutoff, goal):
            return Stop(self.name, interval, value, cutoff)
        return None


class MedianStoppingPolicy(EarlyTerminationPolicy):
    """Stop children whose best is worse than the median of every child's running average."""

    name = "MedianStoppingPolicy"

    def __init__(self, evaluation_interval: int = 1, delay_evaluation: int = 5) -> None:
        super().__init__(evaluation_interval, delay_evaluation)

    def _decide(self, rid, interval, curves, goal, finished):
        averages = [running_average(c, interval, goal) for c in curves.values() if len(c) >= interval]
        if len(averages) < 2:
            return None
        cutoff = median(averages)
        value = best_up_to(curves[rid], interval, goal)
        if worse(value, cutoff, goal):
            return Stop(self.name, interval, value, cutoff)
        return None


class TruncationSelectionPolicy(EarlyTerminationPolicy):
    """Stop the worst ``truncation_percentage`` percent of the children at an interval."""

    name = "TruncationSelectionPolicy"

    def __init__(
        self,
        truncation_percentage: int,
        evaluation_interval: int = 1,
        delay_evaluation: int = 0,
        exclude_finished_jobs: bool = False,
    ) -> None:
        super().__init__(evaluation_interval, delay_evaluation)
        if not isinstance(truncation_percentage, (int, float)) or not 1 <= truncation_percentage <= 99:
            raise ValueError(
                f"TruncationSelectionPolicy: truncation_percentage must be 1 to 99, got {truncation_percentage!r}"
            )
        self.truncation_percentage = truncation_percentage
        self.exclude_finished_jobs = bool(exclude_finished_jobs)

    def _decide(self, rid, interval, curves, goal, finished):
        values = {
            r: best_up_to(c, interval, goal)
            for r, c in curves.items()
            if len(c) >= interval and not (self.exclude_finished_jobs and r in finished and r != rid)
        }
        cut = int(len(values) * self.truncation_percentage / 100)
        if cut < 1:
            return None
        order = sorted(values, key=lambda r: _score(values[r], goal))  # worst first; ties keep order
        if rid not in order[:cut]:
            return None
        kept = [values[r] for r in order[cut:]]
        cutoff = (min(kept) if goal == MAXIMIZE else max(kept)) if kept else values[rid]
        return Stop(self.name, interval, values[rid], cutoff)


POLICIES = {c.name: c for c in (NoTerminationPolicy, BanditPolicy, MedianStoppingPolicy, TruncationSelectionPolicy)}


def from_dict(data: Mapping[str, Any] | None) -> EarlyTerminationPolicy | None:
    """The policy a sweep recorded (``to_dict()``), or None."""
    if not data:
        return None
    args = dict(data)
    cls = POLICIES[args.pop("name")]
    if cls is NoTerminationPolicy:
        return cls()
    return cls(**args)


# -- values -----------------------------------------------------------------------------------------
def _score(v: float, goal: str) -> float:
    """Higher is better, whatever the goal; NaN is the worst."""
    if not math.isfinite(v) and not math.isinf(v):
        return -math.inf
    return v if goal == MAXIMIZE else -v


def worse(value: float, cutoff: float, goal: str) -> bool:
    return _score(value, goal) < _score(cutoff, goal)


def best_up_to(curve: Sequence[float], interval: int, goal: str) -> float:
    """The best value among the first ``interval`` reports; NaN if none is a number."""
    finite = [v for v in curve[:interval] if isinstance(v, (int, float)) and not math.isnan(v)]
    if not finite:
        return math.nan
    return max(finite) if goal == MAXIMIZE else min(finite)


def running_average(curve: Sequence[float], interval: int, goal: str) -> float:
    """The mean of the first ``interval`` reports, NaN counted as the worst value (so the mean is the worst)."""
    values = [float(v) for v in curve[:interval]]
    if any(math.isnan(v) for v in values):
        return -math.inf if goal == MAXIMIZE else math.inf
    return sum(values) / len(values)


def median(values: list[float]) -> float:
    s = sorted(values)
    mid = len(s) // 2
    return s[mid] if len(s) % 2 else (s[mid - 1] + s[mid]) / 2


def _fmt(v: float) -> str:
    return "NaN" if isinstance(v, float) and math.isnan(v) else f"{v:.6g}"
