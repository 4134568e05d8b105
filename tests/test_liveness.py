"""Live runs stay live for as long as their writer beats, past the heartbeat timeout.

Runs last hours; the timeout is 30 s. Here it is shrunk (and the heartbeat
interval with it) so that each run outlives it several times over.
"""

import sys
import textwrap
import threading
import time

import numpy as np
import pytest

from runwidgets import Experiment, ScriptRunConfig
from runwidgets.dashboard import Dashboard
from runwidgets.widget import RunDetails

TIMEOUT = 1.5  # seconds without a heartbeat before a live run reads as lost
LIFE = 6.0  # each run lives four times the timeout


@pytest.fixture(autouse=True)
def short_heartbeat(monkeypatch):
    monkeypatch.setenv("RUNWIDGETS_HEARTBEAT_TIMEOUT", str(TIMEOUT))
    monkeypatch.setenv("RUNWIDGETS_HEARTBEAT_INTERVAL", "0.2")


def statuses_while(view_status, alive, every=0.25) -> list[str]:
    """Status shown at each check while ``alive()`` holds."""
    seen = []
    while alive():
        seen.append(view_status())
        time.sleep(every)
    return seen


def test_interactive_run_stays_running_in_its_view(exp):
    run = exp.start_logging()
    view = RunDetails(run, refresh_interval=1)
    assert view.widget is not None
    logged = []

    def train():
        end = time.time() + LIFE
        i = 0
        while time.time() < end:
            run.log("loss", 1.0 / (i + 1), step=i)
            logged.append(i)
            i += 1
            time.sleep(0.01)

    t = threading.Thread(target=train)
    t.start()

    def shown():
        view.poll()
        return view.header.run["status"]

    try:
        seen = statuses_while(shown, t.is_alive)
    finally:
        t.join()
    assert len(seen) >= LIFE / 0.25 / 2 and set(seen) == {"Running"}, seen
    assert view.polling
    run.complete()
    view.poll()
    assert view.header.run["status"] == "Completed"
    series = view._state.metrics_of(run.id)["loss"][0]
    assert series.n == len(logged)  # every point shown
    assert np.array_equal(series.x, np.arange(len(logged)))
    view.close()


def test_a_stalled_writer_reads_lost_and_comes_back(exp):
    """Only a writer that stopped beating reads as lost; polling goes on, so a stall that ends shows Running again."""
    run = exp.start_logging()
    view = RunDetails(run, refresh_interval=1)
    assert view.widget is not None
    run._beats = False  # the writer stalls: no heartbeat
    time.sleep(TIMEOUT + 0.6)
    assert view.poll() is True  # still watched: its recorded status can change
    assert view.header.run["status"] == "Failed" and view.header.run["error"]["code"] == "Lost"
    run._beats = True
    time.sleep(0.6)
    view.poll()
    assert view.header.run["status"] == "Running" and view.header.run["error"] is None
    assert view.polling
    run.complete()
    view.poll()
    assert view.poll() is False  # finished for real: one last read, then polling stops
    view.close()


def test_submitted_run_stays_running(exp, tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "train.py").write_text(
        textwrap.dedent(f"""
        import time
        from runwidgets import Run
        run = Run.get_context()
        end = time.time() + {LIFE}
        i = 0
        while time.time() < end:
            run.log("acc", i / 1000, step=i)
            i += 1
            time.sleep(0.01)
        run.log("points", i)
        print("done", i)
        """)
    )
    run = exp.submit(ScriptRunConfig(str(src), "train.py"))
    deadline = time.time() + 60
    while run.get_status() != "Running" and time.time() < deadline:
        time.sleep(0.1)
    view = RunDetails(run, refresh_interval=1)
    assert view.widget is not None

    def shown():
        view.poll()
        return view.header.run["status"]

    seen = statuses_while(shown, lambda: run._store.get_run(run.id).status == "Running")
    assert len(seen) >= 8 and set(seen) == {"Running"}, seen
    assert run.wait_for_completion()["status"] == "Completed"
    view.poll()
    total = run.get_metrics()["points"]
    assert view._state.metrics_of(run.id)["acc"][0].n == total
    assert view.header.run["status"] == "Completed"
    view.close()


def test_dashboard_run_page_and_table_stay_running(ws):
    exp = Experiment(ws, "live")
    run = exp.start_logging()
    page = Dashboard(ws, query=f"?run={run.id}")
    assert page.widget is not None
    home = Dashboard(ws, query="?experiment=live")
    assert home.widget is not None
    stop = time.time() + LIFE

    def shown():
        run.log("x", time.time())
        page.details.poll()
        home.refresh()
        (row,) = home.runs.table.rows
        return f"{page.details.header.run['status']}/{row['status']}/{run.get_status()}"

    seen = statuses_while(shown, lambda: time.time() < stop)
    assert set(seen) == {"Running/Running/Running"}, seen
    run.complete()
    page.close()
    home.close()


def test_flush_interval_longer_than_the_timeout_still_beats(exp, monkeypatch):
    """A long flush interval must not starve the heartbeat."""
    from runwidgets.tracking.flusher import FLUSHER

    monkeypatch.setattr(FLUSHER, "interval", 10.0)
    run = exp.start_logging()
    time.sleep(TIMEOUT * 2)
    assert run.get_status() == "Running"
    run.complete()


if sys.platform != "linux":  # pragma: no cover
    pytestmark = pytest.mark.skip("process tests need Linux")


def test_a_new_metric_is_written_at_once_whatever_the_flush_interval(exp, monkeypatch):
    """The first point of a metric wakes the flush thread: it shows before the (long) interval ends."""
    from runwidgets.tracking.flusher import FLUSHER
    from tests.waiting import wait_until

    monkeypatch.setattr(FLUSHER, "interval", 30.0)
    run = exp.start_logging()
    run.log("first", 1.0)
    assert wait_until(lambda: run._store.read_series(run.id, "first"), 10)
    run.log("second", 2.0)  # right after a flush: still written at once
    assert wait_until(lambda: run._store.read_series(run.id, "second"), 10)
    run.complete()
