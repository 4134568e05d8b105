"""One behavioural suite for every store: the embedded SQLite store and a real MLflow server pass the same
assertions on values, NaN and inf, incremental reads, tags, properties, children, files and logs."""

import io
import json
import logging
import math
import time
from dataclasses import replace

import numpy as np
import pytest
from mlflow_server import quick_failing_client_env

from runwidgets import Experiment, Workspace
from runwidgets.store.base import SCALAR, SeriesKey
from runwidgets.store.query import METRIC, Column, RunQuery, parse_filter


@pytest.fixture(params=["sqlite", "mlflow"])
def ws(request, tmp_path, monkeypatch):
    if request.param == "sqlite":
        return Workspace(tmp_path / "ws")
    for k, v in quick_failing_client_env().items():
        monkeypatch.setenv(k, v)
    return Workspace(tmp_path / "ws", tracking_uri=request.getfixturevalue("mlflow_server").url)


@pytest.fixture
def exp(ws, request):
    return Experiment(ws, f"contract-{request.node.name.split('[')[0][5:40]}")


def series(store, run_id, name):
    (ch,) = [c for c in store.read_series(run_id) if c.key.name == name]
    return ch


def test_numbers_round_trip_exactly(exp):
    run = exp.start_logging()
    values = [0.5, -2.0, math.nan, math.inf, -math.inf, 1e300, 0.0, 3]  # -0.0: the SQLite store's own tests
    for i, v in enumerate(values):
        run.log("v", v, step=i)
    run.log("np", np.float32(0.25))
    run.log("np", np.int64(4))
    run.complete()
    got = series(exp.workspace.store, run.id, "v")
    assert len(got) == len(values)
    for a, b in zip(got.values.tolist(), values):
        assert (math.isnan(a) and math.isnan(b)) or a == b
    assert got.x().tolist() == list(range(len(values)))
    assert series(exp.workspace.store, run.id, "np").values.tolist() == [0.25, 4]


def test_lists_tables_and_strings(exp):
    run = exp.start_logging()
    run.log_list("hist", [1.0, 2.0, 3.0])
    run.log_row("curve", x=1, y=0.5)
    run.log_row("curve", x=2, y=0.25)
    run.log_table("t", {"a": [1.0, 2.0], "b": [3.0, 4.0]})
    run.log("note", "first")
    run.log("note", "latest")
    run.complete()
    m = run.get_metrics()
    assert m["hist"] == [1.0, 2.0, 3.0]
    assert m["curve"] == {"x": [1, 2], "y": [0.5, 0.25]}
    assert m["t"] == {"a": [1.0, 2.0], "b": [3.0, 4.0]}
    assert m["note"] in ("latest", ["first", "latest"])  # MLflow keeps a string's latest value only


def test_incremental_reads_bring_only_what_changed(exp):
    store = exp.workspace.store
    run = exp.start_logging()
    run.log("x", 0.0)
    run.flush()
    delta, cur = store.read_since([run.id], None)
    assert run.id in delta.runs and [len(c) for c in delta.series] == [1]
    for i in range(1, 6):
        run.log("x", float(i))
    run.flush()
    delta, cur = store.read_since([run.id], cur)
    (ch,) = delta.series
    assert ch.key == SeriesKey(run.id, "x", SCALAR) and ch.values.tolist() == [1.0, 2.0, 3.0, 4.0, 5.0]
    assert ch.first_index == 1 and not delta.runs
    delta, cur2 = store.read_since([run.id], cur)
    assert not delta.series and not delta.runs and not delta.logs
    run.complete()
    delta, _ = store.read_since([run.id], cur2)
    assert delta.runs[run.id].status == "Completed"


def test_heartbeats_reach_readers(exp):
    store = exp.workspace.store
    run = exp.start_logging()
    _, cur = store.read_since([run.id], None)
    when = time.time() + 3
    store.heartbeat([run.id], when)
    delta, _ = store.read_since([run.id], cur)
    assert delta.beats.get(run.id) == pytest.approx(when) and not delta.runs
    assert store.get_run(run.id).heartbeat == pytest.approx(when)
    run.complete()


def test_tags_properties_and_status(exp):
    run = exp.start_logging(display_name="named")
    run.tag("team", "vision")
    run.tag("team", "speech")
    run.set_tags({"a": "1", "b": "2"})
    run.remove_tags(["b"])
    run.add_properties({"lr": "0.1"})
    run.add_properties({"lr": "0.1"})  # the same value again is fine
    with pytest.raises(ValueError, match="cannot change"):
        run.add_properties({"lr": "0.2"})
    run.fail("diverged at epoch 3")
    rec = exp.workspace.store.get_run(run.id)
    assert rec.tags == {"team": "speech", "a": "1"} and rec.properties == {"lr": "0.1"}
    assert rec.name == "named" and rec.status == "Failed" and "diverged" in rec.error["message"]
    assert rec.ended is not None and rec.started is not None


def test_children_arrive_in_a_parents_reads(exp):
    store = exp.workspace.store
    parent = exp.start_logging()
    _, cur = store.read_since([parent.id], None)
    kids = [parent.child_run(name=f"c{i}") for i in range(3)]
    for i, k in enumerate(kids):
        k.log("acc", i / 10)
        k.complete()
    delta, cur = store.read_since([parent.id], cur)
    assert {k.id for k in kids} <= set(delta.runs) and cur.children == frozenset(k.id for k in kids)
    assert {c.key.run_id for c in delta.series} == {k.id for k in kids}
    assert [c.name for c in parent.get_children()] == ["c0", "c1", "c2"]
    assert kids[1].parent.id == parent.id
    parent.complete()


def test_files_stay_inside_the_run(exp, tmp_path):
    run = exp.start_logging()
    run.upload_file("outputs/model.bin", io.BytesIO(b"weights"))
    src = tmp_path / "notes.txt"
    src.write_text("hello")
    run.upload_file("notes.txt", str(src))
    for bad in ("../escape.txt", "/etc/passwd"):
        with pytest.raises(ValueError):
            run.upload_file(bad, io.BytesIO(b"x"))
    assert set(run.get_file_names()) >= {"outputs/model.bin", "notes.txt"}
    got = run.download_file("outputs/model.bin", tmp_path / "dl" / "m.bin")
    assert open(got, "rb").read() == b"weights"
    assert exp.workspace.store.read_file(run.id, "notes.txt") == b"hello"
    with pytest.raises((FileNotFoundError, ValueError)):
        exp.workspace.store.read_file(run.id, "../../x")
    run.complete()


def test_logs_are_read_incrementally(exp):
    store = exp.workspace.store
    run = exp.start_logging()
    logger = logging.getLogger(f"contract.{run.id}")
    logger.propagate = False
    logger.addHandler(run.get_logging_handler())
    logger.warning("first line")
    _, cur = store.read_since([run.id], None, log_runs=[run.id])
    logger.warning("second line")
    delta, cur = store.read_since([run.id], cur, log_runs=[run.id])
    (text,) = delta.logs.values()
    assert "second line" in text and "first line" not in text
    delta, _ = store.read_since([run.id], cur, log_runs=[run.id])
    assert not delta.logs
    run.complete()


def test_evaluation_metrics_round_trip(exp):
    """Azure's confusion matrix (a JSON document in the run's files) reads back whole from either store."""
    run = exp.start_logging()
    cm = {"schema_type": "confusion_matrix", "schema_version": "1.0.0",
          "data": {"class_labels": ["a", "b"], "matrix": [[3.0, 1.0], [0.0, 4.0]]}}  # fmt: skip
    run.log_confusion_matrix("cm", cm)
    run.log_residuals("res", {"data": {"bin_edges": [-1.0, 0.0, 1.0], "bin_counts": [2.0, 5.0]}})
    run.complete()
    got = run.get_metrics()
    assert got["cm"] == cm and got["res"]["data"]["bin_counts"] == [2.0, 5.0]
    (ch,) = [c for c in exp.workspace.store.read_series(run.id) if c.key.name == "cm"]
    assert ch.key.kind == "chart" and str(ch.values[-1]).startswith("metrics/cm_")


# -- the runs table's search: one page of runs, filtered and sorted by the store ---------------------------


def _searchable(exp, n=12):
    """n runs: accuracy i/n, a hyperparameter --lr and a plain property, a tag on odd runs; run 2 has children."""
    ids = []
    for i in range(n):
        run = exp.start_logging(display_name=f"r{i:02d}")
        run.log("accuracy", 0.0)
        run.log("accuracy", i / n)
        run.log("loss", math.nan if i == 3 else 1 - i / n)
        run.add_properties({"hyperparameters": json.dumps({"--lr": round(0.01 * i, 4), "--act": "relu"})})
        if i % 2:
            run.tag("team", "vision")
        if i == 2:
            for k in range(3):
                child = run.child_run(name=f"c{k}")
                child.log("accuracy", 0.99 - k / 100)
                child.complete()
        run.complete()
        ids.append(run.id)
    return ids


def test_search_pages_sorts_and_filters_in_the_store(exp):
    store = exp.workspace.store
    _searchable(exp)
    name = exp.name
    cols = store.run_columns([name])
    assert {"accuracy", "loss"} <= set(cols.metrics) and {"--lr", "--act"} <= set(cols.params)
    assert "hyperparameters" not in cols.params

    by_acc = RunQuery((name,), order_by=Column(METRIC, "accuracy"), limit=5)
    first = store.search_runs(by_acc)
    assert [r.name for r in first.runs] == ["r11", "r10", "r09", "r08", "r07"]
    assert first.has_more and first.rows_read == 5
    assert first.metrics[first.runs[0].run_id]["accuracy"] == pytest.approx(11 / 12)
    last = store.search_runs(replace(by_acc, offset=10))
    assert [r.name for r in last.runs] == ["r01", "r00"] and not last.has_more
    assert last.total in (None, 12)  # MLflow cannot count without reading every run
    ascending = store.search_runs(replace(by_acc, descending=False, limit=2))
    assert [r.name for r in ascending.runs] == ["r00", "r01"]

    # a run whose latest value is NaN sorts last either way, and matches no comparison
    by_loss = store.search_runs(RunQuery((name,), order_by=Column(METRIC, "loss"), limit=12, descending=False))
    assert by_loss.runs[-1].name == "r03"

    def names(text, **kw):
        page = store.search_runs(RunQuery((name,), parent_id=..., where=parse_filter(text, cols), limit=50, **kw))
        return sorted(r.name for r in page.runs)

    assert names("accuracy > 0.9") == ["c0", "c1", "c2", "r11"]
    assert names("params.lr = 0.05") == ["r05"]
    assert names("lr = 0.05 and tags.team = vision") == ["r05"]
    assert names("tags.team") == [f"r{i:02d}" for i in range(1, 12, 2)]
    assert names("act = relu and accuracy < 0.1") == ["r00", "r01"]
    assert names("status = Completed and accuracy >= 0.98") == ["c0", "c1"]

    sweep = next(r for r in store.search_runs(RunQuery((name,), limit=50)).runs if r.name == "r02")
    page = store.search_runs(RunQuery((name,), limit=50))
    assert page.children == {sweep.run_id: 3}
    kids = store.search_runs(RunQuery((name,), parent_id=sweep.run_id, order_by=Column(METRIC, "accuracy")))
    assert [r.name for r in kids.runs] == ["c0", "c1", "c2"]


def test_search_takes_values_and_names_from_the_wild(exp):
    """numpy scalars, an int past 2**63, a unicode metric name and hyperparameter, a text metric."""
    store = exp.workspace.store
    run = exp.start_logging()
    run.log("u", 2**70)
    run.log("ñame✓", np.float32(0.5))
    run.log("flag", np.bool_(True))
    run.log("count", np.int64(7))
    run.log("note", "text only")
    run.add_properties({"hyperparameters": json.dumps({"--ç": "é", "--n": 3})})
    run.complete()
    cols = store.run_columns([exp.name])
    assert {"u", "ñame✓", "flag", "count"} <= set(cols.metrics) and "note" not in cols.metrics
    assert {"--ç", "--n"} <= set(cols.params)
    for text in ("ñame✓ > 0.1", "u >= 1e21", "params.ç = é", "flag = 1", "count = 7", "n = 3"):
        page = store.search_runs(RunQuery((exp.name,), where=parse_filter(text, cols)))
        assert [r.run_id for r in page.runs] == [run.id], text
    assert store.search_runs(RunQuery((exp.name,))).metrics[run.id]["u"] == float(2**70)


def test_the_portal_folds_sorts_filters_and_compares_on_either_store(exp):
    """The dashboard's home as a user drives it, on the store it is pointed at."""
    from runwidgets.dashboard import Dashboard

    sweep = exp.start_logging(display_name="sweep")
    sweep.tag("primary_metric", "acc")
    kids = []
    for i in range(4):
        kid = sweep.child_run(name=f"kid{i}")
        kid.add_properties({"hyperparameters": json.dumps({"--lr": [0.1, 0.01, 0.001, 0.0001][i]})})
        for step in range(3):
            kid.log("acc", (i + step) / 10, step=step)
        kid.complete()
        kids.append(kid)
    sweep.complete()
    d = Dashboard(exp.workspace, query=f"experiment={exp.name}")
    try:
        _ = d.widget
        table = d.runs.table
        (row,) = table.rows
        assert row["children"] == 4
        assert list(d.runs.columns_input.value) == ["metrics.acc", "params.--lr"]
        table.sort = {"key": "metrics.acc", "descending": True}
        table.expanded = {sweep.id: 1}
        assert [r["name"] for r in table.child_rows[sweep.id]["rows"]] == ["kid3", "kid2", "kid1", "kid0"]
        assert table.child_rows[sweep.id]["rows"][0]["values"] == {"metrics.acc": 0.5, "params.--lr": 0.0001}
        d.runs.filter.value = "acc > 0.35 and params.--lr != 0.0001"
        assert [(r["name"], r.get("parent")) for r in table.rows] == [("kid2", "sweep")]
        table.selected = [kids[0].id, kids[3].id]
        d._show_compare()
        (chart,) = d.compare.charts.values()
        assert sorted(c.name for c in chart.shown) == ["kid0", "kid3"]
        assert "rw-diff" in d.compare.table.value and "param --lr" in d.compare.table.value
    finally:
        d.close()
