"""The SQLite store: incremental reads, schema versioning, heartbeats."""

import math
import sqlite3
import time

import numpy as np
import pytest

from runwidgets import Experiment, Workspace
from runwidgets.store import sqlite as sq
from runwidgets.store.base import FAILED, RUNNING, RunRecord, SeriesKey
from runwidgets.store.details import Details
from runwidgets.store.query import METRIC, Column, RunQuery


class CountingStore(sq.SqliteStore):
    """Counts statements and rows read, to bound the cost of a poll without timing it."""

    def _read(self, sql, args=()):
        rows = super()._read(sql, args)
        self.queries = getattr(self, "queries", 0) + 1
        self.rows = getattr(self, "rows", 0) + len(rows)
        return rows


def test_wal_and_busy_timeout(ws):
    store = ws.store
    assert store._w.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store._r.execute("PRAGMA busy_timeout").fetchone()[0] == sq.BUSY_TIMEOUT_MS


def test_read_since_returns_only_new(run, ws):
    store = CountingStore(ws.path)
    delta, cur = store.read_since([run.id], None)
    assert run.id in delta.runs and not delta.series
    for i in range(100):
        run.log("x", float(i))
    run.flush()
    delta, cur = store.read_since([run.id], cur)
    (ch,) = delta.series
    assert ch.key == SeriesKey(run.id, "x") and len(ch) == 100 and ch.first_index == 0
    for i in range(5):
        run.log("x", float(i))
    run.flush()
    delta, cur = store.read_since([run.id], cur)
    (ch,) = delta.series
    assert len(ch) == 5 and ch.first_index == 100
    assert np.array_equal(ch.x(), np.arange(100, 105))
    delta, cur2 = store.read_since([run.id], cur)
    assert not delta and cur2 is cur  # idle: nothing, and the same cursor


def test_idle_poll_cost_does_not_grow_with_history(exp, ws):
    big = exp.start_logging()
    small = exp.start_logging()
    for i in range(200_000):
        big.log("x", float(i))
    big.flush()
    small.log("x", 1.0)
    small.flush()
    costs = []
    for r in (big, small):
        store = CountingStore(ws.path)
        _, cur = store.read_since([r.id], None)
        store.queries = store.rows = 0
        for _ in range(10):
            _, cur = store.read_since([r.id], cur)
        costs.append((store.queries, store.rows))
    assert costs[0] == costs[1] == (20, 20)  # two one-row look-ups per idle poll of a live run, however long


def test_children_status_and_tags_arrive_incrementally(run, ws):
    store = sq.SqliteStore(ws.path)
    _, cur = store.read_since([run.id], None)
    child = run.child_run("kid")
    delta, cur = store.read_since([run.id], cur)
    assert set(delta.runs) == {child.id}
    child.log("m", 1.0)
    child.flush()
    child.tag("t", "1")
    delta, cur = store.read_since([run.id], cur)
    assert delta.runs[child.id].tags == {"t": "1"}
    assert [c.key.run_id for c in delta.series] == [child.id]
    run.complete()
    delta, cur = store.read_since([run.id], cur)
    assert delta.runs[run.id].status == "Completed"


def test_unrelated_runs_are_filtered_out(exp, ws):
    a, b = exp.start_logging(), exp.start_logging()
    store = sq.SqliteStore(ws.path)
    _, cur = store.read_since([a.id], None)
    b.log("x", 1.0)
    b.tag("k", "v")
    b.flush()
    delta, cur = store.read_since([a.id], cur)
    # nothing of b; a's own heartbeat may have moved meanwhile (the flush thread beats every 2 s)
    assert not delta.runs and not delta.series and not delta.logs and set(delta.beats) <= {a.id}


def test_logs_read_past_offset(run, ws):
    store = sq.SqliteStore(ws.path)
    path = store.log_path(run.id, "azureml-logs/70_driver_log.txt")
    with open(path, "a") as f:
        f.write("line 1\nline 2\npartial")
    delta, cur = store.read_since([run.id], None, log_runs=[run.id])
    assert delta.logs[(run.id, "azureml-logs/70_driver_log.txt")] == "line 1\nline 2\n"
    with open(path, "a") as f:
        f.write(" end\n")
    delta, cur = store.read_since([run.id], cur, log_runs=[run.id])
    assert delta.logs[(run.id, "azureml-logs/70_driver_log.txt")] == "partial end\n"
    delta, cur = store.read_since([run.id], cur, log_runs=[run.id])
    assert not delta.logs


def test_late_reader_of_a_big_log_starts_near_the_end(run, ws):
    store = sq.SqliteStore(ws.path)
    with open(store.log_path(run.id, "azureml-logs/big.txt"), "w") as f:
        for i in range(100_000):
            f.write(f"line {i}\n")
    delta, _ = store.read_since([run.id], None, log_runs=[run.id])
    text = delta.logs[(run.id, "azureml-logs/big.txt")]
    assert text.endswith("line 99999\n") and text.startswith("line ") and len(text) <= sq.LOG_FIRST_READ_BYTES


def test_schema_version_and_newer_file_refused(tmp_path):
    ws = Workspace(tmp_path / "w")
    assert ws.store.schema_version() == sq.SCHEMA_VERSION
    con = sqlite3.connect(ws.path / sq.DB_NAME)
    con.execute("UPDATE meta SET value='99' WHERE key='schema_version'")
    con.commit()
    con.close()
    with pytest.raises(sq.SchemaError, match="upgrade runwidgets"):
        sq.SqliteStore(ws.path)


def test_migration_path_applies_steps_in_order(tmp_path, monkeypatch):
    root = tmp_path / "m"
    sq.SqliteStore(root).close()
    monkeypatch.setattr(sq, "SCHEMA_VERSION", sq.SCHEMA_VERSION + 1)
    monkeypatch.setitem(sq.MIGRATIONS, sq.SCHEMA_VERSION - 1, "ALTER TABLE runs ADD COLUMN note TEXT")
    store = sq.SqliteStore(root)
    assert store.schema_version() == sq.SCHEMA_VERSION
    cols = [r[1] for r in store._r.execute("PRAGMA table_info(runs)")]
    assert "note" in cols


def test_a_version_1_workspace_gains_its_latest_values_on_upgrade(tmp_path):
    """A workspace from before the runs table searched by metric: its values are read from the last chunks."""
    ws = Workspace(tmp_path / "v1")
    run = Experiment(ws, "old").start_logging()
    for v in (0.1, 0.5, 0.7):
        run.log("acc", v)
        run.flush()
    run.log("loss", math.nan)
    run.log("note", "text")
    run.complete()
    ws.store.close()
    con = sqlite3.connect(ws.path / sq.DB_NAME)
    con.executescript("DROP TABLE latest; UPDATE meta SET value='1' WHERE key='schema_version';")
    con.close()
    store = sq.SqliteStore(ws.path)
    assert store.schema_version() == sq.SCHEMA_VERSION
    got = dict(store._r.execute("SELECT name, value FROM latest").fetchall())
    assert got == {"acc": 0.7, "loss": None}  # NaN: no value to sort by; text: none either
    page = store.search_runs(RunQuery(("old",), order_by=Column(METRIC, "acc")))
    assert page.metrics[run.id] == {"acc": 0.7, "loss": None}


def test_foreign_sqlite_file_refused(tmp_path):
    root = tmp_path / "f"
    root.mkdir()
    con = sqlite3.connect(root / sq.DB_NAME)
    con.execute("CREATE TABLE other(x)")
    con.commit()
    con.close()
    with pytest.raises(sq.SchemaError, match="not a runwidgets workspace"):
        sq.SqliteStore(root)


def test_heartbeat_tells_lost_from_live(exp, monkeypatch):
    run = exp.start_logging()
    store = exp.workspace.store
    rec = store.get_run(run.id)
    assert not rec.is_lost() and rec.display_status == RUNNING
    store.update_run(run.id, heartbeat=time.time() - 3600)
    rec = store.get_run(run.id)
    assert rec.is_lost() and rec.display_status == FAILED
    assert rec.display_error["code"] == "Lost"
    store.heartbeat([run.id], time.time())
    assert store.get_run(run.id).display_status == RUNNING


def test_heartbeat_reaches_readers_as_a_beat_only(run, ws):
    """A reader must see a live run's heartbeat (or it calls the run lost), at one indexed row per live run."""
    store = CountingStore(ws.path)
    _, cur = store.read_since([run.id], None)
    when = time.time() + 5
    store.heartbeat([run.id], when)
    store.queries = store.rows = 0
    delta, cur2 = store.read_since([run.id], cur)
    assert delta.beats == {run.id: when} and not delta.runs and not delta.series
    assert (store.queries, store.rows) == (2, 2)  # the watermarks, and the live run's heartbeat
    delta, cur3 = store.read_since([run.id], cur2)
    assert not delta and cur3 is cur2  # no newer beat: idle, the same cursor
    run.complete()
    delta, cur4 = store.read_since([run.id], cur3)
    assert delta.runs[run.id].status == "Completed"
    store.queries = 0
    delta, _ = store.read_since([run.id], cur4)
    assert not delta and store.queries == 1  # a finished run: one look-up, no heartbeat read


def test_create_run_record_round_trip(ws):
    store = ws.store
    details = Details(hyperparameters={"x": [1]}, pid=7, extra={"from_a_newer_version": True})
    rec = RunRecord("r1", "e", None, "name", RUNNING, 1.0, tags={"a": "b"}, properties={"p": "q"}, details=details)
    store.create_run(rec)
    got = store.get_run("r1")
    assert (got.tags, got.properties, got.details, got.experiment) == ({"a": "b"}, {"p": "q"}, details, "e")


def test_large_ints_and_mixed_series(run):
    run.log("mixed", 1)
    run.log("mixed", 2.5)
    run.log("mixed", "three")
    run.log("big", 2**64)
    m = run.get_metrics()
    assert m["mixed"] == [1, 2.5, "three"] and m["big"] == 2**64


def test_flush_failure_keeps_points_in_order(run, monkeypatch):
    for i in range(10):
        run.log("x", float(i))
    calls = []

    def broken(*a, **k):
        calls.append(1)
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(run._store, "write_points", broken)
    with pytest.raises(sqlite3.OperationalError):
        run.flush()
    monkeypatch.undo()
    for i in range(10, 15):
        run.log("x", float(i))
    assert run.get_metrics()["x"] == [float(i) for i in range(15)]


def test_experiment_created_once(ws):
    Experiment(ws, "e")
    Experiment(ws, "e")
    assert ws.store.list_experiments() == ["e"]


def test_both_stores_keep_the_whole_contract():
    from runwidgets.store.base import RunStore
    from runwidgets.store.mlflow import MlflowStore

    wanted = {n for n in vars(RunStore) if not n.startswith("_")}
    for store in (sq.SqliteStore, MlflowStore):
        missing = {n for n in wanted if not callable(getattr(store, n, None))}
        assert not missing, (store.__name__, missing)


def test_reading_a_workspace_writes_nothing(exp, ws):
    from runwidgets import Experiment
    from runwidgets.cli import main

    run = exp.start_logging()
    run.log("x", 1.0)
    run.complete()
    Experiment(ws, "another")
    before = ws.store._r.execute("PRAGMA data_version").fetchone()[0]
    writes = []
    ws.store._w.set_trace_callback(lambda sql: writes.append(sql) if not sql.startswith("SELECT") else None)
    try:
        assert set(ws.experiments) == {"tests", "another"}
        assert [e.name for e in Experiment.list(ws)] == ["tests", "another"]
        assert main(["--workspace", str(ws.path), "show", run.id]) == 0
    finally:
        ws.store._w.set_trace_callback(None)
    assert writes == []
    assert ws.store._r.execute("PRAGMA data_version").fetchone()[0] == before
