import os
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

# Tests never depend on the user's environment; each gets its own workspace.
for var in (
    "RUNWIDGETS_RUN_ID",
    "RUNWIDGETS_WORKSPACE",
    "RUNWIDGETS_PORTAL_URL",
    "RUNWIDGETS_TRACKING_URI",
    "MLFLOW_TRACKING_URI",
    "MLFLOW_RUN_ID",
    "MLFLOW_EXPERIMENT_NAME",
    "MLFLOW_EXPERIMENT_ID",
):
    os.environ.pop(var, None)
os.environ.setdefault("MPLBACKEND", "Agg")
# Environments built by tests: one cache for the session, and pip never reaches an index (no test leaves
# this machine): requirements must be satisfied by the test environment or by local wheels.
os.environ["RUNWIDGETS_ENV_CACHE"] = tempfile.mkdtemp(prefix="runwidgets-envs-")
os.environ["PIP_NO_INDEX"] = "1"


@pytest.fixture
def ws(tmp_path):
    from runwidgets import Workspace

    return Workspace(tmp_path / "ws")


@pytest.fixture
def exp(ws):
    from runwidgets import Experiment

    return Experiment(ws, "tests")


@pytest.fixture
def run(exp):
    r = exp.start_logging()
    yield r
    if not r._closed:
        r.complete()


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory):
    """One real `mlflow server` on 127.0.0.1 for the whole session, stopped by its own pid."""
    from mlflow_server import MlflowServer

    from tests.browser.harness import free_port

    srv = MlflowServer(tmp_path_factory.mktemp("mlflow"), free_port())
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture(scope="session")
def dask_cluster(tmp_path_factory):
    """One real Dask cluster for the session: a scheduler and two single-thread workers (w1, w2) on 127.0.0.1,
    each in its own folder, stopped by their own pids. Logs are sent often and system metrics sampled
    twice a second, so tests see both within a short run."""
    pytest.importorskip("distributed")
    from dask_cluster import DaskCluster

    from tests.browser.harness import free_port

    env = {**os.environ, "RUNWIDGETS_LOG_SHIP_SECONDS": "0.5", "RUNWIDGETS_SYSTEM_METRICS_INTERVAL": "0.5",
           "DASK_DISTRIBUTED__WORKER__DAEMON": "False"}  # fmt: skip
    cluster = DaskCluster(tmp_path_factory.mktemp("dask"), free_port(), env)
    cluster.start()
    yield cluster
    cluster.stop()
