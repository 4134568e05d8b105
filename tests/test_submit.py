"""Submitted scripts, their logs, cancel, and sweeps: real processes."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from runwidgets import Experiment, Run, RunFailedError, ScriptRunConfig
from runwidgets.hyperdrive import (
    GridParameterSampling,
    HyperDriveConfig,
    PrimaryMetricGoal,
    RandomParameterSampling,
    choice,
    loguniform,
    uniform,
)

SCRIPTS = Path(__file__).parent / "scripts"


@pytest.fixture
def src(tmp_path):
    d = tmp_path / "src"
    shutil.copytree(SCRIPTS, d)
    return d


def wait_status(run, statuses, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        s = run.get_status()
        if s in statuses:
            return s
        time.sleep(0.1)
    raise AssertionError(f"run stayed {run.get_status()}")


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as f:  # a zombie is not alive
        return f.read().split()[2] != "Z"


def test_train_on_local_tour(exp, src, capsys):
    config = ScriptRunConfig(source_directory=str(src), script="train.py")
    run = exp.submit(config)
    assert run.get_status() in ("Queued", "Starting", "Running")  # submit returns at once
    details = run.wait_for_completion(show_output=True)
    out = capsys.readouterr().out
    assert "alpha is 0.40, and mse is" in out and f"RunId: {run.id}" in out and "Status: Completed" in out
    assert details["status"] == "Completed"
    metrics = run.get_metrics()
    assert len(metrics["alpha"]) == len(metrics["mse"]) == 20
    best_alpha, best_mse = min(zip(metrics["alpha"], metrics["mse"]), key=lambda am: am[1])
    assert best_mse == min(metrics["mse"])
    files = run.get_file_names()
    assert "outputs/ridge_0.40.pkl" in files and "azureml-logs/70_driver_log.txt" in files
    assert sum(f.startswith("outputs/ridge_") for f in files) == 20
    model = run.download_file(f"outputs/ridge_{best_alpha:.2f}.pkl", str(src.parent / "best.pkl"))
    import joblib

    assert joblib.load(model).alpha == pytest.approx(best_alpha)
    assert "alpha is 0.95" in run.get_details_with_logs()["logFiles"]["azureml-logs/70_driver_log.txt"]


def test_manage_runs_tour(exp, src):
    run = exp.submit(ScriptRunConfig(str(src), "manage.py", arguments=["children"]), tags={"team": "a"})
    run.wait_for_completion()
    kids = run.get_children()
    assert len(kids) == 5 and all(k.get_status() == "Completed" for k in kids)
    assert [k.get_metrics()["i"] for k in kids] == [0, 1, 2, 3, 4]
    assert run.get_tags() == {"team": "a", "phase": "done"}
    run.add_properties({"author": "me"})
    with pytest.raises(ValueError, match="cannot change"):
        run.add_properties({"author": "someone else"})
    run.tag("team", "b")  # tags change
    assert run.get_tags()["team"] == "b"
    assert [r.id for r in exp.get_runs(tags={"team": "b"})] == [run.id]
    assert [r.id for r in exp.get_runs(properties={"author": "me"})] == [run.id]
    assert exp.get_runs(tags="phase")[0].id == run.id


def test_cancel_stops_the_script(exp, src):
    run = exp.submit(ScriptRunConfig(str(src), "manage.py", arguments=["sleep"]))
    wait_status(run, ["Running"])
    deadline = time.time() + 20
    while not run.get_metrics().get("tick") and time.time() < deadline:
        time.sleep(0.1)
    pid = run._store.get_run(run.id).details.pid
    run.cancel()
    assert wait_status(run, ["Canceled"], timeout=15) == "Canceled"
    assert not pid_alive(pid)
    n = len(run.get_metrics()["tick"])
    time.sleep(1.0)
    assert len(run.get_metrics()["tick"]) == n  # no new points after
    assert "tick" in run.get_details_with_logs()["logFiles"]["azureml-logs/70_driver_log.txt"]


def test_script_that_raises_fails_with_its_error_and_keeps_metrics(exp, src):
    run = exp.submit(ScriptRunConfig(str(src), "manage.py", arguments=["raise"]))
    with pytest.raises(RunFailedError, match="the data had a hole in it") as info:
        run.wait_for_completion()
    assert info.value.details["status"] == "Failed"
    err = run.get_details()["error"]
    assert err["code"] == "ValueError" and "the data had a hole in it" in err["message"]
    assert "Traceback" in err["traceback"]
    assert run.get_metrics() == {"before": [1.5, 2.5]}
    details = run.wait_for_completion(raise_on_error=False)
    assert details["status"] == "Failed"


def test_script_calling_fail(exp, src):
    run = exp.submit(ScriptRunConfig(str(src), "manage.py", arguments=["fail"]))
    run.wait_for_completion(raise_on_error=False)
    assert run.get_status() == "Failed"
    assert run.get_details()["error"]["message"] == "gave up on purpose"


def test_max_run_duration(exp, src):
    run = exp.submit(ScriptRunConfig(str(src), "manage.py", arguments=["sleep"], max_run_duration_seconds=1.5))
    wait_status(run, ["Canceled"], timeout=20)
    assert run.get_details()["error"]["code"] == "MaxRunDurationExceeded"


def test_command_and_environment_and_ignore_file(exp, tmp_path):
    src = tmp_path / "cmd"
    (src / "data").mkdir(parents=True)
    (src / "data" / "big.bin").write_bytes(b"0" * 1000)
    (src / "keep.txt").write_text("kept")
    (src / ".amlignore").write_text("data\n*.log\n")
    (src / "noise.log").write_text("x")
    run = exp.submit(
        ScriptRunConfig(
            str(src), command="ls -a; echo secret=$SECRET_TOKEN", environment_variables={"SECRET_TOKEN": "s3"}
        )
    )
    run.wait_for_completion()
    log = run.get_details_with_logs()["logFiles"]["azureml-logs/70_driver_log.txt"]
    assert "keep.txt" in log and "data" not in log.split() and "noise.log" not in log
    assert "secret=s3" in log
    assert "s3" not in json.dumps(run._store.get_run(run.id).details.to_json())  # values never stored


def test_supervisor_outlives_the_submitting_process(ws, src):
    code = (
        "import sys\nfrom runwidgets import Workspace, Experiment, ScriptRunConfig\n"
        f"run = Experiment(Workspace({str(ws.path)!r}), 'detached').submit(ScriptRunConfig({str(src)!r}, 'manage.py', arguments=['children']))\n"
        "print(run.id, flush=True)\n"
        "import os; os.kill(os.getpid(), 9)\n"  # the 'kernel' dies right after submitting
    )
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert p.returncode == -9
    run = Run(Experiment(ws, "detached"), p.stdout.strip())
    wait_status(run, ["Completed"], timeout=60)
    assert len(run.get_children()) == 5


def test_killed_supervisor_leaves_a_run_readers_see_as_dead(exp, src, monkeypatch):
    run = exp.submit(ScriptRunConfig(str(src), "manage.py", arguments=["sleep"]))
    wait_status(run, ["Running"])
    details = run._store.get_run(run.id).details
    deadline = time.time() + 10
    while details.supervisor_pid is None and time.time() < deadline:
        time.sleep(0.1)
        details = run._store.get_run(run.id).details
    os.kill(details.supervisor_pid, signal.SIGKILL)
    time.sleep(1.0)
    assert not pid_alive(details.pid)  # the script dies with its supervisor
    rec = run._store.get_run(run.id)
    assert rec.status == "Running" and rec.is_lost(now=time.time() + 60)
    monkeypatch.setenv("RUNWIDGETS_HEARTBEAT_TIMEOUT", "2")
    time.sleep(2.5)
    assert run.get_status() == "Failed"
    assert run.get_details()["error"]["code"] == "Lost"


def test_sweep_of_12_at_most_3_at_once(exp, src, capsys):
    sampling = GridParameterSampling({"--lr": choice(0.01, 0.05, 0.1, 0.2), "--depth": choice(2, 4, 8)})
    hd = HyperDriveConfig(
        run_config=ScriptRunConfig(str(src), "sweep_child.py"),
        hyperparameter_sampling=sampling,
        primary_metric_name="accuracy",
        primary_metric_goal=PrimaryMetricGoal.MAXIMIZE,
        max_total_runs=12,
        max_concurrent_runs=3,
    )
    parent = exp.submit(hd)
    details = parent.wait_for_completion(show_output=True)
    assert details["status"] == "Completed"
    assert "12/12" in capsys.readouterr().err  # the tqdm bar
    kids = parent.get_children()
    assert len(kids) == 12 and all(k.get_status() == "Completed" for k in kids)
    recs = [k._store.get_run(k.id) for k in kids]
    # never more than 3 running: at every start, count intervals that cover it
    for r in recs:
        overlapping = sum(o.started <= r.started < o.ended for o in recs)
        assert overlapping <= 3
    params = sorted(
        (
            json.loads(k.get_properties()["hyperparameters"])["--lr"],
            json.loads(k.get_properties()["hyperparameters"])["--depth"],
        )
        for k in kids
    )
    assert params == sorted((lr, d) for lr in (0.01, 0.05, 0.1, 0.2) for d in (2, 4, 8))
    finals = {k.id: k.get_metrics()["accuracy"][-1] for k in kids}
    best = parent.get_best_run_by_primary_metric()
    assert finals[best.id] == max(finals.values())
    assert json.loads(best.get_properties()["hyperparameters"]) == {"--lr": 0.05, "--depth": 4}
    ranked = parent.get_children_sorted_by_primary_metric()
    assert [r["best_primary_metric"] for r in ranked] == sorted(finals.values(), reverse=True)
    tags = parent.get_tags()
    assert tags["succeeded"] == "12" and tags["best_child_run_id"] == best.id


def test_cancel_sweep_cancels_children(exp, src):
    hd = HyperDriveConfig(
        ScriptRunConfig(str(src), "manage.py", arguments=["sleep"]),
        RandomParameterSampling({"--x": uniform(0, 1)}, seed=1),
        "tick",
        "MAXIMIZE",
        max_total_runs=6,
        max_concurrent_runs=2,
    )
    parent = exp.submit(hd)
    deadline = time.time() + 30
    while len([k for k in parent.get_children() if k.get_status() == "Running"]) < 2 and time.time() < deadline:
        time.sleep(0.2)
    parent.cancel()
    wait_status(parent, ["Canceled"], timeout=30)
    kids = parent.get_children()
    assert len(kids) == 2 and all(k.get_status() == "Canceled" for k in kids)


def test_random_sampling_is_seeded():
    space = {"--a": uniform(0, 1), "--b": loguniform(-5, 0), "--c": choice(1, 2, 3)}
    one = RandomParameterSampling(space, seed=7).draw(5)
    assert one == RandomParameterSampling(space, properties={"rngSeed": 7}).draw(5)
    assert one != RandomParameterSampling(space, seed=8).draw(5)
    assert all(0 <= p["--a"] <= 1 and 0.0067 < p["--b"] <= 1 and p["--c"] in (1, 2, 3) for p in one)


def test_bad_configs(src):
    with pytest.raises(ValueError, match="exactly one of script= or command="):
        ScriptRunConfig(str(src))
    with pytest.raises(FileNotFoundError, match="no script"):
        ScriptRunConfig(str(src), "nope.py")
    with pytest.raises(TypeError, match="grid sampling takes choice"):
        GridParameterSampling({"--a": uniform(0, 1)})
    with pytest.raises(ValueError, match="RandomParameterSampling needs max_total_runs"):
        HyperDriveConfig(
            ScriptRunConfig(str(src), "train.py"), RandomParameterSampling({"--a": uniform(0, 1)}), "m", "MAXIMIZE"
        )
    with pytest.raises(ValueError, match="primary_metric_goal"):
        HyperDriveConfig(ScriptRunConfig(str(src), "train.py"), GridParameterSampling({"--a": choice(1)}), "m", "UP")


def test_cli_logs_follow(exp, src, ws):
    run = exp.submit(ScriptRunConfig(str(src), "manage.py", arguments=["raise"]))
    p = subprocess.run(
        [sys.executable, "-m", "runwidgets.cli", "--workspace", str(ws.path), "logs", run.id, "--follow"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert p.returncode == 0
    assert "about to fail" in p.stdout and "ValueError: the data had a hole in it" in p.stdout
    assert f"run {run.id} is Failed" in p.stderr


def test_ctrl_c_stops_waiting_and_leaves_the_run(ws, src):
    code = (
        "from runwidgets import Workspace, Experiment, ScriptRunConfig\n"
        f"run = Experiment(Workspace({str(ws.path)!r}), 'w').submit(ScriptRunConfig({str(src)!r}, 'manage.py', arguments=['sleep']))\n"
        "print(run.id, flush=True)\n"
        "d = run.wait_for_completion(show_output=True)\n"
        "print('returned', d['status'], flush=True)\n"
    )
    p = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    run_id = p.stdout.readline().strip()
    lines = []
    while not any(line.startswith("tick") for line in lines):
        lines.append(p.stdout.readline())
    p.send_signal(signal.SIGINT)
    rest = p.communicate(timeout=30)[0]
    assert "Stopped waiting" in rest and "goes on" in rest and "returned Running" in rest
    run = Run(Experiment(ws, "w"), run_id)
    assert run.get_status() == "Running"
    run.cancel()
    wait_status(run, ["Canceled"])


def test_a_bad_time_limit_is_refused_before_anything_is_recorded(exp, src):
    for limit in (-1, 0, "1h"):
        with pytest.raises(ValueError, match="max_run_duration_seconds must be a positive number"):
            exp.submit(ScriptRunConfig(str(src), "train.py", max_run_duration_seconds=limit))
    config = ScriptRunConfig(str(src), "train.py")
    config.run_config.max_run_duration_seconds = -5  # set the Azure way, after the config was made
    with pytest.raises(ValueError, match="max_run_duration_seconds"):
        exp.submit(config)
    assert exp.get_runs() == []


def test_children_a_dead_script_left_open_end_with_it(exp, tmp_path):
    """A script killed outright (the OOM killer) cannot end the child it was logging: the supervisor does,
    rather than leave it Running until it reads as lost. What the child logged stays."""
    from runwidgets import ScriptRunConfig

    src = tmp_path / "src"
    src.mkdir()
    (src / "kid.py").write_text(
        "import os, signal\nfrom runwidgets import Run\nrun = Run.get_context()\nc = run.child_run('open')\n"
        "c.log('x', 1.0)\nc.flush()\ndone = run.child_run('done')\ndone.complete()\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    run = exp.submit(ScriptRunConfig(str(src), "kid.py"))
    run.wait_for_completion(raise_on_error=False)
    assert run.get_status() == "Failed"
    kids = {k.name: k for k in run.get_children()}
    assert kids["done"].get_status() == "Completed"
    assert kids["open"].get_status() == "Failed" and kids["open"].get_details()["error"]["code"] == "ParentEnded"
    assert kids["open"].get_metrics() == {"x": 1.0}
