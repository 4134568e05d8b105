"""One bad value never costs a run: refused at the call, or dropped alone at the flush."""

import logging
import math
import sys
import threading
import time
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from runwidgets import Run
from runwidgets.store.files import PYTHON_LOG

BIG = 10**5000


def poison_calls(run):
    """(what, call) pairs; each must raise TypeError or ValueError at the call."""
    return [
        ("huge int, fast path", lambda: run.log("good", BIG)),
        ("huge negative int", lambda: run.log("good", -(10**400))),
        ("huge int with a step", lambda: run.log("good", BIG, step=5)),
        ("huge int in a list", lambda: run.log_list("lst", [1, BIG])),
        ("huge int in a table", lambda: run.log_table("tbl", {"a": [1, BIG]})),
        ("huge int in a row", lambda: run.log_row("row", a=BIG)),
        ("surrogate metric name", lambda: run.log("\ud800", 1.0)),
        ("surrogate string value", lambda: run.log("note", "bad \udcff value")),
        ("surrogate description", lambda: run.log("desc", 1.0, description="\ud800")),
        ("surrogate column", lambda: run.log_row("row", **{"\ud800": 1})),
        ("empty column", lambda: run.log_row("row", **{"": 1})),
        ("10k-character column", lambda: run.log_row("row", **{"c" * 10_000: 1})),
        ("NUL in column", lambda: run.log_row("row", **{"a\x00b": 1})),
        ("surrogate table column", lambda: run.log_table("tbl", {"\ud800": [1]})),
        ("surrogate tag value", lambda: run.tag("t", "\ud800")),
        ("surrogate tag name", lambda: run.tag("\ud800", "v")),
        ("surrogate property", lambda: run.add_properties({"p": "\ud800"})),
        ("surrogate child name", lambda: run.child_run(name="\ud800")),
        ("child id leaving the workspace", lambda: run.child_run(run_id="../../../x")),
        ("child id with a slash", lambda: run.child_run(run_id="a/b")),
        ("numpy datetime64", lambda: run.log("when", np.datetime64("2024-01-02T03:04:05"))),
        ("numpy datetime64[ns]", lambda: run.log("when", np.datetime64("2024-01-02T03:04:05.000000001"))),
        ("0-d datetime array", lambda: run.log("when", np.array(np.datetime64("2024-01-02")))),
        ("numpy timedelta64", lambda: run.log("when", np.timedelta64(5, "s"))),
        ("datetime", lambda: run.log("when", datetime(2024, 1, 2))),
        ("date", lambda: run.log("when", date(2024, 1, 2))),
        ("timedelta", lambda: run.log("when", timedelta(seconds=3))),
        ("pandas Timestamp", lambda: run.log("when", pd.Timestamp("2024-01-02"))),
        ("pandas NaT", lambda: run.log("when", pd.NaT)),
        ("dates in a list", lambda: run.log_list("lst", [np.datetime64("2024-01-02")])),
    ]


def test_each_poison_value_is_refused_at_the_call_and_the_run_survives(exp):
    run = exp.start_logging()
    run.log("good", 1)  # the metric exists: later ints take the fast path
    run.log_list("lst", [1.0, 2.0])
    run.log_table("tbl", {"a": [1, 2]})
    run.log_row("row", a=1)
    for i in range(100):
        run.log("steady", float(i), step=i)
    for what, call in poison_calls(run):
        with pytest.raises((TypeError, ValueError)) as err:
            call()
        assert len(str(err.value)) > 20, what  # says what to do, not just "invalid"
    run.log("good", 2**1000)  # the largest ints that fit a float64 are fine
    run.log("good", np.longdouble(2.5))
    run.log("note", "caf\u00e9 \U0001f600 \u202e odd but valid unicode")
    run.complete()
    assert run.get_status() == "Completed"
    m = run.get_metrics()
    assert m["good"] == [1, 2**1000, 2.5]
    assert m["steady"] == [float(i) for i in range(100)]
    assert m["lst"] == [1.0, 2.0] and m["tbl"] == {"a": [1, 2]} and m["row"] == {"a": [1]}
    assert m["note"] == "caf\u00e9 \U0001f600 \u202e odd but valid unicode"
    assert not any(n.startswith("..") for n in run.get_file_names())
    assert not (Path(run._store.root).parent / "x").exists()


class Unencodable:
    """What no store can write (a value that got past the checks)."""


def test_an_unwritable_point_is_dropped_alone_and_said_once(exp, caplog):
    """Should a value slip past the checks, the flush drops that point only, says so once, and goes on."""
    run = exp.start_logging()
    for i in range(10):
        run.log("x", float(i))
        run.log("s", f"text {i}")
    run.flush()
    caplog.set_level(logging.WARNING, logger="runwidgets")
    logging.getLogger("runwidgets").addHandler(caplog.handler)
    try:
        for _ in range(3):  # each flush meets poison again: it is said once in all
            for i in range(100):
                run.log("x", float(i))
                run.log("s", f"text {i}")
                if i in (17, 60):
                    run._queue("s").append((Unencodable(), None, time.time()))  # past the checks
            run.flush()
    finally:
        logging.getLogger("runwidgets").removeHandler(caplog.handler)
    said = [r for r in caplog.records if "dropped" in r.getMessage()]
    assert len(said) == 1 and "'s'" in said[0].getMessage()
    assert run._buffer.dropped == {"s": 6}
    run.complete()  # completes: nothing left that fails
    assert run.get_status() == "Completed"
    m = run.get_metrics()
    assert len(m["x"]) == 310 and m["x"][-1] == 99.0  # every other metric flows
    assert len(m["s"]) == 310 and all(v.startswith("text") for v in m["s"])  # only the bad points are gone
    log = Path(run._store.log_path(run.id, PYTHON_LOG)).read_text()
    assert "dropped" in log  # the run's own log says so too


def test_threads_racing_on_new_names_lose_nothing(exp):
    """Every thread starts the same new metrics at once, while the flush thread swaps deques."""
    run = exp.start_logging()
    threads, names, per_thread = 8, 6, 300
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        for round_ in range(3):
            barrier = threading.Barrier(threads)

            def work(round_=round_, barrier=barrier):
                barrier.wait()
                for i in range(per_thread):
                    for n in range(names):
                        run.log(f"r{round_}_m{n}", float(i))

            ts = [threading.Thread(target=work) for _ in range(threads)]
            for t in ts:
                t.start()
            while any(t.is_alive() for t in ts):
                run.flush()  # swaps under the loggers' feet
            for t in ts:
                t.join()
    finally:
        sys.setswitchinterval(old)
    run.complete()
    m = run.get_metrics()
    for round_ in range(3):
        for n in range(names):
            got = m[f"r{round_}_m{n}"]
            assert len(got) == threads * per_thread, (round_, n)
            assert sorted(got) == sorted(float(i) for i in range(per_thread) for _ in range(threads))
    assert all(len(q) == 0 for _, q, _ in run._buffer.retired)


def test_stored_values_round_trip_from_the_wild(exp):
    run = exp.start_logging()
    wild = [np.float32(0.1), np.int64(-7), np.uint64(2**64 - 1), np.bool_(True), 2**70, -(2**70), math.nan, math.inf,
            -math.inf, -0.0, np.float16(1.5), "z\u00fcrich \u4e2d\u6587 \u200b"]  # fmt: skip
    for v in wild:
        run.log("w", v)
    run.complete()
    got = Run(exp, run.id).get_metrics()["w"]
    assert got[0] == pytest.approx(0.1, rel=1e-6) and got[1] == -7 and got[2] == 2**64 - 1 and got[3] is True
    assert got[4] == 2**70 and got[5] == -(2**70)
    assert math.isnan(got[6]) and got[7] == math.inf and got[8] == -math.inf and math.copysign(1, got[9]) == -1
    assert got[10] == 1.5 and got[11] == "z\u00fcrich \u4e2d\u6587 \u200b"
