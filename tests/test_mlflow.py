"""MLflow as the store: our SDK writing there, plain mlflow runs read back, RunDetails on both."""

from __future__ import annotations

import json
import logging
import math
import subprocess
import sys

import pytest

pytest.importorskip("mlflow")

from mlflow_server import MlflowServer, quick_failing_client_env, seed_history  # noqa: E402
from waiting import wait_until  # noqa: E402

from runwidgets import Experiment, Run, RunDetails, Workspace  # noqa: E402
from runwidgets.widget import details as details_mod  # noqa: E402


@pytest.fixture
def server(mlflow_server):
    return mlflow_server


@pytest.fixture(autouse=True)
def fast_failures(monkeypatch):
    for k, v in quick_failing_client_env().items():
        monkeypatch.setenv(k, v)


@pytest.fixture
def mws(server, tmp_path):
    return Workspace(tmp_path / "ws", tracking_uri=server.url)


def test_sdk_writes_to_the_mlflow_server(mws, tmp_path):
    from mlflow.tracking import MlflowClient

    exp = Experiment(mws, "sdk-on-mlflow")
    run = exp.start_logging(display_name="sdk run")
    for i in range(5):
        run.log("loss", 1.0 / (i + 1))
    run.log("acc", 0.5, step=10)
    run.log("acc", math.nan, step=11)
    run.log_list("fib", [0, 1, 1, 2])
    run.log_row("curve", x=1, y=2.0)
    run.log_row("curve", x=2, y=4.0)
    run.log("note", "hello")
    run.tag("team", "a")
    run.add_properties({"lr": "0.1"})
    with pytest.raises(ValueError, match="cannot change"):
        run.add_properties({"lr": "0.2"})
    (tmp_path / "f.txt").write_text("artifact")
    run.upload_file("outputs/f.txt", str(tmp_path / "f.txt"))
    with run.child_run("kid") as kid:
        kid.log("k", 1.0)
    run.complete()

    client = MlflowClient(mws.get_mlflow_tracking_uri())
    ml = client.get_run(run.id)
    assert ml.info.status == "FINISHED" and ml.info.run_name == "sdk run"
    assert [m.value for m in client.get_metric_history(run.id, "loss")] == [1.0, 0.5, 1 / 3, 0.25, 0.2]
    assert ml.data.params == {"lr": "0.1"} and ml.data.tags["team"] == "a"
    assert client.get_run(kid.id).data.tags["mlflow.parentRunId"] == run.id
    assert "outputs/f.txt" in run.get_file_names()

    again = Run(exp, run.id)
    m = again.get_metrics()
    assert m["loss"] == [1.0, 0.5, 1 / 3, 0.25, 0.2]
    assert m["acc"][0] == 0.5 and math.isnan(m["acc"][1])
    assert m["fib"] == [0, 1, 1, 2] and m["curve"] == {"x": [1.0, 2.0], "y": [2.0, 4.0]} and m["note"] == "hello"
    assert again.get_status() == "Completed" and [c.id for c in again.get_children()] == [kid.id]
    assert again.get_portal_url() == f"{mws.tracking_uri}/#/experiments/{ml.info.experiment_id}/runs/{run.id}"
    view = RunDetails(again)
    _ = view.widget
    assert view.chart("loss").lines.y.size == 5 and view.panels.children["rows"][0]["id"] == kid.id
    view.close()


def test_plain_mlflow_runs_in_run_details(mws):
    import mlflow

    mlflow.set_tracking_uri(mws.get_mlflow_tracking_uri())
    mlflow.set_experiment("plain")
    with mlflow.start_run(run_name="parent") as parent:
        for i in range(6):
            mlflow.log_metric("loss", 1.0 / (i + 1), step=i)
        mlflow.log_param("lr", 0.1)
        with mlflow.start_run(run_name="child", nested=True) as child:
            mlflow.log_metric("acc", 0.9)
    view = RunDetails(mlflow.get_run(parent.info.run_id))
    _ = view.widget
    assert view.header.run["status"] == "Completed" and view.header.run["name"] == "parent"
    assert view.chart("loss").lines.y.size == 6 and view.chart("loss").lines.x.tolist() == [0, 1, 2, 3, 4, 5]
    assert [r["id"] for r in view.panels.children["rows"]] == [child.info.run_id]
    assert {"section": "Properties", "key": "lr", "value": "0.1"} in view.header.props
    assert view.header.run["portal_url"].endswith(f"/runs/{parent.info.run_id}")
    view.close()


LIVE = """
import sys, time, mlflow
mlflow.set_tracking_uri(sys.argv[1])
mlflow.set_experiment("live")
with mlflow.start_run() as r:
    print(r.info.run_id, flush=True)
    for i in range(400):
        mlflow.log_metric("x", float(i), step=i)
        time.sleep(0.05)
"""


def test_a_run_logged_elsewhere_shows_live(server, monkeypatch):
    p = subprocess.Popen([sys.executable, "-c", LIVE, server.url], stdout=subprocess.PIPE, text=True)
    try:
        run_id = p.stdout.readline().strip()
        view = RunDetails(run_id, tracking_uri=server.url, refresh_interval=1)
        _ = view.widget
        assert wait_until(lambda: "x" in view._charts, 20)
        first = view.chart("x").lines.y.size
        assert wait_until(lambda: view.chart("x").lines.y.size > first + 5, 30)
        assert view.header.run["status"] == "Running"
        view.close()
    finally:
        p.kill()
        p.wait()


def test_server_stop_gives_reconnecting_then_recovery(tmp_path, monkeypatch, capfd):
    """While the server is down, the password in the tracking URI reaches no trait, log line or exception."""
    from tests.browser.harness import free_port

    srv = MlflowServer(tmp_path, free_port())
    srv.start()
    secret = "pa55:w@rd/%2F"
    uri = srv.url.replace("http://", f"http://alice:{secret.replace('@', '%40').replace('/', '%2F')}@")
    logs: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: logs.append(handler.format(record))
    for name in ("runwidgets", "mlflow", "urllib3", ""):
        logging.getLogger(name).addHandler(handler)
    try:
        from mlflow.tracking import MlflowClient

        client = MlflowClient(srv.url)
        run_id = client.create_run(client.create_experiment("flaky")).info.run_id  # stays RUNNING: still polled
        client.log_metric(run_id, "x", 1.0, step=0)
        client.log_metric(run_id, "x", 2.0, step=1)
        ws = Workspace(tmp_path / "ws", tracking_uri=uri)
        mine = Experiment(ws, "mine").start_logging()
        monkeypatch.setattr(details_mod.POLLER, "_wait", lambda key: 0.3)
        view = RunDetails(run_id, tracking_uri=uri, refresh_interval=1)
        _ = view.widget
        srv.stop()
        assert wait_until(lambda: view.header.connection.startswith("Reconnecting"), 60)
        for i in range(5):
            mine.log("y", float(i))  # the flush thread fails, and says so
        assert wait_until(lambda: any("could not write" in line for line in logs), 30)
        errors = []
        for call in (mine.get_status, mine.flush, lambda: mine.tag("t", "v"), lambda: ws.store.get_run(run_id)):
            try:
                call()
            except Exception as e:
                errors.append(f"{type(e).__name__}: {e} {e.args!r}")
        assert len(errors) == 4
        srv.start()
        assert wait_until(lambda: view.header.connection == "", 60)
        assert view.chart("x").lines.y.size == 2
        mine.complete()
        assert mine.get_metrics()["y"] == [0.0, 1.0, 2.0, 3.0, 4.0]  # buffered while the server was down
        seen = "\n".join([*logs, *errors, view.header.connection, json.dumps(view.header.get_state(), default=str)])
        seen += capfd.readouterr().err
        for spelling in ("pa55", "w%40rd", "w@rd"):
            assert spelling not in seen, spelling
        assert "alice" in seen or "Reconnecting" in seen
        view.close()
    finally:
        for name in ("runwidgets", "mlflow", "urllib3", ""):
            logging.getLogger(name).removeHandler(handler)
        srv.stop()


def test_an_image_tag_reads_only_the_runs_own_files(mws, tmp_path):
    """Anyone can set a runwidgets.image.* tag on a server: it must not make the viewer read a local file."""
    from mlflow.tracking import MlflowClient

    secret = tmp_path / "secret.png"
    secret.write_bytes(b"\x89PNG secret bytes")
    client = MlflowClient(mws.tracking_uri)
    run_id = client.create_run(client.create_experiment("tagged")).info.run_id
    kinds = {"pic": {"kind": "image", "keys": {"pic": None}}, "up": {"kind": "image", "keys": {"up": None}}}
    client.set_tag(run_id, "runwidgets.kinds", json.dumps(kinds))
    client.set_tag(run_id, "runwidgets.image.pic", str(secret))
    client.set_tag(run_id, "runwidgets.image.up", "images/../../../" + str(secret))
    mws.store.files.run_dir(run_id).mkdir(parents=True, exist_ok=True)
    view = RunDetails(run_id, tracking_uri=mws.tracking_uri)
    _ = view.widget
    images = view.panels.images
    assert {i["name"] for i in images} == {"pic", "up"} and all(i["data"] == b"" for i in images)
    view.close()


def test_sqlite_tracking_uri_without_a_server(tmp_path):
    ws = Workspace(tmp_path / "ws", tracking_uri=f"sqlite:///{tmp_path / 'm.db'}")
    run = Experiment(ws, "local-mlflow").start_logging()
    for i in range(3):
        run.log("x", float(i))
    run.complete()
    assert Run(Experiment(ws, "local-mlflow"), run.id).get_metrics() == {"x": [0.0, 1.0, 2.0]}
    assert run.get_portal_url() == ""  # no UI behind a sqlite URI
    view = RunDetails(run)
    _ = view.widget
    assert view.chart("x").lines.y.size == 3 and view.header.run["portal_url"] == ""
    view.close()


def test_credentials_never_leak(server, tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", "tok-s3cret")
    uri = server.url.replace("http://", "http://alice:pa55word@")
    ws = Workspace(tmp_path / "ws", tracking_uri=uri)
    assert "pa55word" not in repr(ws) and "pa55word" not in ws.address
    logger = logging.getLogger("runwidgets")
    logger.propagate = True
    try:
        with caplog.at_level(logging.DEBUG, logger="runwidgets"):
            run = Experiment(ws, "secret").start_logging()
            run.log("x", 1.0)
            run.log("x", 2.0)
            run.complete()
            view = RunDetails(run)
            _ = view.widget
    finally:
        logger.propagate = False
    state = json.dumps([view.header.get_state(), view.panels.get_state()], default=str)
    for secret in ("tok-s3cret", "pa55word"):
        assert secret not in state and secret not in caplog.text and secret not in repr(run)
        assert secret not in run.get_portal_url() and secret not in view._repr_mimebundle_()["text/html"]
    view.close()


def test_workspace_gives_the_tracking_uri(mws, tmp_path):
    assert mws.get_mlflow_tracking_uri() == mws.tracking_uri
    local = Workspace(tmp_path / "local")  # a local workspace: MLflow reaches it through our plugin
    assert local.get_mlflow_tracking_uri() == f"runwidgets://{local.path}"


def test_submitted_script_on_mlflow(mws, tmp_path, capsys):
    from mlflow.tracking import MlflowClient

    from runwidgets import ScriptRunConfig

    src = tmp_path / "src"
    src.mkdir()
    (src / "train.py").write_text(
        "import os\nfrom runwidgets import Run\nrun = Run.get_context()\n"
        "for i in range(5):\n    run.log('loss', 1.0 / (i + 1))\n    print('epoch', i, flush=True)\n"
        "os.makedirs('outputs', exist_ok=True)\nopen('outputs/model.txt', 'w').write('m')\n"
    )
    run = Experiment(mws, "submitted").submit(ScriptRunConfig(str(src), "train.py"))
    details = run.wait_for_completion(show_output=True)
    assert details["status"] == "Completed" and "epoch 4" in capsys.readouterr().out
    assert run.get_metrics()["loss"] == [1.0, 0.5, 1 / 3, 0.25, 0.2]
    arts = run.get_file_names()
    assert "outputs/model.txt" in arts and "azureml-logs/70_driver_log.txt" in arts
    client = MlflowClient(mws.tracking_uri)
    assert client.get_run(run.id).info.status == "FINISHED"
    uploaded = [f.path for f in client.list_artifacts(run.id, "azureml-logs")]
    assert "azureml-logs/70_driver_log.txt" in uploaded  # the log reached the server, not only this machine


def test_long_mlflow_series_is_fetched_sampled(server, monkeypatch):

    import mlflow
    from mlflow.tracking import MlflowClient

    from runwidgets.store import mlflow as mlstore

    mlflow.set_tracking_uri(server.url)
    mlflow.set_experiment("long")
    with mlflow.start_run() as r:
        mlflow.log_metric("loss", 1.0, step=0)
    n = mlstore.SAMPLE_ABOVE + 5000
    seed_history(server.base / "mlflow.db", r.info.run_id, "loss", range(1, n))
    full_reads = []
    real = MlflowClient.get_metric_history
    monkeypatch.setattr(MlflowClient, "get_metric_history", lambda self, *a: full_reads.append(a) or real(self, *a))
    view = RunDetails(r.info.run_id, tracking_uri=server.url)
    _ = view.widget
    assert full_reads == []  # never the whole history
    assert view.chart("loss").drawn_points <= mlstore.SAMPLE_POINTS
    assert view.chart("loss").note.value.startswith(f"{view.chart('loss').drawn_points:,} of {n:,} points")
    view.close()
