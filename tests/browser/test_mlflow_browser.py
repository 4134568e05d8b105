"""RunDetails of a plain-mlflow run, live, in Voila."""

from __future__ import annotations

import subprocess
import sys

import nbformat
import pytest

from ..mlflow_server import MlflowServer
from ..nbtools import make_notebook
from .harness import (
    browser,
    chromium_path,
    drawn_points,
    free_port,
    jupyter_env,
    new_page,
    our_errors,
    screenshot,
    server,
    wait_for,
)

pytestmark = pytest.mark.browser

WRITER = """
import sys, time, mlflow
mlflow.set_tracking_uri(sys.argv[1])
mlflow.set_experiment("browser")
with mlflow.start_run(run_name="plain mlflow") as r:
    print(r.info.run_id, flush=True)
    for i in range(2000):
        mlflow.log_metric("loss", 1.0 / (i + 1), step=i)
        time.sleep(0.05)
        if open(sys.argv[2]).read() == "stop":
            break
"""


def test_mlflow_run_live_in_voila(tmp_path):
    chromium_path()
    srv = MlflowServer(tmp_path, free_port())
    srv.start()
    stop_file = tmp_path / "stop"
    stop_file.write_text("")
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, srv.url, str(stop_file)], stdout=subprocess.PIPE, text=True
    )
    try:
        run_id = writer.stdout.readline().strip()
        nb = make_notebook(
            [
                f"from runwidgets import RunDetails\nRunDetails({run_id!r}, tracking_uri={srv.url!r}, refresh_interval=1).show()"
            ]
        )
        nbformat.write(nb, tmp_path / "mlflow.ipynb")
        port = free_port()
        cmd = [
            sys.executable,
            "-m",
            "voila",
            str(tmp_path / "mlflow.ipynb"),
            "--no-browser",
            f"--port={port}",
            "--Voila.ip=127.0.0.1",
        ]
        errors: list[str] = []
        env = jupyter_env(tmp_path / "jupyter")
        with (
            server(
                cmd, f"http://127.0.0.1:{port}/voila/static/", env, tmp_path, tmp_path / "voila.log", accept_404=True
            ),
            browser() as b,
        ):
            page = new_page(b, errors)
            page.goto(f"http://127.0.0.1:{port}/", timeout=120_000)
            first = wait_for(lambda: max(drawn_points(page, "body", "loss"), 0), 90, what="the loss chart")
            wait_for(lambda: drawn_points(page, "body", "loss") > first + 3, 60, what="the chart to grow")
            assert page.locator(".rw-header-view .rw-badge").first.text_content() == "Running"
            href = page.locator(".rw-header-view a.rw-link").first.get_attribute("href")
            assert href == f"{srv.url}/#/experiments/1/runs/{run_id}"  # the MLflow UI's run page
            screenshot(page, "voila-mlflow-run-light")
            stop_file.write_text("stop")
            wait_for(lambda: page.locator(".rw-header-view .rw-badge", has_text="Completed").count() == 1, 60,
                     what="Completed")  # fmt: skip
            assert our_errors(errors) == []
    finally:
        writer.kill()
        writer.wait()
        srv.stop()
