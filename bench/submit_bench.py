"""Submitted runs: time to the first logged point, and what the supervisor costs."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from .common import Row, fmt_time, quiet_mlflow

FIRST = "from runwidgets import Run\nimport time\nrun = Run.get_context()\nrun.log('x', 1.0)\ntime.sleep(3)\n"
MANY = (
    "from runwidgets import Run\nrun = Run.get_context()\n"
    "for i in range(100_000):\n    run.log('x', float(i))\n    if i % 1000 == 0:\n        print('at', i, flush=True)\n"
)
ML_FIRST = "import mlflow, time\nmlflow.log_metric('x', 1.0)\ntime.sleep(3)\n"
ML_MANY = (
    "import mlflow, time\nfrom mlflow.entities import Metric\nfrom mlflow.tracking import MlflowClient\n"
    "c, rid, now = MlflowClient(), mlflow.active_run().info.run_id if mlflow.active_run() else mlflow.start_run().info.run_id, int(time.time()*1000)\n"
    "for b in range(100):\n    c.log_batch(rid, metrics=[Metric('x', float(i), now, b*1000+i) for i in range(1000)])\n    print('at', b*1000, flush=True)\n"
)
MLPROJECT = "name: bench\nentry_points:\n  main:\n    command: 'python script.py'\n"


def proc_usage(pid: int) -> tuple[float, float] | None:
    """(CPU seconds, peak resident MiB) of a live process, from /proc."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        status = Path(f"/proc/{pid}/status").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    cpu = (int(stat[11]) + int(stat[12])) / os.sysconf("SC_CLK_TCK")
    hwm = next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM")), 0)
    return cpu, hwm / 1024


def sample_until_exit(pid: int, is_done) -> tuple[float, float]:
    last = (0.0, 0.0)
    while not is_done():
        got = proc_usage(pid)
        if got and got[1] > 0:  # a zombie has no memory lines left
            last = got
        time.sleep(0.05)
    return last


def ours(tmp: Path) -> tuple[float, float, float, float]:
    from runwidgets import Experiment, ScriptRunConfig, Workspace

    exp = Experiment(Workspace(tmp / "ws"), "bench")
    src = tmp / "src"
    src.mkdir()
    (src / "first.py").write_text(FIRST)
    (src / "many.py").write_text(MANY)
    firsts = []
    for _ in range(3):
        t = time.perf_counter()
        run = exp.submit(ScriptRunConfig(str(src), "first.py"))
        while not exp.workspace.store.read_series(run.id):
            time.sleep(0.01)
        firsts.append(time.perf_counter() - t)
        run.cancel()
    run = exp.submit(ScriptRunConfig(str(src), "many.py"))
    store = exp.workspace.store
    while store.get_run(run.id).details.supervisor_pid is None:
        time.sleep(0.01)
    pid = store.get_run(run.id).details.supervisor_pid
    assert pid is not None
    cpu, rss = sample_until_exit(pid, lambda: run.get_status() in ("Completed", "Failed"))
    assert len(run.get_metrics()["x"]) == 100_000
    done = store.get_run(run.id)
    assert done.ended is not None and done.started is not None
    wall = done.ended - done.started
    return sorted(firsts)[1], cpu, rss, wall


def mlflow_projects(tmp: Path) -> tuple[float, float, float, float]:
    mlflow = quiet_mlflow(f"sqlite:///{tmp / 'mlflow.db'}")
    from mlflow.tracking import MlflowClient

    os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"  # `mlflow run` must be found
    client = MlflowClient()
    mlflow.set_experiment("bench")
    project = tmp / "proj"
    project.mkdir()
    (project / "MLproject").write_text(MLPROJECT)
    (project / "script.py").write_text(ML_FIRST)
    t = time.perf_counter()
    sub = mlflow.projects.run(
        str(project), env_manager="local", synchronous=False, experiment_name="bench", parameters={}
    )
    while not client.get_metric_history(sub.run_id, "x"):
        time.sleep(0.02)
    first = time.perf_counter() - t
    sub.wait()
    (project / "script.py").write_text(ML_MANY)
    sub = mlflow.projects.run(
        str(project), env_manager="local", synchronous=False, experiment_name="bench", parameters={}
    )
    cpu, rss = sample_until_exit(sub.command_proc.pid, lambda: sub.command_proc.poll() is not None)
    info = client.get_run(sub.run_id).info
    return first, cpu, rss, (info.end_time - info.start_time) / 1000


def run(tmp: Path, quick: bool) -> list[Row]:
    first, cpu, rss, wall = ours(tmp / "ours")
    (tmp / "ml").mkdir()
    ml_first, ml_cpu, ml_rss, ml_wall = mlflow_projects(tmp / "ml")
    return [
        Row(
            "submit() to the script's first logged point",
            fmt_time(first),
            f"{fmt_time(ml_first)} (mlflow.projects.run, local)",
        ),
        Row(
            "supervisor while a script logs 100,000 points",
            f"{cpu:.2f} s CPU, {rss:.0f} MiB peak (run took {wall:.1f} s)",
            f"`mlflow run` process: {ml_cpu:.2f} s CPU, {ml_rss:.0f} MiB peak (run took {ml_wall:.1f} s)",
        ),
    ]
