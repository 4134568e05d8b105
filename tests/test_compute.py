"""Compute targets on a real Dask cluster (a scheduler and two single-thread workers on 127.0.0.1, see
conftest.dask_cluster): runs execute under a worker, stream their logs, obey cancel, and fail naming a lost worker;
sweeps never run more children than the cluster has threads; system metrics for every run with a process."""

from __future__ import annotations

import io
import json
import shutil
import time
from pathlib import Path

import psutil
import pytest
from waiting import wait_until

from runwidgets import Experiment, ScriptRunConfig, Workspace
from runwidgets.compute import ComputeTarget, ComputeTargetException, DaskCompute
from runwidgets.hyperdrive import GridParameterSampling, HyperDriveConfig, choice

pytest.importorskip("distributed")
SCRIPTS = Path(__file__).parent / "scripts"


@pytest.fixture
def src(tmp_path):
    folder = tmp_path / "src"
    folder.mkdir()
    shutil.copy(SCRIPTS / "cluster_job.py", folder / "cluster_job.py")
    return folder


def attach(ws: Workspace, cluster, name: str = "cpu-cluster") -> DaskCompute:
    return ComputeTarget.attach(ws, name, DaskCompute.attach_configuration(address=cluster.address))


def start_long_run(ws: Workspace, src: Path, cluster):
    """A run on the cluster that logs for minutes, once its script has logged."""
    attach(ws, cluster)
    run = Experiment(ws, "e").submit(
        ScriptRunConfig(str(src), "cluster_job.py", compute_target="cpu-cluster",
                        environment_variables={"STEPS": "1000", "SLEEP": "0.1"})
    )  # fmt: skip
    assert wait_until(lambda: "loss" in run.get_metrics(), 60), "the script to log"
    return run


def gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def worker_pid(cluster, rec) -> int:
    return cluster.workers[rec.details.worker_name].pid


def test_targets_attach_persist_and_detach(ws, dask_cluster, capsys):
    assert list(ws.compute_targets) == ["local"]
    target = attach(ws, dask_cluster)
    assert isinstance(ComputeTarget(ws, "cpu-cluster"), DaskCompute)
    again = Workspace(ws.path)  # another notebook: the target persists in the workspace
    assert sorted(again.compute_targets) == ["cpu-cluster", "local"]
    status = target.get_status()
    assert (status.provisioning_state, status.workers, status.threads) == ("Succeeded", 2, 2)
    info = target.info()
    assert sorted(w.name for w in info.workers) == ["w1", "w2"] and all(w.threads == 1 for w in info.workers)
    with pytest.raises(ValueError, match="already has"):
        attach(ws, dask_cluster)
    with pytest.raises(ValueError, match="not valid"):
        ComputeTarget.attach(ws, "no spaces", DaskCompute.attach_configuration(address=dask_cluster.address))
    with pytest.raises(ComputeTargetException, match="no Dask scheduler answers"):
        ComputeTarget.attach(ws, "gone", DaskCompute.attach_configuration(address="tcp://127.0.0.1:9"))
    with pytest.raises(ComputeTargetException, match="no compute target 'gpu'"):
        ComputeTarget(ws, "gpu")
    with pytest.raises(ComputeTargetException, match="no compute target 'gpu'"):
        ScriptRunConfig(str(ws.path), command="true", compute_target="gpu")._submit(Experiment(ws, "e"))
    from runwidgets.cli import main

    assert main(["ls", "--compute", "-w", str(ws.path)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].split() == ["target", "type", "address", "state", "workers", "threads", "running", "queued"]
    assert [ln.split()[:6] for ln in lines[2:]][1] == ["cpu-cluster", "dask", dask_cluster.address, "ok", "2", "2"]
    assert len(lines) == 4  # one line per target: local and the cluster
    target.detach()
    assert list(Workspace(ws.path).compute_targets) == ["local"]


def test_a_run_executes_under_a_worker_and_streams_its_output(ws, src, dask_cluster, capsys):
    attach(ws, dask_cluster)
    config = ScriptRunConfig(str(src), "cluster_job.py", compute_target="cpu-cluster",
                             environment_variables={"STEPS": "4", "SECRET_TOKEN": "s3cr3t"})  # fmt: skip
    run = Experiment(ws, "e").submit(config)
    details = run.wait_for_completion(show_output=True)
    out = capsys.readouterr().out
    assert details["status"] == "Completed" and details["target"] == "cpu-cluster"
    assert [f"step {i}" in out for i in range(4)] == [True] * 4 and "done" in out  # streamed to the caller
    rec = run._store.get_run(run.id)
    assert rec.details.worker_name in ("w1", "w2") and rec.details.worker.startswith("tcp://127.0.0.1:")
    ancestry = json.loads(run.get_metrics()["ancestry"])
    assert worker_pid(dask_cluster, rec) in ancestry  # the script ran under that worker process
    # the snapshot was shipped into the worker's own folder, and the script ran there
    assert Path(run.get_metrics()["cwd"]).is_relative_to(dask_cluster.folder(rec.details.worker_name))
    folder = dask_cluster.folder(rec.details.worker_name)
    assert wait_until(lambda: not list(folder.glob(f"dask-scratch-space/*/runwidgets/{run.id}")), 15), (
        "the worker to clear the run's folder"
    )
    assert "s3cr3t" not in json.dumps(run.get_details())  # variable values never reach the store
    metrics = run.get_system_metrics()
    assert "system/cpu_utilization_percentage" in metrics and "system/process_memory_rss_megabytes" in metrics
    assert not any(n.startswith("system/") for n in run.get_metrics())  # what the script logged, as in Azure


def test_a_sweep_uses_both_workers_and_never_more_than_their_threads(ws, src, dask_cluster):
    attach(ws, dask_cluster)
    sweep = Experiment(ws, "sweep").submit(
        HyperDriveConfig(
            ScriptRunConfig(str(src), "cluster_job.py", compute_target="cpu-cluster",
                            environment_variables={"STEPS": "3", "SLEEP": "0.5"}),
            GridParameterSampling({"--alpha": choice(1, 2, 3, 4, 5, 6)}),
            "loss",
            "MINIMIZE",
            max_concurrent_runs=6,
        )
    )  # fmt: skip
    sweep.wait_for_completion()
    kids = [sweep._store.get_run(k.id) for k in sweep.get_children()]
    assert len(kids) == 6 and all(k.status == "Completed" for k in kids)
    assert {k.details.worker_name for k in kids} == {"w1", "w2"}
    assert all(len(sweep._store.read_series(k.run_id, "loss")[0]) == 3 for k in kids)  # STEPS reached each worker
    events = sorted([(k.started, 1) for k in kids] + [(k.ended, -1) for k in kids])
    at_once = peak = 0
    for _, step in events:
        at_once += step
        peak = max(peak, at_once)
    assert peak <= 2
    control = sweep._store.read_file(sweep.id, "azureml-logs/60_control_log.txt").decode()
    assert "2 worker thread(s): at most 2 children at once" in control


def test_cancel_ends_the_script_on_the_worker(ws, src, dask_cluster):
    run = start_long_run(ws, src, dask_cluster)
    pid = run._store.get_run(run.id).details.pid
    assert psutil.pid_exists(pid)
    run.cancel()
    details = run.wait_for_completion(raise_on_error=False)
    assert details["status"] == "Canceled"
    assert wait_until(lambda: gone(pid), 15), "the script to end"


def test_a_killed_worker_fails_its_run_and_is_named(ws, src, dask_cluster):
    run = start_long_run(ws, src, dask_cluster)
    rec = run._store.get_run(run.id)
    name, script = rec.details.worker_name, rec.details.pid
    try:
        dask_cluster.kill_worker(name)
        details = run.wait_for_completion(raise_on_error=False)
        assert details["status"] == "Failed"
        assert details["error"]["code"] == "WorkerLost" and name in details["error"]["message"]
        assert wait_until(lambda: gone(script), 15), "the script dies with its worker"
        assert run.get_metrics()["loss"]  # what it logged is kept
    finally:
        dask_cluster.start_worker(name)


def test_on_an_mlflow_server_with_no_shared_folder(tmp_path, src, dask_cluster, mlflow_server, capsys):
    from mlflow.tracking import MlflowClient

    ws = Workspace(tmp_path / "ws", tracking_uri=mlflow_server.url)
    attach(ws, dask_cluster, "remote")
    run = Experiment(ws, "remote").submit(
        ScriptRunConfig(str(src), "cluster_job.py", compute_target="remote",
                        environment_variables={"STEPS": "12", "SLEEP": "0.4"})
    )  # fmt: skip
    # the log arrives in pieces while the run goes on, not only at its end
    live = {}

    def seen_live() -> bool:
        got = {n: t for n, t, _ in ws.store.read_logs(run.id, {(run.id, "azureml-logs/70_driver_log.txt"): 0})}
        text = got.get("azureml-logs/70_driver_log.txt", "")
        live["text"] = text
        return "step 1" in text and run.get_status() == "Running"

    assert wait_until(seen_live, 60), f"the driver log while the run is live: {live}"
    from runwidgets import RunDetails

    view = RunDetails(run)  # the view reads the same pieces while the run goes on
    try:
        _ = view.widget
        assert "step 0" in "\n".join(view._logs.get("azureml-logs/70_driver_log.txt", []))
    finally:
        view.close()
    details = run.wait_for_completion(show_output=True)
    assert details["status"] == "Completed" and "step 11" in capsys.readouterr().out
    rec = ws.store.get_run(run.id)
    assert not (ws.path / "runs" / run.id / "azureml-logs" / "70_driver_log.txt").exists()  # written on the worker
    assert Path(run.get_metrics()["cwd"]).is_relative_to(dask_cluster.folder(rec.details.worker_name))
    ancestry = json.loads(run.get_metrics()["ancestry"])
    assert worker_pid(dask_cluster, rec) in ancestry
    # system metrics under MLflow's own names, as its System Metrics tab reads them
    client = MlflowClient(mlflow_server.url)
    history = client.get_metric_history(run.id, "system/cpu_utilization_percentage")
    assert len(history) >= 2
    assert client.get_metric_history(run.id, "system/system_memory_usage_megabytes")
    names = {f.path for f in client.list_artifacts(run.id, "azureml-logs")}
    assert "azureml-logs/70_driver_log.txt" in names  # the whole log, once it ended
    assert all(".parts/" not in n for n in run.get_file_names())
    log = io.StringIO(ws.store.read_file(run.id, "azureml-logs/70_driver_log.txt").decode())
    assert "done" in log.getvalue()


def test_a_store_the_workers_cannot_reach_is_refused(tmp_path, dask_cluster, monkeypatch):
    from runwidgets.compute import cluster

    ws = Workspace(tmp_path / "ws")
    # here, another file than the workers see at that path: as when they run on other hosts
    monkeypatch.setattr(cluster, "local_inode", lambda path: -1)
    with pytest.raises(ComputeTargetException, match="cannot see this workspace's store"):
        attach(ws, dask_cluster)
    assert list(ws.compute_targets) == ["local"]


def test_system_metrics_of_a_local_run_start_at_once(ws, src):
    run = Experiment(ws, "e").submit(ScriptRunConfig(str(src), "cluster_job.py", environment_variables={"STEPS": "1"}))
    run.wait_for_completion()
    # the default interval is 10 s and the run lasts about 1: the first sample was taken at its start
    metrics = run.get_system_metrics()
    cpu = metrics["system/cpu_utilization_percentage"]
    assert (cpu if isinstance(cpu, list) else [cpu]) and "system/process_count" in metrics
    for name in ("system/network_receive_megabytes", "system/disk_read_megabytes"):
        v = metrics[name]
        assert 0 <= (v[-1] if isinstance(v, list) else v) < 10_000  # since the run began, not since boot


def test_interactive_runs_sample_when_asked(exp, monkeypatch):
    monkeypatch.setenv("RUNWIDGETS_SYSTEM_METRICS_INTERVAL", "0.2")
    quiet = exp.start_logging()
    asked = exp.start_logging(system_metrics=True)
    monkeypatch.setenv("RUNWIDGETS_SYSTEM_METRICS", "1")
    by_env = exp.start_logging()
    time.sleep(0.7)
    for r in (quiet, asked, by_env):
        r.complete()
    assert quiet.get_system_metrics() == {}
    for r in (asked, by_env):
        cpu = r.get_system_metrics()["system/cpu_utilization_percentage"]
        assert isinstance(cpu, list) and len(cpu) >= 2
    n = len(asked.get_system_metrics()["system/cpu_utilization_percentage"])
    time.sleep(0.5)
    assert len(asked.get_system_metrics()["system/cpu_utilization_percentage"]) == n  # stopped with the run


def test_a_cluster_created_here_runs_until_deleted(ws, src):
    from runwidgets._process import alive

    target = ComputeTarget.create(
        ws, "laptop", DaskCompute.provisioning_configuration(n_workers=1, threads_per_worker=1)
    )
    try:
        address = target.wait_for_completion(show_output=True)
        assert address.startswith("tcp://127.0.0.1:")
        status = target.get_status()
        assert (status.provisioning_state, status.workers, status.threads) == ("Succeeded", 1, 1)
        run = Experiment(ws, "e").submit(
            ScriptRunConfig(str(src), "cluster_job.py", compute_target=target, environment_variables={"STEPS": "2"})
        )
        assert run.wait_for_completion()["status"] == "Completed"
        assert run._store.get_run(run.id).details.worker == target.info().workers[0].address
        with pytest.raises(ComputeTargetException, match="delete"):
            target.detach()
    finally:
        pid = target.record.pid
        target.delete()
    assert "laptop" not in ws.compute_targets and not alive(pid)


def test_an_automl_search_runs_on_a_worker(ws, dask_cluster):
    pytest.importorskip("flaml")
    from sklearn.datasets import load_breast_cancer

    from runwidgets.automl import AutoMLConfig

    attach(ws, dask_cluster)
    data = load_breast_cancer(as_frame=True).frame
    config = AutoMLConfig(task="classification", training_data=data, label_column_name="target",
                          n_cross_validations=3, iterations=3, allowed_models=["LogisticRegression", "LightGBM"],
                          compute_target="cpu-cluster")  # fmt: skip
    run = Experiment(ws, "automl").submit(config)
    assert run.wait_for_completion()["status"] == "Completed"
    rec = run._store.get_run(run.id)
    assert rec.details.worker_name in ("w1", "w2") and len(run.get_children()) == 3
    best, model = run.get_output()
    assert model.predict(data.drop(columns="target").iloc[:5]).shape == (5,)


def test_a_supervisor_killed_on_the_worker_fails_its_run(ws, src, dask_cluster, monkeypatch):
    """An OOM killer taking the worker's supervisor: the worker lives, the task ends, and the dispatcher
    fails the run once the settle time ($RUNWIDGETS_DISPATCH_SETTLE_SECONDS) has passed with no end recorded."""
    import os
    import signal

    monkeypatch.setenv("RUNWIDGETS_DISPATCH_SETTLE_SECONDS", "1")
    run = start_long_run(ws, src, dask_cluster)
    rec = run._store.get_run(run.id)
    os.kill(rec.details.supervisor_pid, signal.SIGKILL)
    details = run.wait_for_completion(raise_on_error=False)
    assert details["status"] == "Failed" and details["error"]["code"] == "SupervisorLost"
    assert rec.details.worker_name in details["error"]["message"] or rec.details.worker in details["error"]["message"]
    assert wait_until(lambda: gone(rec.details.pid), 15), "the script dies with its supervisor"
    assert run.get_metrics()["loss"]  # what it logged is kept
