"""Azure ML v1's own sample notebooks, re-created cell by cell with only their imports changed.

The tours: manage-runs, train-on-local, a scikit-learn HyperDrive tour, and the
MLflow tours (train-local, train-remote, train-projects-local). Cloud-only cells
(clusters, deployment) become their local equivalents. Values are checked
against what the test computes, not against what the code under test says.
"""

import importlib
import json
import os
import sys
import textwrap
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::FutureWarning", "ignore::UserWarning")


def write(folder: Path, files: dict[str, str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(textwrap.dedent(text))
    return folder


# -- names and modules as Azure spells them ---------------------------------------------------------------
SHORT = {
    "runwidgets.run": "runwidgets.tracking.run",
    "runwidgets.workspace": "runwidgets.tracking.workspace",
    "runwidgets.experiment": "runwidgets.tracking.experiment",
    "runwidgets.script_run_config": "runwidgets.submit.config",
    "runwidgets.environment": "runwidgets.submit.environment",
    "runwidgets.runconfig": "runwidgets.submit.environment",
    "runwidgets.conda_dependencies": "runwidgets.submit.environment",
    "runwidgets.hyperdrive.runconfig": "runwidgets.submit.sweep",
    "runwidgets.hyperdrive.run": "runwidgets.submit.sweep",
    "runwidgets.hyperdrive.sampling": "runwidgets.submit.sampling",
    "runwidgets.hyperdrive.parameter_expressions": "runwidgets.submit.sampling",
}
# What Azure's notebooks import, with "azureml" replaced by "runwidgets".
LITERAL = [
    ("runwidgets.core", ["Workspace", "Experiment", "Run", "ScriptRunConfig", "Environment", "RunConfiguration"]),
    ("runwidgets.core.run", ["Run"]),
    ("runwidgets.core.workspace", ["Workspace"]),
    ("runwidgets.core.experiment", ["Experiment"]),
    ("runwidgets.core.script_run_config", ["ScriptRunConfig"]),
    ("runwidgets.core.environment", ["Environment"]),
    ("runwidgets.core.runconfig", ["RunConfiguration"]),
    ("runwidgets.core.conda_dependencies", ["CondaDependencies"]),
    ("runwidgets.train.hyperdrive", ["HyperDriveConfig", "RandomParameterSampling", "PrimaryMetricGoal", "choice"]),
    ("runwidgets.train.hyperdrive.runconfig", ["HyperDriveConfig"]),
    ("runwidgets.train.hyperdrive.sampling", ["RandomParameterSampling", "GridParameterSampling"]),
    ("runwidgets.train.hyperdrive.run", ["PrimaryMetricGoal", "HyperDriveRun"]),
    ("runwidgets.train.hyperdrive.parameter_expressions", ["choice", "uniform", "loguniform"]),
    ("runwidgets.widgets", ["RunDetails"]),
]


def test_both_spellings_import_the_real_modules():
    import runwidgets

    for alias, real in SHORT.items():
        assert importlib.import_module(alias) is importlib.import_module(real), alias
    for alias, names in LITERAL:
        module = importlib.import_module(alias)
        for name in names:
            assert getattr(module, name) is not None, f"{alias}.{name}"
    from runwidgets.core.run import Run
    from runwidgets.train.hyperdrive.run import HyperDriveRun

    assert Run is runwidgets.Run and issubclass(HyperDriveRun, Run)
    assert runwidgets.tracking.run.__spec__.name == "runwidgets.tracking.run"  # the alias left the real one as it was
    assert not hasattr(runwidgets.tracking.run, "__path__")  # a module alias does not become a package
    import runwidgets.core

    assert runwidgets.core.VERSION == runwidgets.VERSION == runwidgets.__version__
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("runwidgets.core.no_such_module")


def test_aliases_cost_nothing_until_used():
    import subprocess

    code = (
        "import sys, runwidgets; print(sorted(m for m in sys.modules if m.startswith('runwidgets.')"
        " and m.split('.')[1] in ('core', 'train', 'widgets', 'widget')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


# -- manage-runs ------------------------------------------------------------------------------------------
HELLO = {
    "hello.py": "print('Hello Azure ML!')\n",
    "hello_with_children.py": """
        from runwidgets.core import Run

        run = Run.get_context()
        child_runs = run.create_children(count=5)
        for c, child in enumerate(child_runs):
            child.log(name="Hello from child run ", value=c)
            child.complete()
        tagged = run.create_children(tag_key="fold", tag_values=["a", "b"])
        for child in tagged:
            child.complete()
        """,
    "hello_with_delay.py": """
        import time

        print("Wait for 60 seconds..", flush=True)
        time.sleep(60)
        print("Done waiting")
        """,
}


def test_manage_runs_tour(tmp_path, monkeypatch, capsys):
    import runwidgets.core
    from runwidgets.core import Experiment, Run, ScriptRunConfig, Workspace

    print(runwidgets.core.VERSION)
    monkeypatch.chdir(write(tmp_path / "project", HELLO))
    ws = Workspace.from_config()  # a new ./.runwidgets, as Azure's first cell found config.json
    exp = Experiment(workspace=ws, name="explore-runs")

    notebook_run = exp.start_logging()
    notebook_run.log(name="message", value="Hello from run!")
    assert notebook_run.get_status() == "Running"
    details = notebook_run.get_details()
    assert "endTimeUtc" not in details and details["startTimeUtc"] and details["type"] == "interactive"
    notebook_run.complete()
    assert notebook_run.get_status() == "Completed" and notebook_run.get_details()["endTimeUtc"]

    with exp.start_logging() as notebook_run:
        notebook_run.log(name="message", value="Hello from run!")
        assert notebook_run.get_status() == "Running"
    assert notebook_run.get_status() == "Completed"
    notebook_run.display_name = "renamed"
    assert Run.get(ws, notebook_run.id).display_name == "renamed"

    (Path(".amlignore")).write_text("# Exclude the outputs directory\n/outputs\n")
    run_config = ScriptRunConfig(source_directory=".", script="hello.py")
    local_script_run = exp.submit(run_config)
    capsys.readouterr()
    local_script_run.wait_for_completion(show_output=True)
    out = capsys.readouterr().out
    head, _, summary = out.partition("Execution Summary")
    assert head.startswith(f"RunId: {local_script_run.id}\nWeb View: http")
    assert "Streaming azureml-logs/70_driver_log.txt" in head and "Hello Azure ML!" in head
    assert f"RunId: {local_script_run.id}" in summary and "Status: Completed" in summary
    logs = local_script_run.get_details_with_logs()["logFiles"]
    assert "Hello Azure ML!" in logs["azureml-logs/70_driver_log.txt"]
    assert "azureml-logs/60_control_log.txt" in logs  # the supervisor's log, beside the driver's
    assert local_script_run.type == "azureml.scriptrun"

    local_script_run.add_properties({"author": "azureml-user"})
    with pytest.raises(ValueError):
        local_script_run.add_properties({"author": "different-user"})
    local_script_run.tag("quality", "great run")
    local_script_run.tag("quality", "fantastic run")
    local_script_run.tag("worth another look")
    assert local_script_run.get_tags() == {"quality": "fantastic run", "worth another look": None}
    found = list(exp.get_runs(properties={"author": "azureml-user"}, tags={"quality": "fantastic run"}))
    assert [r.id for r in found] == [local_script_run.id]
    found = list(exp.get_runs(properties={"author": "azureml-user"}, tags="worth another look"))
    assert [r.id for r in found] == [local_script_run.id]

    # children created by a submitted script
    parent = exp.submit(ScriptRunConfig(source_directory=".", script="hello_with_children.py"))
    parent.wait_for_completion(show_output=True)
    kids = parent.get_children()
    assert len(kids) == 7 and all(k.get_status() == "Completed" for k in kids)
    assert sorted(k.get_metrics()["Hello from child run "] for k in kids[:5]) == [0, 1, 2, 3, 4]
    assert [k.get_tags().get("fold") for k in kids[5:]] == ["a", "b"]

    with exp.start_logging() as parent_run:
        for c, _count in enumerate(range(5)):
            with parent_run.child_run() as child:
                child.log(name="Hello from child run", value=c)
    assert len(list(parent_run.get_children())) == 5

    # cancel and fail
    run_config = ScriptRunConfig(source_directory=".", script="hello_with_delay.py")
    local_script_run = exp.submit(run_config)
    local_script_run.cancel()
    local_script_run.wait_for_completion(raise_on_error=False)
    assert local_script_run.get_status() == "Canceled"
    local_script_run = exp.submit(run_config)
    local_script_run.fail()
    assert local_script_run.get_status() == "Failed"

    # the snapshot, as a zip
    zip_path = local_script_run.restore_snapshot(path="snapshots")
    names = set(zipfile.ZipFile(zip_path).namelist())
    assert {"hello.py", "hello_with_children.py", "hello_with_delay.py"} <= names
    assert not any(n.startswith("outputs") for n in names) and Path(zip_path).parent == Path("snapshots").resolve()

    # run types, Run.list and get_all_logs
    scripts = Run.list(exp, type="azureml.scriptrun")
    assert len(scripts) == 4 and {r.id for r in scripts} >= {parent.id, local_script_run.id}
    assert {r.type for r in exp.get_runs()} == {"interactive", "azureml.scriptrun"}
    got = parent.get_all_logs(destination=tmp_path / "logs")
    assert {Path(p).name for p in got} >= {"70_driver_log.txt", "60_control_log.txt"}
    assert all(Path(p).is_file() for p in got)


def test_create_children_refuses_what_it_cannot_do(run):
    with pytest.raises(ValueError, match="count"):
        run.create_children()
    with pytest.raises(ValueError, match="2 tag_values"):
        run.create_children(count=3, tag_key="k", tag_values=["a", "b"])
    with pytest.raises(ValueError, match="tag_key"):
        run.create_children(tag_values=["a"])
    with pytest.raises(ValueError, match="whole number"):
        run.create_children(count=0)
    assert run.get_children() == []


def test_submit_child_and_restore_snapshot_of_an_interactive_run(run, tmp_path):
    from runwidgets import ScriptRunConfig

    src = write(tmp_path / "src", {"child.py": "from runwidgets.run import Run\nRun.get_context().log('x', 1)\n"})
    child = run.submit_child(ScriptRunConfig(str(src), "child.py"))
    child.wait_for_completion()
    assert child.parent.id == run.id and child.get_metrics() == {"x": 1}
    with pytest.raises(FileNotFoundError, match="no snapshot"):
        run.restore_snapshot(path=tmp_path)
    snap = run.experiment.start_logging(snapshot_directory=str(src))
    zip_path = snap.restore_snapshot(path=tmp_path / "s.zip")
    assert zipfile.ZipFile(zip_path).namelist() == ["child.py"]
    snap.complete()


# -- train-on-local -----------------------------------------------------------------------------------------
TRAIN_ON_LOCAL = {
    "train.py": """
        import os
        import sys

        import joblib
        import mylib
        import numpy as np
        from sklearn.datasets import load_diabetes
        from sklearn.linear_model import Ridge
        from sklearn.metrics import mean_squared_error
        from sklearn.model_selection import train_test_split

        from runwidgets.core.run import Run

        os.makedirs("./outputs", exist_ok=True)
        X, y = load_diabetes(return_X_y=True)
        run = Run.get_context()
        X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=0)
        for alpha in mylib.get_alphas():
            reg = Ridge(alpha=alpha).fit(X_train, y_train)
            mse = mean_squared_error(reg.predict(X_test), y_test)
            run.log("alpha", alpha)
            run.log("mse", mse)
            joblib.dump(value=reg, filename=os.path.join("./outputs/", "ridge_{0:.2f}.pkl".format(alpha)))
        print("python", sys.prefix)
        try:
            import rwtestpkg
            print("rwtestpkg", rwtestpkg.VALUE)
        except ImportError:
            print("rwtestpkg absent")
        """,
    "mylib.py": """
        import numpy as np

        def get_alphas():
            return np.arange(0.0, 1.0, 0.25)
        """,
}


def make_wheel(folder: Path) -> Path:
    """A one-module wheel, built by hand, so that pip installs a package here without any index."""
    name, version = "rwtestpkg", "1.0"
    dist = f"{name}-{version}.dist-info"
    files = {
        f"{name}.py": "VALUE = 42\n",
        f"{dist}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
        f"{dist}/WHEEL": "Wheel-Version: 1.0\nGenerator: hand\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    files[f"{dist}/RECORD"] = "".join(f"{n},,\n" for n in files) + f"{dist}/RECORD,,\n"
    path = folder / f"{name}-{version}-py3-none-any.whl"
    folder.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as z:
        for n, text in files.items():
            z.writestr(n, text)
    return path


def test_train_on_local_tour(tmp_path, monkeypatch):
    import runwidgets.core
    from runwidgets.core import Environment, Experiment, ScriptRunConfig
    from runwidgets.core.conda_dependencies import CondaDependencies
    from runwidgets.core.workspace import Workspace

    print("SDK version:", runwidgets.core.VERSION)
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "scripts", TRAIN_ON_LOCAL)
    ws = Workspace(tmp_path / "ws")
    assert (ws.subscription_id, ws.resource_group, ws.location) == ("local", "local", "local") and ws.name
    exp = Experiment(workspace=ws, name="train-on-local")

    user_managed_env = Environment("user-managed-env")
    user_managed_env.python.user_managed_dependencies = True
    src = ScriptRunConfig(source_directory="./scripts", script="train.py", environment=user_managed_env)
    run = exp.submit(src)
    run.wait_for_completion(show_output=False)
    log = run.get_details_with_logs()["logFiles"]["azureml-logs/70_driver_log.txt"]
    assert f"python {sys.prefix}" in log and "azureml-logs/20_image_build_log.txt" not in run.get_file_names()

    # a managed environment: conda's scikit-learn (mapped to pip) plus a package only the environment has
    system_managed_env = Environment("system-managed-env")
    system_managed_env.python.user_managed_dependencies = False
    cd = CondaDependencies.create(conda_packages=["scikit-learn", "python=3.8"], pip_packages=["azureml-defaults"])
    cd.add_pip_package(str(make_wheel(tmp_path / "wheels")))
    system_managed_env.python.conda_dependencies = cd
    src.run_config.environment = system_managed_env
    run = exp.submit(src)
    details = run.wait_for_completion(show_output=False)
    assert details["status"] == "Completed"
    log = run.get_details_with_logs()["logFiles"]
    built = log["azureml-logs/20_image_build_log.txt"]
    assert "building environment 'system-managed-env'" in built and "python=3.8 was asked for" in built
    assert "rwtestpkg 42" in log["azureml-logs/70_driver_log.txt"]
    env_prefix = log["azureml-logs/70_driver_log.txt"].split("python ", 1)[1].split()[0]
    assert env_prefix != sys.prefix and Path(env_prefix).is_relative_to(Path(os.environ["RUNWIDGETS_ENV_CACHE"]))
    with pytest.raises(ImportError):
        importlib.import_module("rwtestpkg")  # installed into the run's environment, not this one

    metrics = run.get_metrics()
    assert metrics["alpha"] == [0.0, 0.25, 0.5, 0.75] and len(metrics["mse"]) == 4
    best_alpha = metrics["alpha"][int(np.argmin(metrics["mse"]))]
    assert f"outputs/ridge_{best_alpha:.2f}.pkl" in run.get_file_names()

    again = exp.submit(src)  # the same spec: the environment is reused, not rebuilt
    again.wait_for_completion()
    reused = again.get_details_with_logs()["logFiles"]["azureml-logs/20_image_build_log.txt"]
    assert "reusing environment 'system-managed-env'" in reused and "building" not in reused

    docker_env = Environment("docker-env")
    docker_env.docker.enabled = True
    print(docker_env.docker.base_image)
    docker_env.python.conda_dependencies = cd
    src.run_config.environment = docker_env
    with pytest.raises(ValueError, match="Docker image"):
        exp.submit(src)
    cuda = Environment("cuda")
    cuda.python.conda_dependencies = CondaDependencies.create(conda_packages=["cudatoolkit=11.3"])
    src.run_config.environment = cuda
    with pytest.raises(ValueError, match="no pip equivalent"):
        exp.submit(src)
    assert len(exp.get_runs()) == 3  # refused configs recorded nothing


def test_environments_from_files_interpreters_and_registry(tmp_path, ws):
    from runwidgets import Environment, Experiment, ScriptRunConfig

    (tmp_path / "requirements.txt").write_text("# comment\nscikit-learn  # inline\n\nnumpy>=1\n")
    env = Environment.from_pip_requirements("pip-env", tmp_path / "requirements.txt")
    assert env.python.conda_dependencies.pip_packages == ["scikit-learn", "numpy>=1"]
    (tmp_path / "conda.yml").write_text(
        "name: e\nchannels: [conda-forge]\ndependencies:\n  - python=3.10\n  - pytorch=2.1\n  - pip\n"
        "  - pip:\n    - pandas==2.*\n"
    )
    conda = Environment.from_conda_specification("conda-env", tmp_path / "conda.yml")
    spec = conda._spec()
    assert spec.requirements == ["torch==2.1.*", "pandas==2.*"] and spec.python_version == "3.10"
    registered = conda.register(ws)
    assert registered.version == "1" and conda.register(ws).version == "2"
    assert Environment.get(ws, "conda-env")._spec().requirements == spec.requirements
    assert Environment.get(ws, "conda-env", version="1").version == "1"
    assert Environment.get(ws, "AzureML-sklearn-1.5").python.user_managed_dependencies  # curated: this Python
    with pytest.raises(KeyError):
        Environment.get(ws, "nope")

    src = write(tmp_path / "src", {"which.py": "import sys\nprint('exe', sys.executable)\n"})
    custom = Environment("custom")
    custom.python.user_managed_dependencies = True
    custom.python.interpreter_path = sys.executable
    run = Experiment(ws, "interp").submit(ScriptRunConfig(str(src), "which.py", environment=custom))
    run.wait_for_completion()
    assert f"exe {sys.executable}" in run.get_details_with_logs()["logFiles"]["azureml-logs/70_driver_log.txt"]
    custom.python.interpreter_path = str(tmp_path / "no-python")
    with pytest.raises(FileNotFoundError, match="interpreter_path"):
        Experiment(ws, "interp").submit(ScriptRunConfig(str(src), "which.py", environment=custom))


def test_a_failed_build_fails_the_run_and_says_why(tmp_path, exp):
    from runwidgets import Environment, ScriptRunConfig

    env = Environment("unbuildable")
    env.python.conda_dependencies.add_pip_package("no-such-package-anywhere==0.0.1")
    src = write(tmp_path / "src", {"x.py": "print('never')\n"})
    run = exp.submit(ScriptRunConfig(str(src), "x.py", environment=env))
    details = run.wait_for_completion(raise_on_error=False)
    assert details["status"] == "Failed" and details["error"]["code"] == "EnvironmentBuildFailed"
    assert "no-such-package-anywhere" in run.get_details_with_logs()["logFiles"]["azureml-logs/20_image_build_log.txt"]
    assert "azureml-logs/70_driver_log.txt" not in run.get_file_names() or "never" not in (
        run.get_details_with_logs()["logFiles"].get("azureml-logs/70_driver_log.txt", "")
    )


# -- a HyperDrive tour (scikit-learn's, on the iris shape) ---------------------------------------------------------
IRIS = {
    "train_iris.py": """
        import argparse

        from runwidgets.core.run import Run

        parser = argparse.ArgumentParser()
        parser.add_argument("--kernel", type=str, default="linear")
        parser.add_argument("--penalty", type=float, default=1.0)
        args = parser.parse_args()
        run = Run.get_context()
        run.log("Kernel type", str(args.kernel))
        run.log("Penalty", float(args.penalty))
        base = {"linear": 0.9, "rbf": 0.8, "poly": 0.7}[args.kernel] - 0.1 * abs(args.penalty - 1)
        for epoch, factor in enumerate((0.5, 1.0, 0.9)):  # the best value is not the last one
            run.log("Accuracy", base * factor)
        """
}


def iris_accuracy(kernel: str, penalty: float) -> list[float]:
    base = {"linear": 0.9, "rbf": 0.8, "poly": 0.7}[kernel] - 0.1 * abs(penalty - 1)
    return [base * f for f in (0.5, 1.0, 0.9)]


def test_hyperdrive_tour(tmp_path, ws):
    from runwidgets.core import Experiment, ScriptRunConfig
    from runwidgets.train.hyperdrive.parameter_expressions import choice
    from runwidgets.train.hyperdrive.run import PrimaryMetricGoal
    from runwidgets.train.hyperdrive.runconfig import HyperDriveConfig
    from runwidgets.train.hyperdrive.sampling import RandomParameterSampling
    from runwidgets.widgets import RunDetails

    project_folder = write(tmp_path / "sklearn-iris", IRIS)
    experiment = Experiment(ws, name="train_iris")
    src = ScriptRunConfig(
        source_directory=str(project_folder), script="train_iris.py", arguments=["--kernel", "linear", "--penalty", 1.0]
    )
    param_sampling = RandomParameterSampling(
        {"--kernel": choice("linear", "rbf", "poly"), "--penalty": choice(0.5, 1, 1.5)}
    )
    hyperdrive_config = HyperDriveConfig(
        run_config=src,
        hyperparameter_sampling=param_sampling,
        primary_metric_name="Accuracy",
        primary_metric_goal=PrimaryMetricGoal.MAXIMIZE,
        max_total_runs=6,
        max_concurrent_runs=3,
    )
    hyperdrive_run = experiment.submit(hyperdrive_config)
    hyperdrive_run.wait_for_completion(show_output=False)
    assert hyperdrive_run.get_status() == "Completed" and hyperdrive_run.type == "hyperdrive"
    assert type(ws.get_run(hyperdrive_run.id)).__name__ == "HyperDriveRun"  # read back as its type

    hps = hyperdrive_run.get_hyperparameters()
    assert len(hps) == 6 and all(isinstance(v, str) for v in hps.values())  # JSON text, as Azure gives it
    params = {rid: json.loads(text) for rid, text in hps.items()}
    expected = {rid: iris_accuracy(p["--kernel"], float(p["--penalty"])) for rid, p in params.items()}

    metrics = hyperdrive_run.get_metrics()
    assert set(metrics) == set(hps)
    for rid, m in metrics.items():
        assert m["Accuracy"] == pytest.approx(expected[rid]) and m["Kernel type"] == params[rid]["--kernel"]

    best_value = max(max(v) for v in expected.values())
    best_ids = [rid for rid, v in expected.items() if max(v) == best_value]
    first_best = min(best_ids, key=lambda rid: ws.get_run(rid)._record.created)  # ties: the earlier child
    best_run = hyperdrive_run.get_best_run_by_primary_metric()
    assert best_run.id == first_best
    assert best_run.get_details()["runDefinition"]["arguments"][-4:] == [
        "--kernel", params[first_best]["--kernel"], "--penalty", str(params[first_best]["--penalty"])
    ]  # fmt: skip
    rows = hyperdrive_run.get_children_sorted_by_primary_metric()
    assert rows[0]["run_id"] == first_best and rows[0]["best_primary_metric"] == pytest.approx(best_value)
    assert [r["best_primary_metric"] for r in rows] == sorted((max(v) for v in expected.values()), reverse=True)
    tags = hyperdrive_run.get_tags()
    assert tags["best_child_run_id"] == first_best and float(tags["best_primary_metric"]) == pytest.approx(best_value)

    view = RunDetails(hyperdrive_run)
    try:
        _ = view.widget  # builds the views and reads the run
        assert view.panels.children["best"] == first_best  # the widget ranks by the same rule
    finally:
        view.close()


# -- MLflow tours -----------------------------------------------------------------------------------------------------------
@pytest.fixture
def mlflow_uri():
    """MLflow's process-wide state (tracking URI, experiment, autolog, MLFLOW_* variables), put back after."""
    import mlflow
    import mlflow.tracking.fluent as fluent

    saved = {k: v for k, v in os.environ.items() if k.startswith("MLFLOW_")}
    yield mlflow
    while mlflow.active_run():
        mlflow.end_run()
    if "mlflow.sklearn" in sys.modules:
        mlflow.sklearn.autolog(disable=True)
    mlflow.set_tracking_uri(None)
    fluent._active_experiment_id = None
    for k in [k for k in os.environ if k.startswith("MLFLOW_")]:
        del os.environ[k]
    os.environ.update(saved)


def test_mlflow_train_local_tour(tmp_path, monkeypatch, mlflow_uri):
    import matplotlib.pyplot as plt
    import mlflow
    import mlflow.sklearn
    import runwidgets.core
    from runwidgets.core import Workspace
    from runwidgets.widgets import RunDetails
    from sklearn.datasets import load_diabetes
    from sklearn.linear_model import Ridge
    from sklearn.metrics import mean_squared_error
    from sklearn.model_selection import train_test_split

    print("SDK version:", runwidgets.core.VERSION)
    monkeypatch.chdir(tmp_path)
    ws = Workspace(tmp_path / "ws")
    mlflow.set_tracking_uri(ws.get_mlflow_tracking_uri())
    assert ws.get_mlflow_tracking_uri().startswith("runwidgets:///")
    experiment_name = "LocalTrain-with-mlflow-sample"
    mlflow.set_experiment(experiment_name)
    X, y = load_diabetes(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=0)
    with mlflow.start_run() as run:
        mlflow.log_metric("alpha", 0.03)
        regression_model = Ridge(alpha=0.03).fit(X_train, y_train)
        preds = regression_model.predict(X_test)
        mse = mean_squared_error(y_test, preds)
        mlflow.log_metric("mse", mse)
        for epoch in range(5):
            mlflow.log_metric("loss", 1.0 / (epoch + 1), step=epoch)
        mlflow.sklearn.log_model(regression_model, name="model")
        fig = plt.figure(1)
        idx = np.argsort(y_test)
        plt.plot(y_test[idx], preds[idx])
        fig.savefig("actuals_vs_predictions.png")
        mlflow.log_artifact("actuals_vs_predictions.png")
    assert ws.experiments[experiment_name].name == experiment_name

    ours = ws.get_run(run.info.run_id)  # the same run, through runwidgets
    assert ours.get_status() == "Completed"
    assert ours.get_metrics() == {"alpha": 0.03, "mse": pytest.approx(mse), "loss": [1.0, 0.5, 1 / 3, 0.25, 0.2]}
    assert "actuals_vs_predictions.png" in ours.get_file_names()
    loaded = mlflow.sklearn.load_model(f"runs:/{run.info.run_id}/model")
    assert np.allclose(loaded.predict(X_test), preds)

    found = mlflow.search_runs(experiment_names=[experiment_name], filter_string="metrics.mse > 1")
    assert list(found["run_id"]) == [run.info.run_id] and found["status"][0] == "FINISHED"
    got = mlflow.get_run(run.info.run_id)
    assert got.data.metrics["loss"] == 0.2 and got.info.status == "FINISHED"
    history = mlflow.MlflowClient().get_metric_history(run.info.run_id, "loss")
    assert [m.step for m in history] == [0, 1, 2, 3, 4]

    mlflow.sklearn.autolog()
    with mlflow.start_run() as auto:
        Ridge(alpha=0.5).fit(X_train, y_train)
    auto_run = ws.get_run(auto.info.run_id)
    assert auto_run.get_properties()["alpha"] == "0.5"  # MLflow params are properties
    assert auto_run.get_metrics()["training_r2_score"] == pytest.approx(
        Ridge(alpha=0.5).fit(X_train, y_train).score(X_train, y_train)
    )

    view = RunDetails(ours)  # a plain-MLflow run shows like any other
    try:
        _ = view.widget  # builds the views and reads the run
        assert {c.name for c in view._state.series} >= {"alpha", "mse", "loss"}
        assert view._state.record.status == "Completed"
    finally:
        view.close()


def test_runwidgets_runs_read_through_mlflow(run, mlflow_uri):
    import mlflow

    run.log("acc", 0.5)
    run.log("acc", 0.75)
    run.add_properties({"lr": "0.1"})
    run.tag("team", "a")
    run.complete()
    mlflow.set_tracking_uri(run.experiment.workspace.get_mlflow_tracking_uri())
    got = mlflow.get_run(run.id)
    assert got.data.metrics == {"acc": 0.75} and got.data.params == {"lr": "0.1"} and got.data.tags["team"] == "a"
    df = mlflow.search_runs(experiment_names=[run.experiment.name])
    assert list(df["run_id"]) == [run.id] and list(df["metrics.acc"]) == [0.75]
    with pytest.raises(mlflow.exceptions.MlflowException):
        mlflow.MlflowClient().log_param(run.id, "lr", "0.2")  # params, like properties, are set once


def test_an_mlflow_run_whose_process_dies_reads_lost(tmp_path, ws, monkeypatch, mlflow_uri):
    import subprocess

    from waiting import wait_until

    monkeypatch.setenv("RUNWIDGETS_HEARTBEAT_INTERVAL", "0.2")
    code = (
        "import mlflow, os, sys, time; mlflow.set_tracking_uri(sys.argv[1]); r = mlflow.start_run();"
        " mlflow.log_metric('x', 1); print(r.info.run_id, flush=True); sys.stdin.readline(); os._exit(0)"
    )
    proc = subprocess.Popen([sys.executable, "-c", code, ws.get_mlflow_tracking_uri()], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)  # fmt: skip
    run_id = proc.stdout.readline().strip()
    first = ws.store.get_run(run_id).heartbeat
    assert wait_until(lambda: ws.store.get_run(run_id).heartbeat > first)  # the MLflow process keeps it alive
    proc.communicate("exit\n")  # dies without ending the run
    last = ws.store.get_run(run_id).heartbeat
    time.sleep(1.0)  # five heartbeat intervals
    rec = ws.store.get_run(run_id)
    assert rec.heartbeat == last and rec.status == "Running" and rec.is_lost(timeout=0.5)


TRAIN_REMOTE = {
    "train_diabetes.py": """
        import mlflow
        from sklearn.datasets import load_diabetes
        from sklearn.linear_model import Ridge
        from sklearn.metrics import mean_squared_error

        X, y = load_diabetes(return_X_y=True)
        with mlflow.start_run():
            for step, alpha in enumerate([0.1, 0.5, 1.0]):
                model = Ridge(alpha=alpha).fit(X, y)
                mlflow.log_metric("mse", mean_squared_error(y, model.predict(X)), step=step)
            mlflow.log_param("alphas", "0.1,0.5,1.0")
        print("done", flush=True)
        """
}


def remote_mse() -> list[float]:
    from sklearn.datasets import load_diabetes
    from sklearn.linear_model import Ridge
    from sklearn.metrics import mean_squared_error

    X, y = load_diabetes(return_X_y=True)
    return [mean_squared_error(y, Ridge(alpha=a).fit(X, y).predict(X)) for a in (0.1, 0.5, 1.0)]


@pytest.mark.parametrize("store", ["sqlite", "mlflow"])
def test_mlflow_train_remote_tour(tmp_path, store, request):
    from runwidgets.core import Environment, Experiment, ScriptRunConfig, Workspace
    from runwidgets.core.conda_dependencies import CondaDependencies

    uri = request.getfixturevalue("mlflow_server").url if store == "mlflow" else None
    ws = Workspace(tmp_path / "ws", tracking_uri=uri)
    exp = Experiment(workspace=ws, name="RemoteTrain-with-mlflow-sample")
    env = Environment(name="mlflow-env")
    env.python.conda_dependencies = CondaDependencies.create(
        pip_packages=["azureml-mlflow", "scikit-learn", "pandas", "numpy"]  # azureml-* is what runwidgets stands in for
    )
    src = ScriptRunConfig(source_directory=str(write(tmp_path / "src", TRAIN_REMOTE)), script="train_diabetes.py",
                          compute_target="local", environment=env)  # fmt: skip
    run = exp.submit(src)
    details = run.wait_for_completion(show_output=False)
    assert details["status"] == "Completed"
    assert run.get_metrics() == {"mse": pytest.approx(remote_mse())}
    assert run.get_properties()["alphas"] == "0.1,0.5,1.0"
    assert exp.get_runs() and [r.id for r in exp.get_runs()] == [run.id]  # the script's MLflow run is this run


PROJECT = {
    "MLproject": """
        name: mlflow-example

        conda_env: conda.yaml

        entry_points:
          main:
            parameters:
              alpha: float
              l1_ratio: {type: float, default: 0.1}
            command: "python train.py {alpha} {l1_ratio}"
        """,
    "conda.yaml": """
        name: mlflow-example
        channels:
          - defaults
        dependencies:
          - numpy>=1.14.3
          - scikit-learn
          - pip
          - pip:
            - mlflow
            - azureml-mlflow
        """,
    "train.py": """
        import sys
        import time

        import mlflow

        alpha, l1_ratio = float(sys.argv[1]), float(sys.argv[2])
        if alpha > 1:
            time.sleep(120)
        with mlflow.start_run():
            mlflow.log_param("l1_ratio", l1_ratio)
            mlflow.log_metric("rmse", alpha * 2 + l1_ratio)
        print("prefix", sys.prefix, flush=True)
        """,
}


def test_mlflow_projects_tour(tmp_path, monkeypatch, mlflow_uri):
    import mlflow
    from runwidgets.core import Workspace

    monkeypatch.chdir(write(tmp_path / "project", PROJECT))
    ws = Workspace(tmp_path / "ws")
    mlflow.set_tracking_uri(ws.get_mlflow_tracking_uri())
    mlflow.set_experiment("train-project-local")

    local_env_run = mlflow.projects.run(
        uri=".", parameters={"alpha": 0.3}, backend="azureml", env_manager="local", backend_config={"USE_CONDA": False}
    )
    assert local_env_run.get_status() == "FINISHED"
    run = ws.get_run(local_env_run.run_id)
    assert run.get_metrics() == {"rmse": pytest.approx(0.7)} and run.get_properties() == {
        "alpha": "0.3",
        "l1_ratio": "0.1",
    }
    assert run.get_tags()["mlflow.project.backend"] == "azureml" and run.type == "azureml.scriptrun"
    assert f"prefix {sys.prefix}" in run.get_details_with_logs()["logFiles"]["azureml-logs/70_driver_log.txt"]

    conda_run = mlflow.projects.run(
        uri=".", parameters={"alpha": 0.5}, backend="azureml", backend_config={"USE_CONDA": True, "COMPUTE": "local"}
    )
    assert conda_run.get_status() == "FINISHED"
    logs = ws.get_run(conda_run.run_id).get_details_with_logs()["logFiles"]
    assert (
        "building environment 'mlflow-example'" in logs["azureml-logs/20_image_build_log.txt"]
        or "reusing" in (logs["azureml-logs/20_image_build_log.txt"])
    )
    assert f"prefix {sys.prefix}" not in logs["azureml-logs/70_driver_log.txt"]  # ran in the project's environment

    slow = mlflow.projects.run(uri=".", parameters={"alpha": 5}, backend="runwidgets",
                               backend_config={"USE_CONDA": False}, synchronous=False)  # fmt: skip
    deadline = time.time() + 30
    while ws.get_run(slow.run_id).get_status() != "Running" and time.time() < deadline:
        time.sleep(0.1)
    slow.cancel()
    assert slow.get_status() == "KILLED" and ws.get_run(slow.run_id).get_status() == "Canceled"

    with pytest.raises(ValueError, match="compute_target"):
        mlflow.projects.run(uri=".", parameters={"alpha": 0.1}, backend="azureml",
                            backend_config={"USE_CONDA": False, "COMPUTE": "gpu-cluster"})  # fmt: skip


def test_framework_loggers_through_mlflow_client(ws, mlflow_uri):
    """What PyTorch Lightning's MLFlowLogger and Hugging Face's MLflow callback do, call for call, through
    MlflowClient(tracking_uri): neither framework is installed here (they pull in torch)."""
    from mlflow.entities import Metric, Param
    from mlflow.tracking import MlflowClient
    from runwidgets.widgets import RunDetails

    client = MlflowClient(tracking_uri=ws.get_mlflow_tracking_uri())
    assert client.get_experiment_by_name("lightning_logs") is None
    exp_id = client.create_experiment(name="lightning_logs")
    run = client.create_run(experiment_id=exp_id, tags={"mlflow.runName": "lit"})
    run_id = run.info.run_id
    client.log_batch(run_id, params=[Param("lr", "0.001"), Param("batch_size", "32")])
    now = int(time.time() * 1000)
    for step in range(20):
        client.log_batch(run_id, metrics=[Metric("train_loss", 1 / (step + 1), now + step, step),
                                          Metric("epoch", step // 10, now + step, step)])  # fmt: skip
    ours = ws.get_run(run_id)
    assert ours.get_status() == "Running" and ours.name == "lit"  # live while the trainer runs
    client.set_terminated(run_id, "FINISHED")
    assert ours.get_status() == "Completed" and ours.get_properties() == {"lr": "0.001", "batch_size": "32"}
    assert ours.get_metrics()["train_loss"] == pytest.approx([1 / (s + 1) for s in range(20)])
    view = RunDetails(ours)
    try:
        _ = view.widget
        assert np.allclose(view.chart("train_loss").lines.x, np.arange(20))  # steps are the x axis
    finally:
        view.close()


def test_run_ids_are_ones_mlflow_accepts(ws, mlflow_uri):
    import mlflow

    from runwidgets import Experiment

    run = Experiment(ws, "v1.2.experiment").start_logging()
    run.log("x", 1.0)
    run.complete()
    assert "." not in run.id
    mlflow.set_tracking_uri(ws.get_mlflow_tracking_uri())
    assert mlflow.get_run(run.id).data.metrics == {"x": 1.0}


def test_a_mistyped_runwidgets_uri_creates_nothing(tmp_path, mlflow_uri):
    import mlflow

    target = tmp_path / "no-such-workspace"
    mlflow.set_tracking_uri(f"runwidgets://{target}")
    with pytest.raises(mlflow.exceptions.MlflowException, match="names no runwidgets workspace"):
        mlflow.search_experiments()
    assert not target.exists()


SLOW_PACKAGE = {
    "setup.py": """
        import time

        from setuptools import setup

        time.sleep(120)  # a build step that takes long: the run is canceled meanwhile
        setup(name="rwslow", version="1.0", py_modules=[])
        """
}


def test_cancel_during_an_environment_build_stops_it_and_leaves_nothing_half_made(tmp_path, exp):
    from waiting import wait_until

    from runwidgets import Environment, ScriptRunConfig
    from runwidgets.submit import venvs

    slow = write(tmp_path / "rwslow", SLOW_PACKAGE)
    env = Environment("slow-build")
    env.python.conda_dependencies.add_pip_package(str(slow))
    env.python.conda_dependencies.set_pip_option("--no-build-isolation")
    src = write(tmp_path / "src", {"x.py": "print('never')\n"})
    run = exp.submit(ScriptRunConfig(str(src), "x.py", environment=env))
    build_log = Path(run._store.file_path(run.id, "azureml-logs/20_image_build_log.txt"))
    assert wait_until(lambda: build_log.is_file() and "installing 1 requirement" in build_log.read_text(), timeout=60)
    run.cancel()
    details = run.wait_for_completion(raise_on_error=False)
    assert details["status"] == "Canceled" and "azureml-logs/70_driver_log.txt" not in run.get_file_names()
    target = venvs.env_dir(env._spec())
    assert not target.exists() and not list(target.parent.glob(f".{target.name}.building-*"))  # nothing half-made
    assert wait_until(lambda: not processes_mentioning(str(slow)), timeout=15)  # pip and its build are gone


def processes_mentioning(text: str) -> list[int]:
    import psutil

    out = []
    for p in psutil.process_iter(["cmdline"]):
        try:
            if any(text in part for part in p.info["cmdline"] or []):
                out.append(p.pid)
        except psutil.Error:
            pass
    return out


def test_runs_asking_for_one_environment_at_once_build_it_once(tmp_path, exp):
    from runwidgets import Environment, ScriptRunConfig

    env = Environment("shared-build")
    env.python.conda_dependencies.add_pip_package(str(make_wheel(tmp_path / "wheels")))
    env.python.conda_dependencies.add_pip_package("numpy")  # differs from other tests' lists: a new environment
    src = write(tmp_path / "src", {"x.py": "import rwtestpkg\nprint('value', rwtestpkg.VALUE)\n"})
    runs = [exp.submit(ScriptRunConfig(str(src), "x.py", environment=env)) for _ in range(3)]
    logs = []
    for run in runs:
        assert run.wait_for_completion()["status"] == "Completed"
        files = run.get_details_with_logs()["logFiles"]
        assert "value 42" in files["azureml-logs/70_driver_log.txt"]
        logs.append(files["azureml-logs/20_image_build_log.txt"])
    assert sum("environment 'shared-build' built in" in log for log in logs) == 1
    assert sum("reusing environment 'shared-build'" in log for log in logs) == 2
