"""RunDetails on the Python side, against a real store. Counts, never timings."""

import json
import math
import os
import sqlite3
import threading
import time
from pathlib import Path

import ipywidgets
import numpy as np
import pytest
from waiting import wait_until

from runwidgets import RunDetails
from runwidgets.widget import details as details_mod
from runwidgets.widget.downsample import bucket_width, minmax_indices, minmax_indices_multi
from runwidgets.widget.poller import POLLER


@pytest.fixture
def sent(monkeypatch):
    """Every message a widget sends to the browser: (widget, msg, buffers)."""
    log = []
    orig = ipywidgets.Widget._send

    def record(self, msg, buffers=None):
        log.append((self, msg, buffers or []))
        return orig(self, msg, buffers)

    monkeypatch.setattr(ipywidgets.Widget, "_send", record)
    return log


def poller_threads():
    return [t for t in threading.enumerate() if t.name == "runwidgets-poller"]


def test_chart_data_per_metric_kind(run, tmp_path):
    for i in range(10):
        run.log("loss", 1.0 / (i + 1), step=10 * i)
    run.log_list("lst", [3, 1, 2])
    for i in range(5):
        run.log_row("curve", epoch=i, train=i * 0.1, val=i * 0.2, note="text")
    run.log_table("single", {"v": [1, 2, 3]})
    run.log("one", 0.5)
    run.log("words", "a")
    run.log("words", "b")
    run.flush()
    d = RunDetails(run)
    _ = d.widget
    loss = d.chart("loss")
    assert loss.lines.x.tolist() == [10.0 * i for i in range(10)]  # x = step
    assert np.allclose(loss.lines.y, [1.0 / (i + 1) for i in range(10)])
    assert d.chart("lst").lines.x.tolist() == [0, 1, 2] and d.chart("lst").x_axis.label == "index"
    curve = d.chart("curve")
    assert curve.x_axis.label == "epoch" and curve.lines.labels == ["train", "val"]  # text column left out
    assert curve.lines.y.shape == (2, 5) and curve.lines.display_legend
    assert d.chart("single").lines.x.tolist() == [0, 1, 2]
    assert "one" not in d._charts and "words" not in d._charts
    metrics = {r["key"]: r["value"] for r in d.header.props if r["section"] == "Metrics"}
    assert metrics == {"one": "0.5", "words": "b"}
    d.close()


def test_nan_inf_are_markers_and_outside_autoscale(run):
    for v in [1.0, 2.0, math.inf, 3.0, math.nan, -math.inf, 4.0]:
        run.log("x", v)
    run.flush()
    d = RunDetails(run)
    _ = d.widget
    c = d.chart("x")
    assert np.isnan(c.lines.y[[2, 4, 5]]).all()  # gaps in the line
    assert c.bad.visible and sorted(c.bad.x.tolist()) == [2.0, 4.0, 5.0]
    assert (c.y_lin.min, c.y_lin.max) == (0.0, 5.0)  # the finite range, to round numbers; inf does not widen it
    assert "3 NaN/inf" in c.note.value
    c.log.value = True
    assert c.y_axis.scale is c.y_log and c.lines.scales["y"] is c.y_log
    c.smoothing.value = 0.9
    assert c.lines.y[-1] != 4.0  # smoothed for display
    assert run.get_metrics()["x"][-1] == 4.0  # the data is untouched
    d.close()


def test_downsampling_keeps_min_max_and_is_deterministic():
    rng = np.random.default_rng(0)
    y = rng.normal(size=100_003)
    y[12345], y[99999] = 50.0, -50.0
    idx = minmax_indices(y, 2000)
    assert len(idx) <= 2000 and np.all(np.diff(idx) > 0)
    assert 12345 in idx and 99999 in idx
    assert np.array_equal(idx, minmax_indices(y.copy(), 2000))
    # every bucket's extremes survive (buckets: a power-of-two width, aligned to the start)
    k = bucket_width(len(y), 2000)
    assert k == 128 and -(-len(y) // k) <= 1000
    for b in range(0, len(y), k * 97):
        seg = y[b : b + k]
        assert b + int(seg.argmax()) in idx and b + int(seg.argmin()) in idx
    assert len(minmax_indices(y[:1500])) == 1500
    both = minmax_indices_multi([y, -y], 2000)
    assert len(both) <= 2000 and 12345 in both


def test_downsampled_chart_reports_n_of_n(run):
    for i in range(10_000):
        run.log("x", float(i % 97))
    run.flush()
    d = RunDetails(run)
    _ = d.widget
    drawn = d.chart("x").drawn_points
    assert 1000 < drawn <= 2000
    assert d.chart("x").note.value.startswith(f"{drawn:,} of 10,000 points")
    d.close()


def test_idle_poll_changes_no_trait(run, sent):
    run.log("x", 1.0)
    run.log("x", 2.0)
    run.flush()
    d = RunDetails(run, refresh_interval=1000)
    _ = d.widget
    sent.clear()
    for _ in range(5):
        assert d.poll() is True
    assert sent == []  # nothing new: no message at all
    run.log("x", 3.0)
    run.flush()
    d.poll()
    chart = d.chart("x")
    allowed = (chart.lines, chart.note, chart.y_lin, chart.x_axis, chart.y_axis, d.header, d.panels)
    assert sent and all(w in allowed for w, _, _ in sent)  # axes re-tick as the extent grows
    d.close()


def test_points_travel_as_binary(run, sent):
    for i in range(100):
        run.log("x", float(i))
    run.flush()
    d = RunDetails(run, refresh_interval=1000)
    _ = d.widget
    sent.clear()
    for i in range(1000):
        run.log("x", float(i))
    run.flush()
    d.poll()
    line_msgs = [(m, b) for w, m, b in sent if w in (d.chart("x").lines, d.panels)]
    assert line_msgs and sum(len(b) for _, b in line_msgs) >= 2  # x and y as buffers
    assert "1099" not in json.dumps([m for m, _ in line_msgs])  # no JSON list of floats
    d.close()
    d.close()


def test_polling_stops_after_terminal_run_and_thread_ends(exp):
    base = len(poller_threads())
    run = exp.start_logging()
    run.log("x", 1.0)
    d = RunDetails(run, refresh_interval=1)
    _ = d.widget
    assert d.polling and len(poller_threads()) == 1
    run.complete()
    assert wait_until(lambda: not d.polling, 10)
    assert d.header.run["status"] == "Completed"
    assert wait_until(lambda: len(poller_threads()) == base, 5)
    polls = d.polls
    time.sleep(2.5)
    assert d.polls == polls  # no polling after the end
    d.close()


def test_close_stops_polling(run):
    d = RunDetails(run, refresh_interval=1)
    _ = d.widget
    assert d.polling
    d.close()
    assert not d.polling
    assert wait_until(lambda: not poller_threads(), 5)
    with pytest.raises(RuntimeError, match="closed"):
        _ = d.widget


def test_open_close_cycles_leak_no_thread(run):
    before = threading.active_count()
    for _ in range(100):
        d = RunDetails(run, refresh_interval=1)
        _ = d.widget
        d.close()
    assert wait_until(lambda: threading.active_count() <= before, 5)
    assert not poller_threads()


def test_reconnecting_then_recovery(run, monkeypatch):
    monkeypatch.setattr(details_mod.POLLER, "_wait", lambda key: 0.2)  # fast retries for the test
    run.log("x", 1.0)
    run.flush()
    d = RunDetails(run, refresh_interval=1)
    _ = d.widget
    store = d._source.store
    real = store.read_since
    broken = {"on": True}

    def flaky(*a, **k):
        if broken["on"]:
            raise sqlite3.OperationalError("unable to open database file")
        return real(*a, **k)

    monkeypatch.setattr(store, "read_since", flaky)
    assert wait_until(lambda: d.header.connection.startswith("Reconnecting"), 10)
    assert "unable to open database file" in d.header.connection
    run.log("x", 2.0)
    run.flush()
    broken["on"] = False
    try:
        assert wait_until(lambda: d.header.connection == "" and "x" in d._charts and d.chart("x").lines.y.size == 2, 15)
    finally:
        d.close()


def test_store_error_on_first_read_still_shows(run, monkeypatch):
    d = RunDetails(run, refresh_interval=1000)
    monkeypatch.setattr(d._source.store, "read_since", lambda *a, **k: (_ for _ in ()).throw(OSError("disk gone")))
    _ = d.widget
    assert "disk gone" in d.header.connection
    d.close()


def test_logs_tail_and_sync(run, sent):
    path = run._store.log_path(run.id, "azureml-logs/70_driver_log.txt")
    with open(path, "w") as f:
        f.write("first\n")
    d = RunDetails(run, refresh_interval=1000)
    _ = d.widget
    assert d.panels.log_names == ["azureml-logs/70_driver_log.txt"]
    with open(path, "a") as f:
        f.write("<script>window.__rw_xss=2</script>\n")
    sent.clear()
    d.poll()
    msgs = [m["content"] for w, m, _ in sent if w is d.panels and m.get("method") == "custom"]
    assert msgs == [
        {"type": "log_append", "name": "azureml-logs/70_driver_log.txt", "text": "<script>window.__rw_xss=2</script>\n"}
    ]
    sent.clear()
    d._on_msg(d.panels, {"type": "log_sync", "name": "azureml-logs/70_driver_log.txt"}, [])
    (reset,) = [m for w, m, _ in sent if w is d.panels]
    assert reset["content"]["text"] == "first\n<script>window.__rw_xss=2</script>\n"
    d.close()


def test_images_sent_as_bytes(run, tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.plot([1, 2])
    run.log_image("plot", plot=plt)
    plt.close()
    run.flush()
    d = RunDetails(run)
    _ = d.widget
    (img,) = d.panels.images
    assert img["name"] == "plot" and img["mime"] == "image/png" and img["data"][:4] == b"\x89PNG"
    d.close()


def test_children_table_best_and_open(exp):
    parent = exp.start_logging()
    parent.add_properties({"primary_metric_config": json.dumps({"name": "acc", "goal": "MAXIMIZE"})})
    for i, acc in enumerate([0.5, 0.9, 0.7]):
        c = parent.child_run(f"c{i}")
        c.add_properties({"hyperparameters": json.dumps({"--lr": 0.1 * (i + 1)})})
        c.log("acc", acc - 0.1)
        c.log("acc", acc)
        c.complete()
    d = RunDetails(parent)
    _ = d.widget
    kids = d.panels.children
    assert [r["name"] for r in kids["rows"]] == ["c1", "c2", "c0"]  # best first
    assert kids["best"] == kids["rows"][0]["id"] and kids["metric"] == "acc"
    assert kids["rows"][0]["params"] == "--lr=0.2" and kids["rows"][0]["value"] == 0.9
    assert d._child_chart is not None and d._child_chart.dots.y.tolist() == [0.5, 0.9, 0.7]
    assert d._child_chart.lines.y.tolist() == [0.5, 0.9, 0.9]  # best so far
    d._on_msg(d.panels, {"type": "open_child", "run_id": kids["best"]}, [])
    assert d._child_details.run_id == kids["best"] and d.child_box.children
    d._on_msg(d.panels, {"type": "open_child", "run_id": "not-a-child"}, [])
    assert d._child_details.run_id == kids["best"]
    parent.complete()
    d.close()


def test_thousand_children_paged(exp):
    parent = exp.start_logging()
    for i in range(1000):
        exp.workspace.store.create_run(
            details_mod.RunRecord(
                f"kid{i}", exp.name, parent.id, f"kid{i}", "Completed", time.time(), ended=time.time()
            )
        )
    d = RunDetails(parent)
    _ = d.widget
    assert len(d.panels.children["rows"]) == 1000 and d.panels.children["page_size"] == 25
    d.close()


def test_repr_fallbacks_and_errors(run, monkeypatch):
    d = RunDetails(run)
    bundle = d._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert run.id in bundle["text/plain"] and "Running" in bundle["text/plain"]
    assert "<a href=" in bundle["text/html"]
    d.close()
    with pytest.raises(ValueError, match="at least 1 second"):
        RunDetails(run, refresh_interval=0.1)
    with pytest.raises(TypeError, match="RunDetails needs"):
        RunDetails("not a run")
    import builtins

    real_import = builtins.__import__

    def no_sidecar(name, *a, **k):
        if name == "sidecar":
            raise ImportError("no sidecar")
        return real_import(name, *a, **k)

    monkeypatch.setattr(builtins, "__import__", no_sidecar)
    d = RunDetails(run)
    with pytest.raises(ImportError, match="runwidgets\\[sidecar\\]"):
        d.show(sidebar=True)
    d.close()


def test_no_secret_in_synced_traits(run, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", "tok-123")
    d = RunDetails(run)
    _ = d.widget
    state = json.dumps(
        [d.header.get_state(), {k: v for k, v in d.panels.get_state().items() if k != "images"}], default=str
    )
    assert "tok-123" not in state
    d.close()


def test_metric_selection_and_chart_cap(run):
    for name in ("a1", "a2", "b1"):
        run.log(name, 1.0)
        run.log(name, 2.0)
    run.flush()
    d = RunDetails(run, metrics=["a*"], max_charts=1)
    _ = d.widget
    assert list(d._charts) == ["a1"] and "1 more metric" in d.charts_note.value
    d.close()


def test_poller_thread_serves_many_views(exp):
    runs = [exp.start_logging() for _ in range(5)]
    views = [RunDetails(r, refresh_interval=1) for r in runs]
    for v in views:
        _ = v.widget
    assert len(poller_threads()) == 1
    for v in views:
        v.close()
    assert not [e for e in POLLER._queue if e[2] in views]


def test_closing_views_leaves_no_widget_behind(exp):
    """100 views (charts of every kind, a child opened, images) opened and closed: the widget count is back."""
    from ipywidgets.widgets import widget as ipw

    parent = exp.start_logging()
    for i in range(30):
        parent.log("loss", 1 / (i + 1), step=i)
        parent.log_row("curve", x=i, y=i * i)
    parent.log_list("hist", [1.0, 2.0, 3.0])
    child = parent.child_run()
    child.log("acc", 0.5)
    child.log("acc", 0.6)
    child.complete()
    parent.flush()
    warm = RunDetails(parent)
    _ = warm.widget
    warm.close()
    baseline = len(ipw._instances)
    for _ in range(100):
        view = RunDetails(parent)
        _ = view.widget
        view._open_child(child.id)
        view.chart("loss").log.value = True  # the log scale joins the figure
        view.close()
    assert len(ipw._instances) == baseline
    parent.complete()


def test_a_growing_line_sends_only_its_tail(run, sent):
    """10 polls of 1,000 new points across 10 metrics: one message a poll, at most 32 B per new drawn point,
    and the kernel's copy of each line equals the line drawn from scratch."""
    names = [f"m{i}" for i in range(10)]
    for i in range(5000):
        for n in names:
            run.log(n, float(i % 89))
    run.flush()
    d = RunDetails(run, refresh_interval=1000)
    _ = d.widget
    charts = [d.chart(n) for n in names]
    before = sum(c.drawn_points for c in charts)
    sent.clear()
    for poll in range(10):
        for i in range(100):
            for n in names:
                run.log(n, float((poll * 7 + i) % 97))
        run.flush()
        d.poll()
    size = sum(len(json.dumps(m, default=str)) + sum(memoryview(b).nbytes for b in bufs or []) for _, m, bufs in sent)
    drawn = sum(c.drawn_points for c in charts) - before
    assert drawn > 0 and size / drawn <= 32, (size, drawn)
    splices = [m for w, m, _ in sent if w is d.panels and m["content"]["type"] == "splice"]
    assert len(splices) == 10 and all(len(m["content"]["charts"]) == 10 for m in splices)
    assert [w for w, m, _ in sent if w is not d.panels] == []  # the splice carries notes and y ranges too
    assert len(sent) == 10  # one message a poll; no line resent whole
    fresh = RunDetails(run, refresh_interval=1000)
    _ = fresh.widget
    for n in names:
        assert np.array_equal(d.chart(n).lines.x, fresh.chart(n).lines.x)
        assert np.array_equal(d.chart(n).lines.y, fresh.chart(n).lines.y)
        assert d.chart(n).note.value == fresh.chart(n).note.value
        assert (d.chart(n).y_lin.min, d.chart(n).y_lin.max) == (fresh.chart(n).y_lin.min, fresh.chart(n).y_lin.max)
    fresh.close()
    d.close()


def test_views_are_module_files_that_hot_reload(tmp_path):
    """_esm is a file (not a string joined at import): with ANYWIDGET_HMR=1 a rewritten module reaches the view."""
    import subprocess
    import sys

    from runwidgets.widget import views

    assert isinstance(views.esm("run_header.js"), Path) and views.esm("run_header.js").is_file()
    code = """
import sys, time
from runwidgets.widget.views import HeaderView, esm
path = esm("run_header.js")
original = path.read_text()
view = HeaderView()
before = view._esm
try:
    path.write_text(original + "\\n// hot reload probe\\n")
    deadline = time.time() + 20
    while "hot reload probe" not in view._esm and time.time() < deadline:
        time.sleep(0.1)
finally:
    path.write_text(original)
print("reloaded" if "hot reload probe" in view._esm and "hot reload probe" not in before else "not reloaded")
"""
    env = {**os.environ, "ANYWIDGET_HMR": "1"}
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env)
    assert p.stdout.strip().endswith("reloaded") and "not" not in p.stdout, p.stdout + p.stderr


def test_charts_read_at_a_glance():
    from runwidgets.widget.charts import ChildMetricChart, LineChart, nice_bounds, nice_step, nice_ticks

    for span in (0.003, 0.7, 1, 3, 17, 250, 9e6):
        step = nice_step(span)
        mantissa = step / 10 ** math.floor(math.log10(step))
        assert round(mantissa, 9) in (1, 2, 2.5, 5) and 2 <= span / step <= 5  # round steps, 2 to 5 of them
    assert nice_bounds(0.2, 0.97) == (0.0, 1.0)  # an accuracy: not past 1, not below 0
    lo, hi = nice_bounds(0.013, 2.4)  # a loss: never below 0
    assert lo == 0.0 and 2.4 < hi <= 3.0
    lo, hi = nice_bounds(-3.2, -0.4)
    assert lo < -3.2 and hi == 0.0
    lo, hi = nice_bounds(1234.5, 1234.5)  # one value
    assert lo < 1234.5 < hi

    c = LineChart("loss")
    c.set_data(np.array([0.0]), [np.array([0.5])])
    assert (c.x_scale.min, c.x_scale.max) == (0.0, 1.0) and c.x_axis.tick_values.tolist() == [0.0]  # no step -1
    c.set_data(np.array([0.0, 1.0, 2.0]), [np.array([0.5, 0.4, 0.3])])
    assert c.x_scale.min is None and c.x_axis.tick_values.tolist() == [0, 1, 2]  # whole steps, whole ticks
    assert (c.y_lin.min, c.y_lin.max) == (0.25, 0.55)  # round numbers around the data
    assert c.y_axis.tick_values.tolist() == [0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55]  # not bqplot's 0.25, 0.325 ...
    c.set_data(np.arange(1001.0), [np.linspace(0.0, 0.6, 1001)])
    assert c.x_axis.tick_values.tolist() == [0, 200, 400, 600, 800, 1000]
    c.close()

    child = ChildMetricChart("accuracy", "MAXIMIZE")
    values = [0.9, 0.2, None, 0.55, 0.1, 0.95]
    child.set_values(values)
    assert child.y_lin.min <= 0.1 and child.y_lin.max >= 0.95  # every child's dot is on the chart
    assert "dots, and the best so far" in child.figure.title and not child.dots.display_legend  # no box over dots
    assert (child.x_scale.min, child.x_scale.max) == (0.5, 6.5)  # the end dots whole
    child.set_values([0.5] * 20)
    assert child.x_axis.tick_values.tolist() == [2, 4, 6, 8, 10, 12, 14, 16, 18, 20]  # whole steps: not 2.5 as "3"
    child.close()
    automl = ChildMetricChart("AUC_weighted", "MAXIMIZE", x_label="iteration", first=0)
    automl.set_values([0.7, 0.8, 0.75])
    assert automl.dots.x.tolist() == [0, 1, 2] and (automl.x_scale.min, automl.x_scale.max) == (-0.5, 2.5)
    automl.close()
    assert nice_ticks(0, 29, 8, integer=True).tolist() == [0, 5, 10, 15, 20, 25]


def test_parallel_axis_of_a_log_searched_parameter():
    from runwidgets.widget.sweep import _axis

    lr = _axis("lr", [1e-4, 1e-3, 1e-2, None])
    assert lr.name == "lr (log)" and np.allclose(lr.positions[:3], [0, 0.5, 1]) and np.isnan(lr.positions[3])
    assert [t for _, t in lr.labels] == ["0.0001", "0.001", "0.01"]
    assert _axis("dropout", [0.1, 0.5]).name == "dropout"  # a narrow span stays linear
    assert _axis("shift", [-1.0, 1000.0]).name == "shift"  # not all positive: linear


def test_system_metrics_sit_in_a_collapsed_panel(run):
    from runwidgets import RunDetails
    from runwidgets.tracking.system_metrics import SystemMonitor

    monitor = SystemMonitor(run._store, run.id, os.getpid(), interval=3600)
    for _ in range(3):
        monitor.write(monitor.sampler.sample())
    run.log("loss", 0.5)
    run.log("loss", 0.4)
    run.flush()
    view = RunDetails(run)
    try:
        _ = view.widget
        assert list(view._charts) == ["loss"]  # the run's own metrics on top
        assert view.system_box.selected_index is None and view.system_box.layout.display is None
        title = view.system_box.get_title(0)
        assert title.startswith("System: 1") and "CPU" in title and "run RSS" in title
        assert view._system == {}  # no figure made while closed
        view.system_box.selected_index = 0
        names = list(run.get_system_metrics())
        assert sorted(view._system) == sorted(names) and len(view.system_charts.children) == len(names)
        assert view._system["system/cpu_utilization_percentage"].drawn_points == 3
    finally:
        view.close()
