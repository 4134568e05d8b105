"""The sweep cockpit in RunDetails (curves of every child, parallel coordinates, progress, ticked
children), Azure's evaluation metrics, and table metrics shown as tables or heatmaps. Counts, not timings."""

import json
import math
import time

import numpy as np
import pytest

from runwidgets import RunDetails
from runwidgets.store.base import CANCELED
from runwidgets.submit.policy import Stop
from runwidgets.widget import sweep as cockpit


def make_sweep(exp, n=12, total=None, stop=(), running=()):
    """A parent ranked by ``acc`` (maximize) whose child i climbs to 0.5 + 0.03 i over 6 epochs."""
    parent = exp.start_logging()
    parent.add_properties({
        "primary_metric_config": json.dumps({"name": "acc", "goal": "MAXIMIZE"}),
        "max_total_runs": str(total or n),
    })  # fmt: skip
    kids = []
    for i in range(n):
        c = parent.child_run(f"c{i:02d}")
        c.add_properties({"hyperparameters": json.dumps({"--lr": 0.01 * (i + 1), "--opt": ["sgd", "adam"][i % 2]})})
        epochs = 2 if i in stop else 6
        for e in range(epochs):
            c.log("acc", (0.5 + 0.03 * i) * (e + 1) / 6)
            c.log("loss", 1.0 / (e + 1 + i))
        c.flush()
        if i in stop:
            err = Stop("BanditPolicy", 2, (0.5 + 0.03 * i) * 2 / 6, 0.3, "acc").error()
            exp.workspace.store.update_run(c.id, status=CANCELED, ended=time.time(), error=err)
        elif i not in running:
            c.complete()
        kids.append(c)
    return parent, kids


def test_cockpit_draws_every_curve_best_first_with_stops_and_cutoff(exp):
    parent, kids = make_sweep(exp, stop=(0, 1))
    d = RunDetails(parent)
    _ = d.widget
    try:
        curves = d._curves
        assert curves is not None and d.sweep_box.children[1] is curves.widget
        assert len(curves.shown) == cockpit.TOP  # top 5 by default
        assert [c.name for c in curves.shown] == ["c11", "c10", "c09", "c08", "c07"]
        assert curves.best.y.tolist()[-1] == pytest.approx(0.5 + 0.33)  # the best, drawn apart
        assert np.asarray(curves.rest.y).shape == (4, 6)
        # the two stopped runs: a cross where they stopped (their 2nd report) and the cutoff they missed
        assert sorted(curves.stops.y.tolist()) == pytest.approx(sorted([0.5 * 2 / 6, 0.53 * 2 / 6]))
        assert curves.stops.x.tolist() == [1.0, 1.0]
        assert np.ravel(curves.cutoff.y).tolist() == [0.3, 0.3]  # one level dash at the cutoff both missed
        assert np.ravel(curves.cutoff.x).tolist() == pytest.approx([0.65, 1.35])
        assert "2 stopped early" in curves.note.value and "the cutoff they missed" in curves.note.value
        curves.all.value = True  # the toggle: every child
        assert len(curves.shown) == 12 and np.asarray(curves.rest.y).shape == (11, 6)
        assert curves.rest.y[-1][2:].tolist() == [None] * 4 or np.isnan(np.asarray(curves.rest.y[-1][2:], float)).all()
        # y range: round numbers holding every drawn value and the cutoff
        lo, hi = curves.y_scale.min, curves.y_scale.max
        assert lo == 0.0 and hi == 1.0
        # parallel coordinates: an axis per hyperparameter and one for the metric
        par = d._parallel
        assert list(par.names.text) == ["--lr", "--opt", "acc"] and par.drawn == 12
        assert np.asarray(par.lines.y).shape == (12, 3)
        assert par.lines.color.tolist()[0] == pytest.approx(0.83)  # coloured by the metric, best first
        assert {"adam", "sgd"} <= set(par.ticks.text)  # a choice axis names its values
    finally:
        parent.complete()
        d.close()


def test_progress_counts_and_time_left(exp):
    parent, kids = make_sweep(exp, n=6, total=12, stop=(0,), running=(5,))
    rec = exp.workspace.store.get_run(parent.id)
    children = [exp.workspace.store.get_run(k.id) for k in kids]
    now = rec.started + 100
    p = cockpit.progress(rec, children, now=now)
    assert (p.total, p.done, p.running, p.stopped, p.failed, p.queued) == (12, 4, 1, 1, 0, 6)
    assert p.left_seconds == pytest.approx(100 / 5 * 7)  # 5 finished in 100 s; 7 to go
    d = RunDetails(parent)
    _ = d.widget
    try:
        shown = d.panels.children["progress"]
        assert shown["total"] == 12 and shown["queued"] == 6 and shown["left_seconds"] > 0
    finally:
        kids[5].complete()
        parent.complete()
        d.close()
    ended = exp.workspace.store.get_run(parent.id)
    p = cockpit.progress(ended, [exp.workspace.store.get_run(k.id) for k in kids])
    assert p.total == 6 and p.queued == 0 and p.left_seconds is None  # an ended sweep plans no more


def test_ticked_children_overlay_any_metric(exp):
    parent, kids = make_sweep(exp, n=4)
    d = RunDetails(parent)
    _ = d.widget
    try:
        assert d.overlay_box.children == ()
        d._on_msg(d.panels, {"type": "tick_children", "run_ids": [kids[0].id, kids[2].id, "not-ours"]}, [])
        assert d._ticked == [kids[0].id, kids[2].id]
        chart = d._overlay
        assert list(d.overlay_metric.options) == ["acc", "loss"] and d.overlay_metric.value == "acc"
        assert [c.name for c in chart.shown] == ["c00", "c02"] and chart.rest.display_legend
        d.overlay_metric.value = "loss"
        assert chart.rest.y[0][0] == pytest.approx(1.0) and "loss" in chart.figure.title
        kids[2].log("loss", 0.01)  # a ticked child's new point reaches the overlay on the next poll
        kids[2].flush()
        d.poll()
        assert len([v for v in chart.rest.y[1] if v is not None and not math.isnan(v)]) == 7
        d._on_msg(d.panels, {"type": "tick_children", "run_ids": []}, [])
        assert d.overlay_box.children == ()
    finally:
        parent.complete()
        d.close()


def test_parallel_coordinates_draws_the_best_thousand(exp):
    par = cockpit.ParallelChart("acc")
    n = 1500
    params = [{"lr": 1e-3 * (i + 1), "layers": i % 4} for i in range(n)]
    values = [1.0 - i / n for i in range(n)]
    try:
        par.set_children(params, values)
        assert par.drawn == cockpit.MAX_PARALLEL and np.asarray(par.lines.y).shape == (1000, 3)
        assert "best 1000 of 1500" in par.note.value
        assert np.nanmax(np.asarray(par.lines.y, float)) <= 1.0 and np.nanmin(np.asarray(par.lines.y, float)) >= 0.0
    finally:
        par.close()


def test_curves_send_a_bounded_number_of_points(exp):
    chart = cockpit.CurvesChart("acc")
    curves = [cockpit.Curve(f"r{i}", f"r{i}", np.arange(100_000.0), np.random.rand(100_000)) for i in range(40)]
    try:
        chart.all.value = True
        chart.set_curves(curves)
        assert np.asarray(chart.rest.y).size + np.asarray(chart.best.y).size <= cockpit.CURVE_POINTS * 1.1
    finally:
        chart.close()


def test_a_legend_sits_in_the_corner_the_curves_leave_empty():
    chart = cockpit.CurvesChart("acc", highlight=False)
    steps = np.arange(10.0)
    try:
        chart.set_curves([cockpit.Curve(n, n, steps, 0.5 + steps / 20 + k / 100) for k, n in enumerate("ab")])
        assert chart.figure.legend_location == "bottom-right"  # rising, as accuracy does: they end at the top
        chart.set_curves([cockpit.Curve(n, n, steps, 1 / (steps + 1) + k / 100) for k, n in enumerate("ab")])
        assert chart.figure.legend_location == "top-right"  # falling, as loss does
    finally:
        chart.close()


def test_a_real_policy_sweep_shows_its_stops(exp, tmp_path):
    """A HyperDrive sweep with a Bandit policy: the cockpit marks the runs it stopped, from their records."""
    from runwidgets import ScriptRunConfig
    from runwidgets.hyperdrive import BanditPolicy, GridParameterSampling, HyperDriveConfig, choice

    src = tmp_path / "src"
    src.mkdir()
    (src / "child.py").write_text(
        "import argparse, time\nfrom runwidgets import Run\np = argparse.ArgumentParser()\n"
        "p.add_argument('--q', type=float)\na = p.parse_args()\nrun = Run.get_context()\n"
        "for e in range(8):\n    run.log('acc', a.q * (e + 1) / 8)\n    run.flush()\n    time.sleep(0.3)\n"
    )
    sweep = exp.submit(
        HyperDriveConfig(
            run_config=ScriptRunConfig(str(src), "child.py"),
            hyperparameter_sampling=GridParameterSampling({"--q": choice(1.0, 0.95, 0.2, 0.1)}),
            primary_metric_name="acc",
            primary_metric_goal="MAXIMIZE",
            max_concurrent_runs=4,
            policy=BanditPolicy(slack_factor=0.2, delay_evaluation=2),
        )
    )
    sweep.wait_for_completion()
    d = RunDetails(sweep)
    _ = d.widget
    try:
        stopped = [k for k in sweep.get_children() if k.get_tags().get("early_termination")]
        assert len(stopped) >= 2
        curves = d._curves
        assert len(curves.stops.x) == len(stopped) and all(s.value < s.cutoff for s in curves._stops)
        assert np.asarray(curves.cutoff.y).size == 2 * len({(s.x, s.cutoff) for s in curves._stops})
        assert d.panels.children["progress"]["stopped"] == len(stopped)
    finally:
        d.close()


# -- evaluation metrics and table metrics --------------------------------------------------------------------
CM = {"schema_type": "confusion_matrix", "schema_version": "1.0.0",
      "data": {"class_labels": ["cat", "dog", "bird"], "matrix": [[5, 1, 0], [2, 7, 1], [0, 0, 9]]}}  # fmt: skip


def test_evaluation_metrics_are_checked_stored_and_drawn(run):
    run.log_confusion_matrix("cm", json.dumps(CM), description="validation")
    t = np.array([[[8, 2, 6, 0], [6, 1, 7, 2], [3, 0, 8, 5]], [[8, 6, 2, 0], [7, 2, 6, 1], [1, 0, 8, 7]]])
    run.log_accuracy_table(
        "acc_table",
        {"data": {"class_labels": [0, 1], "probability_tables": t, "percentile_tables": t,
                  "probability_thresholds": [0.0, 0.5, 1.0], "percentile_thresholds": [0.0, 0.5, 1.0]}},
    )  # fmt: skip
    run.log_residuals("res", {"schema_type": "residuals", "data": {"bin_edges": [-1, 0, 1], "bin_counts": [3, 4]}})
    run.log_predictions(
        "pred",
        {"data": {"bin_averages": [0.3, 0.7], "bin_errors": [0.1, 0.05], "bin_counts": [5, 6], "bin_edges": [0, .5, 1]}},
    )  # fmt: skip
    m = run.get_metrics()
    assert m["cm"] == CM
    assert m["acc_table"]["schema_type"] == "accuracy_table" and m["acc_table"]["data"]["class_labels"] == [0, 1]
    assert m["res"]["data"]["bin_counts"] == [3, 4]
    assert any(f.startswith("metrics/cm_") for f in run.get_file_names())
    with pytest.raises(ValueError, match="3 x 3"):
        run.log_confusion_matrix("bad", {"data": {"class_labels": ["a", "b", "c"], "matrix": [[1, 2], [3, 4]]}})
    with pytest.raises(ValueError, match="log_residuals"):
        run.log_confusion_matrix("bad", {"schema_type": "residuals", "data": {}})
    with pytest.raises(ValueError, match="NaN"):
        run.log_residuals("bad", {"data": {"bin_edges": [0, 1], "bin_counts": [float("nan")]}})
    with pytest.raises(ValueError, match="one more"):
        run.log_residuals("bad", {"data": {"bin_edges": [0, 1], "bin_counts": [1, 2]}})
    with pytest.raises(ValueError, match="log_confusion_matrix"):
        run.log("cm", 1.0)  # the name keeps its kind
    assert "bad" not in run.get_metrics()
    d = RunDetails(run)
    _ = d.widget
    try:
        heat = {t["name"]: t for t in d.panels.tables}["cm"]
        assert heat["heat"] and heat["columns"] == ["cat", "dog", "bird"] and heat["rows"][1] == [2, 7, 1]
        roc = d._evaluations["acc_table"]
        assert np.asarray(roc.lines.y).shape == (2, 3) and roc.note.value.startswith("AUC")
        roc.view.value = "precision-recall"
        assert roc.x_axis.label == "recall"
        assert d._evaluations["res"].bars.y.tolist() == [3, 4]
        assert d._evaluations["pred"].lines.y[0].tolist() == [0.3, 0.7]
        assert "cm" not in d._charts  # not a line chart
    finally:
        d.close()


def test_table_metrics_as_tables_and_heatmaps(run):
    run.log_table("confusion", {"a": [9, 1], "b": [2, 8]})  # square counts: a heatmap
    run.log_table("labels", {"name": ["x", "y", "☃"], "score": [1, 2, 3]})  # text: a table
    for e in range(3):
        run.log_row("curve", epoch=e, loss=1.0 / (e + 1))  # numbers against a shared x: a line chart
    run.flush()
    d = RunDetails(run)
    _ = d.widget
    try:
        tables = {t["name"]: t for t in d.panels.tables}
        assert tables["confusion"]["heat"] and tables["confusion"]["rows"] == [[9.0, 2.0], [1.0, 8.0]]
        assert not tables["labels"]["heat"] and tables["labels"]["rows"][2] == ["☃", 3]
        assert "curve" in d._charts and "curve" not in tables and "confusion" not in d._charts
        assert "labels" in d._charts  # its numbers are charted too
    finally:
        d.close()


def test_every_chart_of_a_run_page_has_its_downloads():
    from runwidgets.widget.charts import ChildMetricChart, LineChart
    from runwidgets.widget.evaluation import EvaluationChart

    for chart in (
        LineChart("loss"),
        ChildMetricChart("acc", "MAXIMIZE"),
        EvaluationChart("roc"),
        cockpit.CurvesChart("acc"),
    ):
        controls = chart.widget.children[1].children
        assert [b.description for b in controls[-1].children] == ["PNG", "SVG"], type(chart).__name__
        chart.close()
