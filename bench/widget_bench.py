"""RunDetails' kernel-side costs and bytes to the browser, against a naive MLflow poller."""

from __future__ import annotations

import json
import time
from pathlib import Path

from .common import Row, best_of, fmt_time, quiet_mlflow


class Wire:
    """Counts what widgets send to the browser: JSON bytes plus binary buffers."""

    def __init__(self) -> None:
        import ipywidgets

        self.bytes = self.messages = 0
        self._orig = ipywidgets.Widget._send
        wire = self

        def send(widget, msg, buffers=None):
            wire.messages += 1
            wire.bytes += len(json.dumps(msg, default=str)) + sum(memoryview(b).nbytes for b in buffers or [])
            return wire._orig(widget, msg, buffers)

        ipywidgets.Widget._send = send

    def reset(self) -> None:
        self.bytes = self.messages = 0

    def close(self) -> None:
        import ipywidgets

        ipywidgets.Widget._send = self._orig


def seed(tmp: Path, metrics: int, points: int, children: int):
    from runwidgets import Experiment, Workspace

    ws = Workspace(tmp / "ws")
    exp = Experiment(ws, "bench")
    run = exp.start_logging()
    run.add_properties({"primary_metric_config": json.dumps({"name": "acc", "goal": "MAXIMIZE"})})
    names = [f"metric_{m:03d}" for m in range(metrics)]
    for i in range(points):
        for name in names:
            run.log(name, (i % 1000) / (1 + len(name)))
    run.flush()
    for c in range(children):
        child = run.child_run(f"child {c}")
        child.log("acc", (c * 37 % 101) / 100)
        child.complete()
    return ws, run, names


def mlflow_naive(tmp: Path, metrics: int, points: int) -> tuple[float, int]:
    """Seconds and bytes a poller pays re-reading every metric's history each time."""
    mlflow = quiet_mlflow(f"sqlite:///{tmp / 'mlflow.db'}")
    from mlflow.tracking import MlflowClient

    mlflow.set_experiment("bench-widget")
    with mlflow.start_run() as r:
        mlflow.log_metric("metric_000", 0.0)
    from tests.mlflow_server import seed_history

    for m in range(metrics):
        seed_history(tmp / "mlflow.db", r.info.run_id, f"metric_{m:03d}", range(1, points), lambda i: float(i % 1000))
    client = MlflowClient()
    keys = [f"metric_{m:03d}" for m in range(metrics)]
    t = time.perf_counter()
    histories = {k: client.get_metric_history(r.info.run_id, k) for k in keys}
    seconds = time.perf_counter() - t
    payload = json.dumps({k: [[m.step, m.value] for m in h] for k, h in histories.items()})
    return seconds, len(payload)


def run(tmp: Path, quick: bool) -> list[Row]:
    from runwidgets import RunDetails
    from runwidgets.store.sqlite import SqliteStore
    from runwidgets.widget.downsample import minmax_indices
    from runwidgets.widget.state import RunState

    metrics, points, children = (20, 3_000, 200) if quick else (100, 10_000, 1_000)
    ws, run_, names = seed(tmp, metrics, points, children)
    label = f"{metrics} metrics × {points:,} points, {children:,} children"

    def read_and_downsample():
        store = SqliteStore(ws.path)  # a cold reader: nothing cached
        state = RunState(run_.id)
        delta, _ = store.read_since([run_.id], None, log_runs=[run_.id])
        state.apply(delta)
        for s in state.series.values():
            minmax_indices(s.y)
        store.close()

    first = best_of(read_and_downsample, repeat=3)
    wire = Wire()
    try:
        t = time.perf_counter()
        view = RunDetails(run_, refresh_interval=3600)
        view.widget  # noqa: B018 - builds the view: first read, downsampling, 24 charts and the child table
        first_full = time.perf_counter() - t
        wire.reset()
        idle = best_of(view.poll, repeat=50)
        idle_bytes, idle_msgs = wire.bytes, wire.messages
        # 10 polls, each after 1,000 new points (10 metrics x 100): kernel time, bytes, new drawn points
        charts = [view.chart(n) for n in names[:10]]
        drawn_before = sum(c.drawn_points for c in charts)
        wire.reset()
        times = []
        for poll in range(10):
            for i in range(100):
                for name in names[:10]:
                    run_.log(name, float((poll * 100 + i) % 997))
            run_.flush()
            t = time.perf_counter()
            view.poll()
            times.append(time.perf_counter() - t)
        new_bytes, new_msgs = wire.bytes / 10, wire.messages / 10
        new_drawn = (sum(c.drawn_points for c in charts) - drawn_before) / 10
        new_time = sorted(times)[len(times) // 2]
        # the rare full re-sample: a series doubling past its bucket width (here 1,000 more points)
        for i in range(points):
            run_.log(names[0], float(i % 997))
        run_.flush()
        wire.reset()
        view.poll()
        resample_bytes = wire.bytes
        view.close()
    finally:
        wire.close()
    (tmp / "ml").mkdir()
    ml_seconds, ml_bytes = mlflow_naive(tmp / "ml", metrics, points)
    naive = f"{fmt_time(ml_seconds)}, {ml_bytes / 2**20:.1f} MiB as JSON (get_metric_history × {metrics}, every poll)"
    return [
        Row(f"first render, read + downsample ({label})", fmt_time(first), naive, "< 300 ms", first < 0.3),
        Row("first render incl. building 24 charts and the child table", fmt_time(first_full), "", ""),
        Row(
            "idle poll: kernel time, bytes to the browser",
            f"{fmt_time(idle)}, {idle_bytes} B in {idle_msgs} messages",
            naive,
            "< 1 ms, 0 B",
            idle < 1e-3 and idle_bytes == 0,
        ),
        Row(
            "poll with 1,000 new points (10 metrics × 100), 10 polls",
            f"{fmt_time(new_time)}, {new_bytes / 1024:.1f} KiB in {new_msgs:.0f} message(s) per poll,"
            f" {new_bytes / max(new_drawn, 1):.0f} B per new drawn point",
            naive,
            "≤ 32 B per new drawn point",
            new_bytes / max(new_drawn, 1) <= 32,
        ),
        Row(
            "  … a series doubling past its bucket width: the one full re-sample",
            f"{resample_bytes / 1024:.0f} KiB, once per doubling",
            "",
        ),
    ]
