"""Packing a batch of one series' points into typed byte arrays, and back.

A batch is stored as one row: values as float64, int64 or bool bytes when the
batch is all of one kind (NaN, +inf and -inf survive as IEEE bytes, which
SQLite's NULL-for-NaN never touches), else as JSON; steps as float64 with NaN
for "no step" (or nothing when no point had one); wall times as float64.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import numpy as np

F8, I8, B1, JSON = "f8", "i8", "b1", "json"
_DTYPES = {F8: np.float64, I8: np.int64, B1: np.bool_}


_PLAIN = frozenset({float, int, bool, str, type(None)})


def _plain(items: Sequence, kinds: set[type]) -> tuple[Sequence, set[type]]:
    """Python numbers for numpy scalars (the SDK's fast path buffers them as they came), and their types."""
    if kinds <= _PLAIN:
        return items, kinds
    items = [v.item() if isinstance(v, np.generic) else v for v in items]
    return items, set(map(type, items))


def encode(values: Sequence, steps: Sequence, walls: Sequence) -> tuple[str, bytes, bytes | None, bytes]:
    values, kinds = _plain(values, set(map(type, values)))
    steps, _ = _plain(steps, set(map(type, steps)))
    vtype = JSON
    if kinds <= {float, int} and kinds:
        try:
            arr = np.array(values, dtype=np.int64 if kinds == {int} else np.float64)
            vtype = I8 if kinds == {int} else F8
        except OverflowError:  # an int beyond 64 bits: keep it exact as JSON
            pass
    elif kinds == {bool}:
        arr, vtype = np.array(values, dtype=np.bool_), B1
    if vtype == JSON:
        vals = json.dumps(list(values), allow_nan=True).encode()
    else:
        vals = arr.tobytes()
    if steps.count(None) == len(steps):
        step_blob = None
    else:
        step_blob = np.array([np.nan if s is None else s for s in steps], dtype=np.float64).tobytes()
    return vtype, vals, step_blob, np.array(walls, dtype=np.float64).tobytes()


def decode_values(vtype: str, blob: bytes) -> np.ndarray:
    if vtype == JSON:
        out = json.loads(blob)
        arr = np.empty(len(out), dtype=object)
        arr[:] = out
        return arr
    return np.frombuffer(blob, dtype=_DTYPES[vtype])


def decode_floats(blob: bytes | None, n: int) -> np.ndarray | None:
    return None if blob is None else np.frombuffer(blob, dtype=np.float64, count=n)


def concat(parts: list[np.ndarray]) -> np.ndarray:
    """Join value arrays of one series; differing kinds fall back to objects (exact values)."""
    if len(parts) == 1:
        return parts[0]
    if len({p.dtype for p in parts}) == 1:
        return np.concatenate(parts)
    if all(p.dtype != object and p.dtype != np.bool_ for p in parts):
        return np.concatenate([p.astype(np.float64) for p in parts])
    out = np.empty(sum(len(p) for p in parts), dtype=object)
    i = 0
    for p in parts:
        out[i : i + len(p)] = p.tolist()
        i += len(p)
    return out


def concat_steps(parts: list[np.ndarray | None], lengths: list[int]) -> np.ndarray | None:
    if all(p is None for p in parts):
        return None
    return np.concatenate([np.full(n, np.nan) if p is None else p for p, n in zip(parts, lengths)])
