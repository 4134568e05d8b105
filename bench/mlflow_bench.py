"""MLflow as the store: writing through our SDK, and watching a long MLflow run."""

from __future__ import annotations

import os
import time
from pathlib import Path

from .common import Row, best_of, fmt_rate, fmt_time, quiet_mlflow


def run(tmp: Path, quick: bool) -> list[Row]:
    from runwidgets import Experiment, RunDetails, Workspace
    from tests.browser.harness import free_port
    from tests.mlflow_server import MlflowServer, seed_history

    srv = MlflowServer(tmp, free_port())
    srv.start()
    try:
        mlflow = quiet_mlflow(srv.url)
        from mlflow.tracking import MlflowClient

        client = MlflowClient(srv.url)
        n = 5_000 if quick else 20_000
        ws = Workspace(tmp / "ws", tracking_uri=srv.url)
        ours = Experiment(ws, "bench-sdk").start_logging()
        log = ours.log
        log("x", 0.0)
        ours.flush()
        t = time.perf_counter()
        for i in range(n):
            log("x", float(i))
        call = (time.perf_counter() - t) / n
        ours.flush()
        durable = time.perf_counter() - t
        ours.complete()
        assert len(client.get_metric_history(ours.id, "x")) == n + 1

        mlflow.set_experiment("bench-plain")
        m = 100 if quick else 300
        with mlflow.start_run():
            t = time.perf_counter()
            for i in range(m):
                mlflow.log_metric("x", float(i), step=i)
            ml_call = (time.perf_counter() - t) / m

        points = 20_000 if quick else 100_000
        with mlflow.start_run() as r:
            mlflow.log_metric("loss", 1.0, step=0)
        seed_history(tmp / "mlflow.db", r.info.run_id, "loss", range(1, points))
        client.set_tag(r.info.run_id, "runwidgets.heartbeat", repr(time.time()))
        client.get_metric_history(r.info.run_id, "loss")  # warm the fresh server once: both sides are timed warm
        t = time.perf_counter()
        view = RunDetails(r.info.run_id, tracking_uri=srv.url, refresh_interval=3600)
        _ = view.widget
        first = time.perf_counter() - t
        drawn = view.chart("loss").drawn_points
        how = "sampled on the server" if view.chart("loss")._total else "whole history read, downsampled here"
        idle = best_of(view.poll, repeat=10)
        view.close()
        history = best_of(lambda: client.get_metric_history(r.info.run_id, "loss"), repeat=2)
    finally:
        srv.stop()
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    return [
        Row(
            f"SDK on an MLflow server: run.log() per call ({n:,} calls)",
            fmt_time(call),
            f"{fmt_time(ml_call)} (mlflow.log_metric, one HTTP call)",
        ),
        Row(
            f"  … until all {n:,} points are durable on the server",
            f"{fmt_time(durable)} ({fmt_rate(n / durable)}, log_batch of 1,000)",
            f"{fmt_time(ml_call * n)} ({fmt_rate(1 / ml_call)}) one call per point",
        ),
        Row(
            f"RunDetails of a {points:,}-point MLflow run: first view",
            f"{fmt_time(first)} ({drawn:,} points drawn, {how})",
            f"{fmt_time(history)} (get_metric_history re-read, every poll)",
        ),
        Row(
            "  … idle poll of it",
            fmt_time(idle),
            f"{fmt_time(history)} (get_metric_history re-read, every poll)",
        ),
        *plain_mlflow_on_a_local_workspace(tmp, quick),
    ]


def plain_mlflow_on_a_local_workspace(tmp: Path, quick: bool) -> list[Row]:
    """Plain MLflow calls through our plugin (runwidgets:///ws) against MLflow's own local store (sqlite:///)."""
    from runwidgets import Workspace

    n = 300 if quick else 2_000
    out = {}
    for label, uri in (
        ("ours", Workspace(tmp / "plugin-ws").get_mlflow_tracking_uri()),
        ("mlflow", f"sqlite:///{tmp / 'plain-mlflow.db'}"),
    ):
        mlflow = quiet_mlflow(uri)
        mlflow.set_experiment("bench-plugin")
        with mlflow.start_run() as r:
            t = time.perf_counter()
            for i in range(n):
                mlflow.log_metric("loss", 1.0 / (i + 1), step=i)
            call = (time.perf_counter() - t) / n
        client = mlflow.MlflowClient(uri)
        get = best_of(lambda client=client, rid=r.info.run_id: client.get_run(rid), repeat=5)
        out[label] = (call, get)
    mlflow.set_tracking_uri(None)
    return [
        Row(
            f"plain mlflow.log_metric() per call, local store ({n:,} calls)",
            f"{fmt_time(out['ours'][0])} (runwidgets:///ws, shown live by RunDetails)",
            f"{fmt_time(out['mlflow'][0])} (sqlite:///mlflow.db)",
        ),
        Row("  … mlflow.get_run() of that run", fmt_time(out["ours"][1]), fmt_time(out["mlflow"][1])),
    ]
