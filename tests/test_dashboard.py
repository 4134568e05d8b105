"""The dashboard server and `make demo`, without a browser."""

import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from runwidgets import Experiment, Workspace
from runwidgets.dashboard import Dashboard, server
from runwidgets.store.query import METRIC, Column, Condition, FilterError, RunColumns, parse_filter

ROOT = Path(__file__).resolve().parents[1]


def listeners(port: int) -> list[str]:
    """Local addresses listening on ``port``, from /proc/net/tcp and tcp6."""
    out = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            addr, p = local.rsplit(":", 1)
            if int(p, 16) == port and state == "0A":
                out.append(addr)
    return out


def processes_mentioning(text: str) -> list[str]:
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            cwd = os.readlink(f"/proc/{pid}/cwd")
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if state != "Z" and (text in cmd or cwd.startswith(text)):
            found.append(f"{pid}: {cmd}")
    return found


def test_dashboard_binds_loopback_only(ws):
    from tests.browser.harness import free_port

    port = free_port()
    proc, base = server.start(ws, port)
    try:
        assert base == f"http://127.0.0.1:{port}"
        addrs = listeners(port)
        assert addrs and all(a == "0100007F" for a in addrs), addrs  # 127.0.0.1, and no IPv6 or 0.0.0.0
        html = urllib.request.urlopen(f"{base}/", timeout=120).read().decode()
        assert "cdn.jsdelivr.net" not in html  # nothing from the internet
        assert "cdnjs" not in html
    finally:
        server.stop(proc)
    assert proc.poll() is not None


def test_dashboard_home_and_run_page_as_widgets(ws):
    exp = Experiment(ws, "exp-a")
    a = exp.start_logging(display_name="alpha")
    a.tag("team", "x")
    for i in range(5):
        a.log("loss", 1.0 / (i + 1))
    a.complete()
    b = exp.start_logging(display_name="beta")
    b.tag("team", "y")
    b.log("loss", 0.3)
    b.fail("bad")
    d = Dashboard(ws)
    _ = d.widget
    table = d.runs.table
    assert [r["name"] for r in table.rows] == ["beta", "alpha"]  # newest first
    assert [c["key"] for c in table.columns] == ["metrics.loss"] and table.rows[1]["values"]["metrics.loss"] == 0.2
    assert "tags" not in table.rows[0]  # tags are a column only when picked
    d.runs.status.value = "Failed"
    assert [r["name"] for r in table.rows] == ["beta"]
    d.runs.status.value = "All"
    d.runs.filter.value = "tags.team = x"
    assert [r["name"] for r in table.rows] == ["alpha"]
    d.runs.filter.value = "tags.team"
    assert len(table.rows) == 2
    d.runs.filter.value = "loss >"
    assert "needs a value" in d.runs.message.value and len(table.rows) == 2  # the last good rows stay
    d.runs.filter.value = ""
    assert d.runs.message.value == ""
    table.sort = {"key": "metrics.loss", "descending": False}
    assert [r["name"] for r in table.rows] == ["alpha", "beta"]
    table.selected = [a.id, b.id]
    assert d.compare_button.description == "Compare 2 ticked runs"
    d._show_compare()
    (chart,) = d.compare.charts.values()
    assert list(d.compare.metrics.value) == ["loss"] and [c.name for c in chart.shown] == ["alpha", "beta"]
    assert "rw-diff" in d.compare.table.value and "final loss" in d.compare.table.value
    d.close()
    page = Dashboard(ws, query=f"run={a.id}")
    _ = page.widget
    assert page.details.run_id == a.id and page.details.header.run["status"] == "Completed"
    assert page.details.panels.live is False  # the log panel does not claim to follow an ended run
    page.close()
    missing = Dashboard(ws, query="run=nope")
    assert "No run" in missing.widget.children[1].value


def test_columns_and_sort_are_remembered_per_experiment(ws):
    for name in ("one", "two"):
        run = Experiment(ws, name).start_logging()
        run.log("acc", 0.5)
        run.log("loss", 0.1)
        run.add_properties({"hyperparameters": '{"--lr": 0.1}'})
        run.complete()
    d = Dashboard(ws, query="experiment=one")
    _ = d.widget
    assert list(d.runs.columns_input.value) == ["metrics.acc", "metrics.loss", "params.--lr"]
    d.runs.columns_input.value = ["params.--lr", "metrics.acc"]
    d.runs.table.sort = {"key": "metrics.acc", "descending": True}
    d.runs.experiments.value = "two"  # another experiment keeps its own (the defaults)
    assert list(d.runs.columns_input.value) == ["metrics.acc", "metrics.loss", "params.--lr"]
    d.close()

    again = Dashboard(ws, query="experiment=one")  # a new page, as after a reload
    _ = again.widget
    assert list(again.runs.columns_input.value) == ["params.--lr", "metrics.acc"]
    assert again.runs.table.sort == {"key": "metrics.acc", "descending": True}
    assert [c["label"] for c in again.runs.table.columns] == ["--lr", "acc"]
    again.close()


def test_runs_ticked_in_two_experiments_are_compared_together(ws):
    ids = {}
    for name, acc in (("one", 0.5), ("two", 0.7)):
        run = Experiment(ws, name).start_logging(display_name=f"run of {name}")
        run.log("acc", acc)
        run.complete()
        ids[name] = run.id
    d = Dashboard(ws, query="experiment=one")
    _ = d.widget
    d.runs.table.selected = [ids["one"]]
    d.runs.experiments.value = "two"  # the tick stays while another experiment is listed
    assert [r["name"] for r in d.runs.table.rows] == ["run of two"]
    d.runs.table.selected = [*d.runs.table.selected, ids["two"]]
    assert d.compare_button.description == "Compare 2 ticked runs"
    d._show_compare()
    (chart,) = d.compare.charts.values()
    assert sorted(c.name for c in chart.shown) == ["run of one", "run of two"]
    assert ">one</td>" in d.compare.table.value and ">two</td>" in d.compare.table.value  # the experiment row
    d.close()


def test_columns_follow_metrics_a_running_run_starts_logging(ws, monkeypatch):
    monkeypatch.setenv("RUNWIDGETS_DASHBOARD_COLUMNS_SECONDS", "0.5")
    run = Experiment(ws, "fresh").start_logging()  # the page opens before the first metric
    d = Dashboard(ws, query="experiment=fresh")
    _ = d.widget
    assert list(d.runs.columns_input.value) == []
    looks = []
    read = ws.store.run_columns
    monkeypatch.setattr(ws.store, "run_columns", lambda *a: looks.append(a) or read(*a))
    for _ in range(3):
        d.refresh()
    assert looks == []  # within the interval, refreshes do not look
    run.log("loss", np.float32(0.5))
    run.log("准确率 ✓", 0.75)  # names from the wild
    run.flush()
    time.sleep(0.6)  # past the interval
    d.refresh()
    assert looks and list(d.runs.columns_input.value) == ["metrics.loss", "metrics.准确率 ✓"]
    assert d.runs.table.rows[0]["values"] == {"metrics.loss": 0.5, "metrics.准确率 ✓": 0.75}
    d.runs.columns_input.value = ["metrics.loss"]  # picked by hand: kept as new metrics arrive
    run.log("f1", 0.6)
    run.flush()
    time.sleep(0.6)
    d.refresh()
    assert list(d.runs.columns_input.value) == ["metrics.loss"]
    assert "metrics.f1" in d.runs.columns_input.allowed_tags
    run.log("final", 1.0)
    run.complete()
    d.refresh()  # the run count is unchanged, and within the interval, but the run just ended: one last look
    assert "metrics.final" in d.runs.columns_input.allowed_tags
    looks.clear()
    time.sleep(0.6)
    for _ in range(3):
        d.refresh()
    assert looks == []  # a finished experiment is not asked for its columns again
    d.close()


def test_a_sweep_folds_its_children_and_pages_them(ws):
    exp = Experiment(ws, "sweepy")
    parent = exp.start_logging(display_name="sweep")
    parent.tag("primary_metric", "acc")
    parent.tag("best_primary_metric", "0.99")
    for i in range(30):
        kid = parent.child_run(name=f"kid{i:02d}")
        kid.log("acc", i / 30)
        kid.complete()
    parent.complete()
    d = Dashboard(ws, query="experiment=sweepy")
    _ = d.widget
    table = d.runs.table
    (row,) = table.rows
    assert row["children"] == 30 and row["best"] == {"metrics.acc": 0.99}
    table.sort = {"key": "metrics.acc", "descending": True}
    table.expanded = {parent.id: 1}
    kids = table.child_rows[parent.id]
    assert kids["total"] == 30 and len(kids["rows"]) == 25 and kids["rows"][0]["name"] == "kid29"
    table.expanded = {parent.id: 2}
    assert len(table.child_rows[parent.id]["rows"]) == 30
    d.runs.filter.value = "acc >= 0.9"  # a filter lists matching children flat, each naming its parent
    assert [(r["name"], r.get("parent")) for r in table.rows] == [
        ("kid29", "sweep"),
        ("kid28", "sweep"),
        ("kid27", "sweep"),
    ]
    d.close()


def test_make_demo_bounded(tmp_path):
    from tests.browser.harness import free_port

    ws = tmp_path / "demo-ws"
    port = free_port()
    args = f"--until-done --port {port} --workspace {ws} --epochs 3 --pause 0"
    p = subprocess.run(
        ["make", "--no-print-directory", "demo", f"DEMO_ARGS={args}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env={k: v for k, v in os.environ.items() if k != "PIP_NO_INDEX"},  # make may (re)install the venv
    )
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    out = p.stdout
    assert f"dashboard  http://127.0.0.1:{port}/" in out
    assert "the dashboard answered 200 for the sweep's page" in out
    assert "every process the demo started has ended" in out
    assert processes_mentioning(str(ws)) == []
    w = Workspace(ws)
    (sweep,) = w.store.find_runs(experiment="digits-sgd", parent_id=None)
    assert sweep.status == "Completed" and sweep.tags["succeeded"] == "6"
    kid = w.store.find_runs(parent_id=sweep.run_id)[0]
    files = w.store.list_files(kid.run_id)
    assert "outputs/model.pkl" in files and any(f.startswith("images/confusion_matrix") for f in files)


@pytest.mark.parametrize("cmd", [["ls"], ["show"]])
def test_terminal_helpers(ws, cmd):
    run = Experiment(ws, "t").start_logging(display_name="term")
    run.log("acc", 0.5)
    run.log("acc", 0.75)
    run.complete()
    args = [sys.executable, "-m", "runwidgets.cli", "--workspace", str(ws.path), *cmd]
    if cmd == ["show"]:
        args.append(run.id)
    p = subprocess.run(args, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert run.id in p.stdout and "Completed" in p.stdout
    if cmd == ["show"]:
        assert "0.75  (last of 2)" in p.stdout and run.get_portal_url() in p.stdout


def _tree(pid: int) -> list:
    import psutil

    try:
        return [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]
    except psutil.Error:
        return []


@pytest.mark.parametrize("how", ["SIGTERM", "SIGHUP", "SIGINT during start-up"])
def test_every_way_of_stopping_the_cli_stops_voila_and_its_kernels(ws, tmp_path, how):
    import signal
    import time

    import psutil

    from tests.browser.harness import free_port
    from tests.waiting import wait_until

    Experiment(ws, "e").start_logging().complete()
    port = free_port()
    cli = subprocess.Popen(
        [sys.executable, "-m", "runwidgets.cli", "-w", str(ws.path), "dashboard", "--port", str(port), "--no-browser"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )  # fmt: skip
    try:
        if how == "SIGINT during start-up":
            assert wait_until(lambda: any("voila_app" in " ".join(p.cmdline()) for p in _tree(cli.pid)[1:]), 60)
            seen = _tree(cli.pid)
            cli.send_signal(signal.SIGINT)
        else:
            assert wait_until(lambda: "Ctrl-C stops it" in (cli.stdout.readline() or ""), 90)
            urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=120).read()  # a page: a kernel starts
            assert wait_until(lambda: any("ipykernel" in " ".join(p.cmdline()) for p in _tree(cli.pid)), 30)
            seen = _tree(cli.pid)
            cli.send_signal(getattr(signal, how))
        cli.wait(timeout=60)
        gone, alive = psutil.wait_procs(seen, timeout=30)
        assert alive == [], [p.cmdline() for p in alive]
        assert len(seen) >= 2  # the CLI and Voila at least (and a kernel once a page was served)
        time.sleep(0.2)
        assert listeners(port) == []
    finally:
        for p in _tree(cli.pid):
            p.kill()


def test_the_gate_and_the_token_rule():
    from runwidgets.dashboard.voila_app import refusal

    local = {"Host": "127.0.0.1:8866"}
    assert refusal(local, False) is None
    assert refusal({"Host": "localhost:8866"}, False) is None and refusal({"Host": "[::1]:8866"}, False) is None
    assert "rebinding" in refusal({"Host": "attacker.example:8866"}, False)
    assert refusal({"Host": "myhost.lan:8866"}, True) is None  # --ip widened it: a token guards instead
    assert refusal({**local, "Origin": "http://127.0.0.1:8866"}, False) is None
    assert refusal({**local, "Origin": "http://attacker.example"}, False)
    img = {**local, "Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "no-cors", "Sec-Fetch-Dest": "image"}
    assert refusal(img, False)
    assert refusal({**local, "Sec-Fetch-Site": "same-origin", "Sec-Fetch-Dest": "script"}, False) is None
    with pytest.raises(ValueError, match="token"):
        server.start(Workspace.__new__(Workspace), 1, ip="0.0.0.0")  # refused before anything starts
    cmd = server.command(8866, "0.0.0.0", "s3cret", 60)
    assert "--token=s3cret" in cmd and "--Voila.port_retries=0" in cmd


def test_the_theme_is_passed_to_voila_and_checked(ws):
    assert "--theme=dark" in server.command(8866, "127.0.0.1", None, 60, "dark")
    assert "--theme=light" in server.command(8866, "127.0.0.1", None, 60)
    with pytest.raises(ValueError, match="theme must be one of light, dark"):
        server.start(ws, theme="solarized")
    assert ws.portal_hint() is not None  # nothing was started or recorded


def test_a_store_failing_under_the_open_home_page_is_said_on_it(ws):
    from runwidgets.store.errors import DamagedWorkspace

    Experiment(ws, "e").start_logging().complete()
    page = Dashboard(ws, query="?experiment=e")
    _ = page.widget
    assert len(page.runs.table.rows) == 1 and page.problem.value == ""
    page.poll_failed(DamagedWorkspace(f"{ws.path / 'runwidgets.db'} is damaged: restore it from a backup"), 10)
    assert "is damaged" in page.problem.value and len(page.runs.table.rows) == 1  # the last rows stay
    assert page.poll() is True and page.problem.value == ""  # the store answers again: the line goes
    page.close()


def test_a_start_up_past_its_timeout_stops_what_it_started(ws):
    import psutil

    from tests.browser.harness import free_port

    before = {p.pid for p in psutil.Process().children(recursive=True)}
    with pytest.raises(RuntimeError, match="did not answer"):
        server.start(ws, free_port(), timeout=0.05)  # Voila cannot answer this soon
    left = [p for p in psutil.Process().children(recursive=True) if p.pid not in before and p.is_running()]
    assert [p for p in left if p.status() != psutil.STATUS_ZOMBIE] == []


def test_filters_that_cannot_be_read_say_why():
    cols = RunColumns(["accuracy"], ["--lr"])
    for bad, says in [
        ("accuracy >", "needs a value"),
        ("accuracy > high", "needs a number"),
        ("accuracy 0.9", "needs an operator"),
        ("accuracy > 0.9 loss < 1", "expected 'and'"),
        ("accuracy > 0.9 and", "ends with 'and'"),
        ("accuracy", "needs an operator"),
        ("attributes.colour = red", "no run attribute"),
    ]:
        with pytest.raises(FilterError, match=says):
            parse_filter(bad, cols)
    (cond,) = parse_filter("metrics.`val loss` <= -1e-3", RunColumns(["val loss"], []))
    assert cond == Condition(Column(METRIC, "val loss"), "<=", -0.001)


def test_ten_thousand_runs_are_read_a_page_at_a_time(ws):
    from tests.many_runs import seed_runs

    seed_runs(ws.store, "big", 10_000)
    d = Dashboard(ws, query="experiment=big")
    _ = d.widget
    table = d.runs.table
    assert len(table.rows) == 50 and table.total == 10_000 and d.runs.rows_read == 50
    table.page = 1
    assert table.rows[0]["name"] == "run 09949" and d.runs.rows_read == 100
    table.sort = {"key": "metrics.accuracy", "descending": True}
    d.runs.filter.value = "accuracy > 0.99 and params.lr = 0.1"  # every fourth run has lr 0.1
    assert table.total == 24 and table.rows[0]["name"] == "run 09996"  # 9904, 9908, ... 9996
    assert d.runs.rows_read <= 50 * 5  # each refresh a page, never the experiment
    d.close()


def test_run_links_say_how_to_start_the_dashboard_when_none_serves(ws, monkeypatch):
    from runwidgets.tracking.portal import forget_dashboard, record_dashboard

    monkeypatch.delenv("RUNWIDGETS_PORTAL_URL", raising=False)
    assert ws.portal_hint() == f"runwidgets dashboard -w {ws.path}"
    record_dashboard(ws.path, "http://127.0.0.1:9999", os.getpid())  # a live process serves it
    assert ws.portal_hint() is None and ws.portal_url == "http://127.0.0.1:9999"
    forget_dashboard(ws.path, os.getpid() + 1)  # another dashboard's stop leaves this record
    assert ws.portal_url == "http://127.0.0.1:9999"
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    record_dashboard(ws.path, "http://127.0.0.1:9998", dead.pid)  # its process is gone: a stale record
    assert ws.portal_hint() is not None and ws.portal_url == "http://127.0.0.1:8866"
    run = Experiment(ws, "e").start_logging()
    run.complete()
    from runwidgets.widget import RunDetails

    view = RunDetails(run)
    _ = view.widget
    assert view.header.run["portal_hint"] == f"runwidgets dashboard -w {ws.path}"
    view.close()
