"""Writer and reader costs of the embedded store against MLflow's SQLite store."""

from __future__ import annotations

import gc
import subprocess
import sys
import time
from pathlib import Path

from .common import Row, best_of, fmt_rate, fmt_time, quiet_mlflow

POLLER = """
import sys, time
from runwidgets.store.sqlite import SqliteStore
store, run_id, stop = SqliteStore(sys.argv[1]), sys.argv[2], time.time() + float(sys.argv[3])
cur, polls = None, 0
while time.time() < stop:
    _, cur = store.read_since([run_id], cur)
    polls += 1
    time.sleep(0.1)
print(polls)
"""


def _log_cost(tmp: Path, n: int) -> float:
    from runwidgets import Experiment, Workspace

    run = Experiment(Workspace(tmp / "log_cost"), "bench").start_logging()
    log = run.log
    log("loss", 0.0)
    t = time.perf_counter()
    for _ in range(n):
        log("loss", 0.5)
    run.flush()
    dt = time.perf_counter() - t
    run.complete()
    return dt / n


LOG_PATHS = {  # label -> (value, step): the common ways training code calls run.log
    "float": (0.5, None),
    "int": (3, None),
    "float, step": (0.5, 7),
    "int, step": (3, 7),
    "np.float64": ("np.float64", None),
    "np.float32, np.int64 step": ("np.float32", "np.int64"),
}


def _log_paths(tmp: Path, n: int) -> dict[str, float]:
    """run.log() per call on each path, as a multiple of list.append of the same (value, step, time) tuple."""
    import numpy as np

    from runwidgets import Experiment, Workspace

    def real(x):
        return {"np.float64": np.float64(0.5), "np.float32": np.float32(0.5), "np.int64": np.int64(7)}.get(x, x)

    run = Experiment(Workspace(tmp / "log_paths"), "bench").start_logging()
    now, out = time.time, {}
    for label, (value, step) in LOG_PATHS.items():
        value, step = real(value), real(step)
        log = run.log
        log(label, value, step=step)  # the metric's first point wakes the flush thread: let it finish first
        run.flush()
        time.sleep(0.1)

        def ours(log=log, label=label, value=value, step=step):
            for _ in range(n):
                log(label, value, step=step)

        def append(value=value, step=step):
            sink = []
            add = sink.append
            for _ in range(n):
                add((value, step, now()))

        # Alternate the two, and keep each one's fastest: noise on this machine only ever adds time.
        # gc off for both alike: a collection landing in one loop would decide the ratio.
        times: dict = {ours: [], append: []}
        gc.disable()
        try:
            for _ in range(7):
                for fn in (ours, append):
                    t = time.perf_counter()
                    fn()
                    times[fn].append(time.perf_counter() - t)
        finally:
            gc.enable()
        out[label] = min(times[ours]) / min(times[append])
        run.flush()  # the writes belong to the flush thread, not to the caller: outside the timing
    run.complete()
    return out


def _sustained(tmp: Path, seconds: float) -> tuple[float, int]:
    """Points/s made durable by a process logging flat out while another process polls it."""
    from runwidgets import Experiment, Workspace

    ws = Workspace(tmp / "sustained")
    run = Experiment(ws, "bench").start_logging()
    poller = subprocess.Popen(
        [sys.executable, "-c", POLLER, str(ws.path), run.id, str(seconds + 2)], stdout=subprocess.PIPE, text=True
    )
    time.sleep(0.5)
    log, n = run.log, 0
    t = time.perf_counter()
    stop = t + seconds
    while time.perf_counter() < stop:
        for _ in range(10_000):
            log("loss", 0.5)
            log("acc", 0.25)
        n += 20_000
    run.flush()
    dt = time.perf_counter() - t
    run.complete()
    polls = int(poller.communicate()[0])
    return n / dt, polls


def _seed_big_run(tmp: Path, n: int):
    from runwidgets import Experiment, Workspace

    ws = Workspace(tmp / "big")
    run = Experiment(ws, "bench").start_logging()
    log = run.log
    for i in range(n):
        log("loss", 1.0 / (i + 1))
    run.flush()
    return ws, run


def _poll_costs(ws, run, new_points: int) -> tuple[float, float]:
    from runwidgets.store.sqlite import SqliteStore

    store = SqliteStore(ws.path)
    _, cur = store.read_since([run.id], None)
    idle = best_of(lambda: store.read_since([run.id], cur), repeat=200)
    times = []
    for _ in range(5):
        for i in range(new_points):
            run.log("loss", float(i))
        run.flush()
        t = time.perf_counter()
        delta, cur = store.read_since([run.id], cur)
        times.append(time.perf_counter() - t)
        assert sum(len(c) for c in delta.series) == new_points
    times.sort()
    return idle, times[len(times) // 2]


def _mlflow_seed_history(db: Path, mlflow, n: int) -> str:
    """A run with an n-point metric, its rows put straight into MLflow's own tables.

    MLflow's log_batch writes ~6k points/s here, so a 1M-point run through its API
    would take minutes; the read path measured below is MLflow's own either way.
    """
    mlflow.set_experiment("bench-history")
    with mlflow.start_run() as r:
        mlflow.log_metric("loss", 1.0, step=0)
    from tests.mlflow_server import seed_history

    seed_history(db, r.info.run_id, "loss", range(1, n))
    return r.info.run_id


def run(tmp: Path, quick: bool) -> list[Row]:
    rows = []
    n_log = 200_000 if quick else 1_000_000
    per_call = min(_log_cost(tmp, n_log) for _ in range(3))

    db = tmp / "mlflow" / "mlflow.db"
    db.parent.mkdir(parents=True, exist_ok=True)
    mlflow = quiet_mlflow(f"sqlite:///{db}")
    from mlflow.entities import Metric
    from mlflow.tracking import MlflowClient

    client = MlflowClient()
    mlflow.set_experiment("bench")
    with mlflow.start_run() as r:
        m = 50 if quick else 200
        t = time.perf_counter()
        for i in range(m):
            mlflow.log_metric("loss", 0.5, step=i)
        ml_log = (time.perf_counter() - t) / m
        batches = 5 if quick else 20
        now = int(time.time() * 1000)
        t = time.perf_counter()
        for b in range(batches):
            client.log_batch(r.info.run_id, metrics=[Metric("y", 0.5, now, b * 1000 + i) for i in range(1000)])
        ml_batch_rate = batches * 1000 / (time.perf_counter() - t)
    rows.append(
        Row(
            f"run.log() per call, {n_log:,} calls incl. final flush",
            fmt_time(per_call),
            f"{fmt_time(ml_log)} (mlflow.log_metric)",
            "≤ 1 µs",
            per_call <= 1e-6,
        )
    )

    ratios = _log_paths(tmp, n_log // 4)
    rows.append(
        Row(
            "run.log() ÷ list.append of the same tuple, per path",
            ", ".join(f"{k} {v:.1f}×" for k, v in ratios.items()),
            "",
            "≤ 3× each",
            max(ratios.values()) <= 3,
        )
    )

    rate, polls = _sustained(tmp, 3.0 if quick else 6.0)
    rows.append(
        Row(
            f"sustained points/s to disk, reader polling ({polls} polls)",
            fmt_rate(rate),
            f"{fmt_rate(ml_batch_rate)} (log_batch of 1,000)",
            "≥ 250,000",
            rate >= 250_000,
        )
    )

    n_big = 100_000 if quick else 1_000_000
    ws, big = _seed_big_run(tmp, n_big)
    idle, new1k = _poll_costs(ws, big, 1000)
    ml_run = _mlflow_seed_history(db, mlflow, n_big)
    ml_hist = best_of(lambda: client.get_metric_history(ml_run, "loss"), repeat=1 if not quick else 2)
    big.complete()
    rows.append(
        Row(
            f"idle poll of a {n_big:,}-point run",
            fmt_time(idle),
            f"{fmt_time(ml_hist)} (get_metric_history re-read)",
            "< 0.1 ms",
            idle < 1e-4,
        )
    )
    rows.append(
        Row(
            f"poll with 1,000 new points, {n_big:,}-point run",
            fmt_time(new1k),
            f"{fmt_time(ml_hist)} (get_metric_history re-read)",
        )
    )
    return rows
