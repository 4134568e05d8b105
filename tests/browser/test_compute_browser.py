"""The dashboard's compute page in Chromium: a real Dask cluster's two workers running a sweep's children,
the queued ones listed, and finished runs leaving the page."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from runwidgets import Experiment, ScriptRunConfig
from runwidgets.compute import ComputeTarget, DaskCompute
from runwidgets.dashboard import server
from runwidgets.hyperdrive import GridParameterSampling, HyperDriveConfig, choice

from .harness import browser, chromium_path, free_port, jupyter_env, new_page, screenshot, wait_for

pytestmark = pytest.mark.browser
SCRIPTS = Path(__file__).parents[1] / "scripts"


def test_compute_page_shows_workers_and_a_running_sweep(ws, tmp_path, monkeypatch, dask_cluster):
    chromium_path()
    for k, v in jupyter_env(tmp_path / "jupyter").items():
        monkeypatch.setenv(k, v)
    monkeypatch.setenv("RUNWIDGETS_DASHBOARD_REFRESH", "1")
    src = tmp_path / "src"
    src.mkdir()
    shutil.copy(SCRIPTS / "cluster_job.py", src / "cluster_job.py")
    ComputeTarget.attach(ws, "cpu-cluster", DaskCompute.attach_configuration(address=dask_cluster.address))
    sweep = Experiment(ws, "sweep").submit(
        HyperDriveConfig(
            ScriptRunConfig(str(src), "cluster_job.py", compute_target="cpu-cluster",
                            environment_variables={"STEPS": "60", "SLEEP": "0.25"}),
            GridParameterSampling({"--alpha": choice(1, 2, 3, 4)}),
            "loss",
            "MINIMIZE",
            max_concurrent_runs=4,
        )
    )  # fmt: skip
    port = free_port()
    proc, _ = server.start(ws, port, log=open(tmp_path / "voila.log", "wb"))
    errors: list[str] = []
    try:
        with browser() as b:
            page = new_page(b, errors)
            page.goto(f"http://127.0.0.1:{port}/?compute", timeout=120_000)
            cluster = page.locator(".rw-target[data-target='cpu-cluster']")
            workers = cluster.locator("tr.rw-worker")
            wait_for(lambda: workers.count() == 2, 90, what="the cluster's two workers")
            busy = cluster.locator("tr.rw-worker a")
            try:
                wait_for(lambda: busy.count() == 2, 90, what="a child run on each worker")
            except AssertionError:
                screenshot(page, "dashboard-compute-failure")
                raise
            # a run submitted while both threads are busy waits in the cluster's queue
            waiting = Experiment(ws, "single").submit(
                ScriptRunConfig(str(src), "cluster_job.py", compute_target="cpu-cluster")
            )
            wait_for(lambda: "1 queued" in (cluster.locator("h3").text_content() or ""), 60, what="the queued run")
            assert cluster.locator("tr.rw-live-run", has_text="Queued").count() == 1
            names = sorted(workers.locator("td:nth-child(1)").all_text_contents())
            assert names == ["w1", "w2"]
            text = cluster.locator("h3").text_content() or ""
            assert "2 workers, 2 threads" in text and "2 running" in text
            live = set(cluster.locator("tr.rw-live-run a").all_text_contents())
            assert set(busy.all_text_contents()) <= live  # each worker's run links to its page
            assert page.locator(".rw-target[data-target='local']").count() == 1
            assert all(h.startswith("?run=") for h in busy.evaluate_all("els => els.map(e => e.getAttribute('href'))"))
            screenshot(page, "dashboard-compute")
            sweep.cancel()
            waiting.cancel()
            wait_for(lambda: "no runs queued or running" in (cluster.text_content() or ""), 90,
                     what="finished runs to leave the page")  # fmt: skip
            assert cluster.locator("tr.rw-worker a").count() == 0
            assert errors == []
    finally:
        server.stop(proc)
        sweep.wait_for_completion(raise_on_error=False)
