"""How a sweep's children are ranked: one rule for the API, the parent's tags, the views and the CLI.

A child's value is the best finite number it logged for the primary metric
(Azure HyperDrive's rule: the highest when maximizing, the lowest when
minimizing); a child with none ranks last; ties keep the earlier child first.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

import numpy as np

MAXIMIZE, MINIMIZE = "MAXIMIZE", "MINIMIZE"
T = TypeVar("T")


def primary_config(properties: Mapping[str, str]) -> tuple[str, str] | None:
    """(metric name, goal) of a sweep, from its ``primary_metric_config`` property; None for another run."""
    raw = properties.get("primary_metric_config")
    if not raw:
        return None
    cfg = json.loads(raw)
    return cfg["name"], cfg["goal"]


def best_value(values: Any, goal: str) -> float | None:
    """The value a child is ranked by: the best finite number among ``values`` (one value, a list or an array)."""
    if isinstance(values, np.ndarray) and values.dtype.kind in "fiu":
        y = values[np.isfinite(values)] if values.dtype.kind == "f" else values
        if not len(y):
            return None
        return float(y.max() if goal == MAXIMIZE else y.min())
    nums = []
    for v in list(values) if isinstance(values, (list, tuple, np.ndarray)) else [values]:
        if hasattr(v, "item") and not isinstance(v, (str, bytes)):
            v = v.item()  # a numpy scalar
        if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v):
            nums.append(float(v))
    if not nums:
        return None
    return max(nums) if goal == MAXIMIZE else min(nums)


def rank_key(value: float | None, goal: str) -> tuple[bool, float]:
    """Sort key putting the best value first and children without one last."""
    if value is None:
        return (True, 0.0)
    return (False, -value if goal == MAXIMIZE else value)


def is_better(value: float, incumbent: float | None, goal: str) -> bool:
    """Strictly better: a tie keeps the incumbent (the earlier child)."""
    return incumbent is None or (value > incumbent if goal == MAXIMIZE else value < incumbent)


def ranked(items: Iterable[tuple[float | None, T]], goal: str) -> list[tuple[float | None, T]]:
    """``(value, child)`` pairs best first; ``sorted`` is stable, so ties stay in their given order."""
    return sorted(items, key=lambda pair: rank_key(pair[0], goal))
