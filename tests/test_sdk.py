"""The Azure ML v1 run API over the embedded store."""

import json
import logging
import math
import os
import subprocess
import sys

import numpy as np
import pytest

from runwidgets import Experiment, Run, Workspace
from runwidgets.store.base import CANCELED, COMPLETED, FAILED, RUNNING


def test_series_scalars_and_strings(run):
    for i in range(5):
        run.log("loss", 1.0 / (i + 1))
    run.log("acc", np.float32(0.5))
    run.log("arr0d", np.array(3))
    run.log("msg", "hi")
    run.log("flag", True)
    m = run.get_metrics()
    assert m["loss"] == [1.0, 0.5, 1 / 3, 0.25, 0.2]
    assert m["acc"] == 0.5 and m["arr0d"] == 3 and m["msg"] == "hi" and m["flag"] is True
    assert run.get_metrics(name="loss") == {"loss": m["loss"]}
    assert run.get_metrics(name="missing") == {}


def test_nan_and_infinities_round_trip_exactly(run, exp):
    vals = [math.nan, math.inf, -math.inf, 0.0, -0.0, 1e308, 5e-324]
    for v in vals:
        run.log("weird", v)
    run.log_row("t", a=math.nan, b=math.inf)
    run.complete()
    got = Run(exp, run.id).get_metrics()
    assert math.isnan(got["weird"][0])
    assert got["weird"][1:] == vals[1:]
    assert math.copysign(1, got["weird"][4]) == -1.0
    assert math.isnan(got["t"]["a"][0]) and got["t"]["b"] == [math.inf]


def test_steps_lists_tables(run):
    run.log("l", 1.0, step=10)
    run.log("l", 2.0, step=20)
    run.log_list("fib", (x for x in [0, 1, 1, 2]))
    run.log_list("fib", [3, 5])
    run.log_row("curve", x=1, y=2.0)
    run.log_row("curve", x=2, y=3.0)
    run.log_table("tbl", {"a": [1, 2], "b": ["u", "v"]})
    import pandas as pd

    run.log_table("frame", pd.DataFrame({"p": [0.1, 0.2]}))
    m = run.get_metrics()
    assert m["fib"] == [0, 1, 1, 2, 3, 5]
    assert m["curve"] == {"x": [1, 2], "y": [2.0, 3.0]}
    assert m["tbl"] == {"a": [1, 2], "b": ["u", "v"]}
    assert m["frame"] == {"p": [0.1, 0.2]}
    df = run.get_metrics_frame()
    assert list(df.columns) == ["run_id", "name", "column", "kind", "step", "value", "time"]
    assert df[df.name == "l"].step.tolist() == [10, 20]
    assert len(df) == 2 + 6 + 4 + 4 + 2
    assert str(df.time.dtype).startswith("datetime64") and str(df.time.dt.tz) == "UTC"


def test_images(run, tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    ax.plot([1, 2, 3])
    run.log_image("fig", plot=fig)
    plt.close(fig)
    png = tmp_path / "x.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + b"0" * 20)
    run.log_image("file", path=png)
    m = run.get_metrics()
    names = run.get_file_names()
    assert m["fig"] in names and m["file"] in names
    assert (run._store.file_path(run.id, m["fig"])).read_bytes()[:4] == b"\x89PNG"


def test_files_upload_download(run, tmp_path):
    src = tmp_path / "a.txt"
    src.write_text("hello")
    run.upload_file("outputs/a.txt", str(src))
    folder = tmp_path / "folder"
    (folder / "sub").mkdir(parents=True)
    (folder / "sub" / "b.txt").write_text("b")
    run.upload_folder("data", folder)
    import io

    run.upload_file("stream.bin", io.BytesIO(b"\x00\x01"))
    assert run.get_file_names() == ["data/sub/b.txt", "outputs/a.txt", "stream.bin"]
    out = run.download_file("outputs/a.txt", tmp_path / "dl.txt")
    assert open(out).read() == "hello"
    got = run.download_files(prefix="data", output_directory=tmp_path / "d")
    assert got == [str(tmp_path / "d" / "data/sub/b.txt")]
    got = run.download_files(prefix="data", output_directory=tmp_path / "e", append_prefix=False)
    assert got == [str(tmp_path / "e" / "sub/b.txt")]
    with pytest.raises(FileNotFoundError):
        run.download_file("nope.txt", tmp_path / "x")


def test_tags_properties(run, exp):
    run.tag("a", "1")
    run.tag("b")
    run.set_tags({"c": 3, "d": "x"})
    run.remove_tags(["d"])
    assert run.get_tags() == {"a": "1", "b": None, "c": "3"}  # a tag without a value reads back None, as in Azure
    run.add_properties({"p": "1"})
    run.add_properties({"p": "1", "q": "2"})  # same value again is fine
    with pytest.raises(ValueError, match="cannot change"):
        run.add_properties({"p": "2"})
    assert run.get_properties() == {"p": "1", "q": "2"}
    other = exp.start_logging()
    other.tag("a", "2")
    other.complete()
    assert [r.id for r in exp.get_runs(tags={"a": "1"})] == [run.id]
    assert {r.id for r in exp.get_runs(tags="a")} == {run.id, other.id}
    assert [r.id for r in exp.get_runs(properties={"q": "2"})] == [run.id]


def test_children_and_context_manager(run):
    with run.child_run("c1") as c1:
        c1.log("x", 1)
        with c1.child_run() as grandchild:
            grandchild.log("y", 2)
    c2 = run.child_run(name="c2")
    c2.fail("bad luck")
    with pytest.raises(RuntimeError):
        with run.child_run("c3"):
            raise RuntimeError("boom")
    kids = run.get_children()
    assert [k.name for k in kids] == ["c1", "c2", "c3"]
    assert [k.get_status() for k in kids] == [COMPLETED, FAILED, FAILED]
    assert kids[2].get_details()["error"]["message"] == "RuntimeError: boom"
    assert len(run.get_children(recursive=True)) == 4
    assert [k.name for k in run.get_children(status=FAILED)] == ["c2", "c3"]
    assert kids[0].parent.id == run.id and run.parent is None
    rec = run.get_metrics(recursive=True)
    assert rec[c1.id] == {"x": 1} and rec[grandchild.id] == {"y": 2}


def test_status_and_details(run, exp):
    assert run.get_status() == RUNNING
    run.log("a", 1)
    run.complete()
    d = run.get_details()
    assert d["runId"] == run.id and d["status"] == COMPLETED
    assert d["startTimeUtc"].endswith("Z") and d["endTimeUtc"] >= d["startTimeUtc"]
    assert set(d) >= {"runId", "status", "startTimeUtc", "endTimeUtc", "properties", "tags", "error", "logFiles"}
    run.fail("too late")  # already completed: left as it is
    assert run.get_status() == COMPLETED
    r2 = exp.start_logging()
    r2.cancel()
    assert r2.get_status() == CANCELED


def test_run_fetch_errors(exp, ws):
    with pytest.raises(KeyError, match="no run"):
        Run(exp, "nope")
    r = exp.start_logging()
    with pytest.raises(ValueError, match="belongs to experiment"):
        Run(Experiment(ws, "other"), r.id)


def test_portal_url_and_reprs(run, ws, monkeypatch):
    assert run.get_portal_url() == f"http://127.0.0.1:8866/?run={run.id}"
    monkeypatch.setenv("RUNWIDGETS_PORTAL_URL", "https://runs.example.org/")
    assert run.get_portal_url().startswith("https://runs.example.org/?run=")
    monkeypatch.delenv("RUNWIDGETS_PORTAL_URL")
    ws.write_config(portal_url="http://10.0.0.5:9000")
    assert Workspace(ws.path).portal_url == "http://10.0.0.5:9000"
    html = run._repr_html_()
    assert run.id in html and "Running" in html and "href=" in html
    assert run.id in repr(run)
    assert "tests" in Experiment(ws, "tests")._repr_html_()


def test_repr_html_escapes(ws):
    exp = Experiment(ws, "x")
    r = exp.start_logging(display_name="<b>bold</b>")
    assert "<b>bold" not in r._repr_html_()


def test_logging_handler(run):
    logger = logging.getLogger("user.training")
    logger.setLevel(logging.INFO)
    handler = run.get_logging_handler()
    logger.addHandler(handler)
    try:
        logger.info("epoch %d done", 3)
    finally:
        logger.removeHandler(handler)
        handler.close()
    text = (run._store.file_path(run.id, "azureml-logs/python_log.txt")).read_text()
    assert "INFO user.training: epoch 3 done" in text
    assert "azureml-logs/python_log.txt" in run.get_details()["logFiles"]


def test_workspace_from_config(tmp_path, monkeypatch, caplog):
    nested = tmp_path / "a" / "b"
    nested.mkdir(parents=True)
    monkeypatch.chdir(nested)
    monkeypatch.delenv("RUNWIDGETS_WORKSPACE", raising=False)
    logger = logging.getLogger("runwidgets")
    logger.propagate = True
    try:
        with caplog.at_level(logging.INFO, logger="runwidgets"):
            ws = Workspace.from_config()
        assert ws.path == nested / ".runwidgets"
        assert "a new local folder" in caplog.text
        monkeypatch.chdir(tmp_path / "a")
        (tmp_path / ".runwidgets").mkdir()
        assert Workspace.from_config().path == tmp_path / ".runwidgets"
        monkeypatch.chdir(tmp_path.parent)
        monkeypatch.setenv("RUNWIDGETS_WORKSPACE", str(tmp_path / "envws"))
        if not any((d / ".runwidgets").is_dir() for d in (tmp_path.parent, *tmp_path.parent.parents)):
            assert Workspace.from_config().path == tmp_path / "envws"
        cfg = tmp_path / "cfg.json"
        cfg.write_text(json.dumps({"workspace": "elsewhere", "portal_url": "http://h:1"}))
        ws = Workspace.from_config(cfg)
        assert ws.path == tmp_path / "elsewhere" and ws.portal_url == "http://h:1"
    finally:
        logger.propagate = False


def test_experiment_listing(ws):
    Experiment(ws, "one")
    Experiment(ws, "two")
    assert [e.name for e in Experiment.list(ws)] == ["one", "two"]
    assert set(ws.experiments) == {"one", "two"}


def test_get_context_outside_submission_records(tmp_path):
    script = tmp_path / "train.py"
    script.write_text(
        "from runwidgets import Run\nrun = Run.get_context()\nrun.log('x', 1.5)\nprint(run.id)\n"
        "assert Run.get_context() is run\n"
    )
    env = {**os.environ, "RUNWIDGETS_WORKSPACE": str(tmp_path / "ws")}
    p = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    assert "not a submitted run; recording to local run" in p.stderr
    ws = Workspace(tmp_path / "ws")
    run = Run(Experiment(ws, "train"), p.stdout.strip())
    assert run.get_metrics() == {"x": 1.5}
    assert run.get_status() == COMPLETED  # closed at exit


def test_uncaught_exception_fails_open_run(tmp_path):
    script = tmp_path / "crash.py"
    script.write_text(
        "from runwidgets import Workspace, Experiment\n"
        f"run = Experiment(Workspace({str(tmp_path / 'ws')!r}), 'c').start_logging()\n"
        "run.log('x', 1)\nprint(run.id, flush=True)\nraise ValueError('diverged')\n"
    )
    p = subprocess.run([sys.executable, str(script)], capture_output=True, text=True)
    assert p.returncode == 1
    run = Run(Experiment(Workspace(tmp_path / "ws"), "c"), p.stdout.strip())
    assert run.get_status() == FAILED
    assert "diverged" in run.get_details()["error"]["message"]
    assert run.get_metrics() == {"x": 1}


def test_every_log_path_stores_every_point_exactly(exp):
    """The fast path takes numpy scalars and steps as they come; what is stored is exact Python values."""
    import numpy as np

    cases = {
        "float": (1.5, None),
        "int": (3, None),
        "float_step": (1.5, 7),
        "int_step": (-4, 2**62),
        "np_float32_np_step": (np.float32(0.5), np.int64(3)),
        "np_float64": (np.float64(2.25), None),
        "np_uint64_max": (np.uint64(2**64 - 1), None),
        "np_int8_uint8_step": (np.int8(-3), np.uint8(4)),
        "bool_step": (True, 2),
        "np_bool": (np.bool_(False), None),
        "big_int": (2**70, 5),
    }
    run = exp.start_logging()
    for name, (value, step) in cases.items():
        for _ in range(1000):
            run.log(name, value, step=step)
    run.complete()
    for ch in run._store.read_series(run.id):
        value, step = cases[ch.key.name]
        values = ch.values.tolist()
        assert len(values) == 1000, ch.key.name
        assert all(v == value and type(v) is type(value.item() if hasattr(value, "item") else value) for v in values)
        if step is None:
            assert ch.steps is None
        else:
            assert np.all(ch.steps == float(step))


def test_one_ranking_rule():
    from runwidgets import ranking

    values = [0.1, float("nan"), 0.9, 0.7, float("inf")]
    assert ranking.best_value(values, "MAXIMIZE") == 0.9 and ranking.best_value(values, "MINIMIZE") == 0.1
    assert ranking.best_value(np.array(values), "MAXIMIZE") == 0.9  # the same rule on an array
    assert ranking.best_value([True, "x"], "MAXIMIZE") is None and ranking.best_value(3, "MINIMIZE") == 3.0
    items = [(0.5, "a"), (None, "b"), (0.9, "c"), (0.9, "d")]
    assert [c for _, c in ranking.ranked(items, "MAXIMIZE")] == ["c", "d", "a", "b"]  # ties keep their order
    assert [c for _, c in ranking.ranked(items, "MINIMIZE")] == ["a", "c", "d", "b"]
    assert ranking.is_better(1.0, None, "MINIMIZE") and not ranking.is_better(0.9, 0.9, "MAXIMIZE")
