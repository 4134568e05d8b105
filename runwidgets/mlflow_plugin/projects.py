"""MLflow Projects as submitted runs: ``mlflow.projects.run(uri, backend="azureml")``.

Registered as the project backends ``azureml`` (Azure's name, so notebooks
written for ``azureml-mlflow`` run unchanged) and ``runwidgets``. The project
runs like ``exp.submit(ScriptRunConfig(...))``: in its own supervised
process, with its output in ``azureml-logs/70_driver_log.txt``, cancelable.

``backend_config``:

- ``COMPUTE``: the compute target: ``local`` (the default) or a cluster attached to the workspace;
- ``USE_CONDA``: build the project's environment (its ``conda.yaml`` or
  ``python_env.yaml``) as a cached environment; false runs this Python.
  Without it, ``env_manager="local"`` means this Python, anything else builds.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from mlflow.entities import RunStatus
from mlflow.projects.backend.abstract_backend import AbstractBackend
from mlflow.projects.submitted_run import SubmittedRun
from mlflow.projects.utils import PROJECT_ENV_MANAGER, fetch_and_validate_project, load_project

from ..store.base import CANCELED, COMPLETED, FAILED

_STATUS = {COMPLETED: RunStatus.FINISHED, FAILED: RunStatus.FAILED, CANCELED: RunStatus.KILLED}


class ProjectRun(SubmittedRun):
    """What ``mlflow.projects.run`` returns: ``wait()``, ``get_status()``, ``cancel()``, ``run_id``."""

    def __init__(self, run: Any) -> None:
        self.run = run

    @property
    def run_id(self) -> str:
        return self.run.id

    def wait(self) -> bool:
        return self.run.wait_for_completion(show_output=True, raise_on_error=False)["status"] == COMPLETED

    def get_status(self) -> str:
        return RunStatus.to_string(_STATUS.get(self.run.get_status(), RunStatus.RUNNING))

    def cancel(self) -> None:
        self.run.cancel()
        self.run.wait_for_completion(raise_on_error=False)


class ProjectBackend(AbstractBackend):
    def run(self, project_uri, entry_point, params, version, backend_config, tracking_uri, experiment_id):
        from ..submit.config import ScriptRunConfig
        from ..submit.environment import Environment

        config = _read_config(backend_config)
        work_dir = fetch_and_validate_project(project_uri, version, entry_point, params)
        project = load_project(work_dir)
        command = project.get_entry_point(entry_point).compute_command(params or {}, None)

        use_conda = config.get("USE_CONDA")
        if use_conda is None:
            use_conda = config.get(PROJECT_ENV_MANAGER) not in (None, "local")
        if use_conda and project.env_config_path:
            env = _project_environment(project)
        else:
            env = Environment(f"{project.name or 'mlflow-project'}-local")
            env.python.user_managed_dependencies = True

        ws = _workspace(tracking_uri)
        exp = ws.experiment(_experiment_name(tracking_uri, experiment_id))
        src = ScriptRunConfig(
            source_directory=work_dir, command=command, compute_target=config.get("COMPUTE"), environment=env
        )
        run = exp.submit(src, tags={"mlflow.project.entryPoint": entry_point, "mlflow.source.name": str(project_uri)})
        if params:
            run.add_properties({k: str(v) for k, v in params.items()})  # what MLflow's local backend logs as params
        return ProjectRun(run)


def _read_config(backend_config: Any) -> dict:
    if isinstance(backend_config, (str, os.PathLike)):
        return json.loads(Path(backend_config).read_text())
    return dict(backend_config or {})


def _project_environment(project: Any):
    """The project's conda.yaml or python_env.yaml, as an Environment to build."""
    from ..submit.environment import Environment

    path = Path(project.env_config_path)
    name = project.name or path.parent.name or "mlflow-project"
    if path.name.endswith(("python_env.yaml", "python_env.yml")):
        import yaml

        spec = yaml.safe_load(path.read_text()) or {}
        env = Environment(name)
        for dep in spec.get("dependencies") or []:
            env.python.conda_dependencies.add_pip_package(str(dep))
        return env
    return Environment.from_conda_specification(name, path)


def _workspace(tracking_uri: str):
    from ..tracking.workspace import Workspace
    from .uri import SCHEME, local_path

    if tracking_uri.startswith(f"{SCHEME}:"):
        return Workspace(local_path(tracking_uri), create=False)
    ws = Workspace.from_config()
    return Workspace(ws.path, tracking_uri=tracking_uri)


def _experiment_name(tracking_uri: str, experiment_id: Any) -> str:
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri).get_experiment(str(experiment_id)).name
