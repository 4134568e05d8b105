"""Shared helpers: timing, a quiet MLflow, and the one results table."""

from __future__ import annotations

import logging
import os
import statistics
import time
from dataclasses import dataclass


@dataclass
class Row:
    measure: str
    ours: str
    mlflow: str
    target: str = ""
    ok: bool | None = None  # None: no target


def best_of(fn, repeat: int = 5) -> float:
    """Median seconds of ``fn()`` over ``repeat`` runs (medians resist this machine's noise)."""
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def fmt_time(seconds: float) -> str:
    if seconds < 1e-6:
        return f"{seconds * 1e9:.0f} ns"
    if seconds < 1e-3:
        return f"{seconds * 1e6:.2f} µs"
    if seconds < 1:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds:.2f} s"


def fmt_rate(per_second: float) -> str:
    return f"{per_second:,.0f} pts/s"


def quiet_mlflow(tracking_uri: str):
    os.environ.setdefault("MLFLOW_ENABLE_ASYNC_LOGGING", "false")
    os.environ["GIT_PYTHON_REFRESH"] = "quiet"
    for name in ("mlflow", "alembic", "sqlalchemy"):
        logging.getLogger(name).setLevel(logging.ERROR)
    import mlflow

    mlflow.set_tracking_uri(tracking_uri)
    return mlflow


def print_table(rows: list[Row]) -> None:
    head = ("measure", "runwidgets", "MLflow, or the peers named (same machine, same run)", "target", "")
    body = [(r.measure, r.ours, r.mlflow, r.target, "" if r.ok is None else ("ok" if r.ok else "MISSED")) for r in rows]
    widths = [max(len(x[i]) for x in (head, *body)) for i in range(len(head))]
    line = lambda cells: "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths)) + " |"  # noqa: E731
    print(line(head))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for b in body:
        print(line(b))
