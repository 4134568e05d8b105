"""Deterministic min/max downsampling for display.

A series longer than the budget is cut into buckets of a power-of-two width,
aligned to the series' start; each bucket keeps the points holding its
smallest and largest finite value, in their original order. The global
minimum and maximum always survive, a spike never disappears, and the same
input always gives the same output.

Because buckets are aligned and their width changes only when the series
doubles, a growing series changes only in its last bucket: a chart sends the
new tail of its line, not the whole line (see ``charts.py``).
"""

from __future__ import annotations

import numpy as np

MAX_POINTS = 2000


def bucket_width(n: int, max_points: int = MAX_POINTS) -> int:
    """Points per bucket for a series of ``n``: 1 when it fits, else the smallest power of two that does."""
    if n <= max_points:
        return 1
    buckets = max(1, max_points // 2)
    k = 2
    while -(-n // k) > buckets:
        k *= 2
    return k


def _extremes(block: np.ndarray, all_finite: bool) -> tuple[np.ndarray, np.ndarray]:
    """Per row of ``block``, the column of its smallest and of its largest finite value."""
    if all_finite:  # the usual case: no masked copies of a long series
        return block.argmin(axis=1), block.argmax(axis=1)
    finite = np.isfinite(block)
    return np.where(finite, block, np.inf).argmin(axis=1), np.where(finite, block, -np.inf).argmax(axis=1)


def minmax_indices(y: np.ndarray, max_points: int = MAX_POINTS) -> np.ndarray:
    """Indices (sorted) of at most ``max_points`` points of ``y`` that keep each bucket's min and max."""
    n = len(y)
    k = bucket_width(n, max_points)
    if k == 1:
        return np.arange(n)
    full = n // k
    all_finite = bool(np.isfinite(y).all())
    imin, imax = _extremes(y[: full * k].reshape(full, k), all_finite)  # a view: no copy
    base = np.arange(full) * k
    imin, imax = imin + base, imax + base
    if full * k < n:  # the last bucket, not yet full
        tmin, tmax = _extremes(y[full * k :].reshape(1, -1), all_finite)
        imin = np.append(imin, tmin + full * k)
        imax = np.append(imax, tmax + full * k)
    # Buckets are in order, so each bucket's (earlier, later) pick already sorts the whole result;
    # an all-non-finite bucket, or one whose min and max are the same point, gives one index.
    first, second = np.minimum(imin, imax), np.maximum(imin, imax)
    idx = np.column_stack([first, second]).ravel()
    keep = np.ones(len(idx), dtype=bool)
    keep[1::2] = second != first
    return idx[keep]


def minmax_indices_multi(ys: list[np.ndarray], max_points: int = MAX_POINTS) -> np.ndarray:
    """One index set for several lines sharing an x: the union of each line's min/max picks."""
    if not ys or len(ys[0]) <= max_points:
        return np.arange(len(ys[0]) if ys else 0)
    if len(ys) == 1:
        return minmax_indices(ys[0], max_points)
    per_line = max(2, max_points // len(ys))
    return np.unique(np.concatenate([minmax_indices(y, per_line) for y in ys]))


def ema(y: np.ndarray, weight: float) -> np.ndarray:
    """Exponential moving average with TensorBoard's debiasing; non-finite points pass through."""
    if weight <= 0 or len(y) == 0:
        return y
    out = np.empty_like(y, dtype=np.float64)
    last, n = 0.0, 0
    for i, v in enumerate(y.tolist()):
        if v != v or v in (np.inf, -np.inf):
            out[i] = v
            continue
        last = last * weight + (1 - weight) * v
        n += 1
        out[i] = last / (1 - weight**n)
    return out
