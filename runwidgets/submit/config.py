"""ScriptRunConfig and submitting it: the run is recorded, its folder snapshotted, and a
supervisor process started, detached from the caller, before ``submit()`` returns."""

from __future__ import annotations

import fnmatch
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..store.base import QUEUED, SCRIPT_RUN
from ..store.details import Details, EnvironmentSpec, ScriptDefinition
from . import venvs
from .environment import Environment, RunConfiguration

if TYPE_CHECKING:
    from ..tracking.experiment import Experiment
    from ..tracking.run import Run

IGNORE_FILES = (".amlignore", ".rwignore", ".gitignore")  # the first one present is used
ALWAYS_IGNORED = (".git", "__pycache__", ".ipynb_checkpoints", ".runwidgets*", ".venv", "outputs", "logs")
SNAPSHOT_LIMIT = 300 * 1024 * 1024  # Azure ML's limit, and a sign that data sits in the source folder


class ScriptRunConfig:
    """What to run: ``script`` (with ``arguments``) or a shell ``command``, from ``source_directory``.

    ``environment`` (an :class:`Environment`) says which Python runs it; without
    one, the Python of this notebook. ``environment_variables`` is a shorthand
    for ``run_config.environment_variables``.
    """

    def __init__(
        self,
        source_directory: str | os.PathLike = ".",
        script: str | None = None,
        arguments: list | None = None,
        run_config: RunConfiguration | None = None,
        command: str | list | None = None,
        compute_target: Any = None,
        environment: Environment | None = None,
        max_run_duration_seconds: float | None = None,
        environment_variables: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> None:
        for unset in ("distributed_job_config", "docker_runtime_config"):  # Azure's, meaningful only when set
            if unset in kwargs and kwargs[unset] is None:
                del kwargs[unset]
        if kwargs:
            raise TypeError(
                f"ScriptRunConfig got {sorted(kwargs)}: runs are local processes here; use"
                " environment= (an Environment) and environment_variables= to shape them"
            )
        target = getattr(compute_target, "name", compute_target)
        if target is not None and not isinstance(target, str):
            raise TypeError(f"compute_target must be a target's name or a ComputeTarget, got {type(target).__name__}")
        if run_config is not None and not isinstance(run_config, RunConfiguration):
            raise TypeError(f"run_config must be a RunConfiguration, got {type(run_config).__name__}")
        if environment is not None and not isinstance(environment, Environment):
            raise TypeError(f"environment must be an Environment, got {type(environment).__name__}")
        if (script is None) == (command is None):
            raise ValueError("ScriptRunConfig needs exactly one of script= or command=")
        self.source_directory = Path(source_directory).expanduser().resolve()
        if not self.source_directory.is_dir():
            raise NotADirectoryError(f"source_directory {self.source_directory} is not a folder")
        if script is not None and not (self.source_directory / script).is_file():
            raise FileNotFoundError(f"no script {script!r} in {self.source_directory}")
        if arguments is not None and not isinstance(arguments, (list, tuple)):
            raise TypeError(f"arguments must be a list, like ['--alpha', 0.5], got {type(arguments).__name__}")
        self.run_config = run_config or RunConfiguration()
        if environment is not None:
            self.run_config.environment = environment
        if environment_variables:
            self.run_config.environment_variables = {**self.run_config.environment_variables, **environment_variables}
        if max_run_duration_seconds is not None:
            self.run_config.max_run_duration_seconds = max_run_duration_seconds
        self.compute_target = target or "local"  # checked against the workspace at submit
        self.script = script
        self.arguments = [str(a) for a in (arguments or [])]
        self.command = command
        self._recorded_environment: EnvironmentSpec | None = None  # a sweep child's: as the parent recorded it

    @property
    def environment_variables(self) -> dict[str, str]:
        env = self.run_config.environment_variables
        for k, v in env.items():
            if not isinstance(k, str) or not isinstance(v, str):
                raise TypeError(f"environment_variables must map str to str; {k!r}: {v!r} is not")
        return env

    @property
    def max_run_duration_seconds(self) -> float | None:
        return self.run_config.max_run_duration_seconds

    def environment(self) -> EnvironmentSpec:
        """The environment the run gets, checked (a Docker image or a conda-only package is refused here)."""
        return self._recorded_environment or self.run_config.environment._spec()

    def argv(self, python: str, extra: Sequence[str] = ()) -> list[str]:
        """The command line the supervisor runs, in the snapshot folder, with the environment's ``python``."""
        if self.script is not None:
            return [python, "-u", self.script, *self.arguments, *extra]
        if isinstance(self.command, str):
            return ["/bin/sh", "-c", " ".join([self.command, *map(_quote, extra)])]
        return [str(c) for c in self.command or []] + list(extra)

    def definition(self, extra: Sequence[str] = ()) -> ScriptDefinition:
        limit = self.max_run_duration_seconds
        if limit is not None and not (isinstance(limit, (int, float)) and limit > 0):
            raise ValueError(f"max_run_duration_seconds must be a positive number, got {limit!r}")
        env = self.environment()
        python = venvs.interpreter(env)
        return ScriptDefinition(
            argv=self.argv(python, extra),
            script=self.script,
            arguments=[*self.arguments, *extra],
            command=self.command,
            source_directory=str(self.source_directory),
            max_run_duration_seconds=self.max_run_duration_seconds,
            environment_variables=sorted(self.environment_variables),  # names only: values may be secrets
            python=python,
            environment=env,
            target=self.compute_target,
        )

    @classmethod
    def from_definition(cls, d: ScriptDefinition, source_directory: str | os.PathLike) -> ScriptRunConfig:
        """The config a recorded definition came from, run from another folder (a sweep child's snapshot)."""
        config = cls(
            source_directory=source_directory,
            script=d.script,
            arguments=d.arguments,
            command=d.command,
            max_run_duration_seconds=d.max_run_duration_seconds,
            compute_target=d.target,
            # the values are in this process's environment (a sweep's driver was started with them), never
            # in the store; naming them again lets a cluster's dispatcher forward them to the worker
            environment_variables={n: os.environ[n] for n in d.environment_variables if n in os.environ},
        )
        config._recorded_environment = d.environment or EnvironmentSpec(interpreter=d.python)
        return config

    def _submit(
        self, experiment: Experiment, tags: dict | None = None, parent: Run | None = None, **kwargs: Any
    ) -> Run:
        if kwargs:
            raise TypeError(f"submit() got unexpected arguments {sorted(kwargs)}")
        return submit_script(experiment, self, tags=tags, parent=parent)

    def __repr__(self) -> str:
        what = f"script={self.script!r}" if self.script else f"command={self.command!r}"
        return f"ScriptRunConfig(source_directory={str(self.source_directory)!r}, {what}, arguments={self.arguments!r})"


def on_this_machine(d: ScriptDefinition) -> ScriptDefinition:
    """A definition recorded on another machine (the submitter's), with this machine's Python: a cluster's
    worker runs the script with its own interpreter, or the run's environment built here."""
    from dataclasses import replace

    env = d.environment or EnvironmentSpec()
    if env.user_managed and env.interpreter and os.access(env.interpreter, os.X_OK):
        python = env.interpreter  # the same path here (a shared installation, or the same host)
    elif env.user_managed:
        python, env = sys.executable, replace(env, interpreter=None)
    else:
        python = venvs.interpreter(env)
    argv = list(d.argv)
    if argv and argv[0] == d.python:  # a script, or a command naming this Python (AutoML's driver)
        argv[0] = python
    return replace(d, argv=argv, python=python, environment=env)


def _quote(s: str) -> str:
    import shlex

    return shlex.quote(s)


def submit_script(
    experiment: Experiment,
    config: ScriptRunConfig,
    tags: dict | None = None,
    parent: Run | None = None,
    extra_args: Sequence[str] = (),
    properties: dict | None = None,
    name: str | None = None,
    kind: str = SCRIPT_RUN,
) -> Run:
    from ..compute.targets import resolve
    from ..tracking.run import Run

    resolve(experiment.workspace, config.compute_target)  # an unknown target fails here, before any run exists
    details = Details(supervised=True, definition=config.definition(list(extra_args)))
    run = Run._start(experiment, name=name, parent=parent, tags=tags, kind=kind, status=QUEUED, details=details)
    if properties:
        run.add_properties(properties)
    snapshot(config.source_directory, snapshot_dir(experiment.workspace, run.id))
    start_supervisor(experiment.workspace, run.id, config)
    return run


def snapshot_dir(workspace, run_id: str) -> Path:
    return workspace.path / "snapshots" / run_id


def _ignore_patterns(src: Path) -> list[str]:
    for name in IGNORE_FILES:
        f = src / name
        if f.is_file():
            return [
                line.strip().rstrip("/")
                for line in f.read_text().splitlines()
                if line.strip() and not line.startswith("#")
            ]
    return []


def snapshot(src: Path, dest: Path) -> None:
    """Copy ``src`` into ``dest``, leaving out what the ignore file (and common clutter) names,
    and any workspace folder (a folder holding a runwidgets.db), which would copy itself."""
    patterns = [*ALWAYS_IGNORED, *_ignore_patterns(src)]
    total = 0

    def ignored(rel: str) -> bool:
        base = rel.rsplit("/", 1)[-1]
        return any(fnmatch.fnmatch(rel, p.lstrip("/")) or fnmatch.fnmatch(base, p) for p in patterns)

    for root, dirs, files in os.walk(src):
        rel_root = Path(root).relative_to(src).as_posix()
        rel_root = "" if rel_root == "." else rel_root + "/"
        dirs[:] = [d for d in dirs if not ignored(rel_root + d) and not (Path(root) / d / "runwidgets.db").exists()]
        for f in files:
            rel = rel_root + f
            if ignored(rel):
                continue
            source = Path(root) / f
            total += source.stat().st_size
            if total > SNAPSHOT_LIMIT:
                shutil.rmtree(dest, ignore_errors=True)
                raise ValueError(
                    f"{src} holds more than {SNAPSHOT_LIMIT // 2**20} MiB of files to snapshot; keep data"
                    " elsewhere or list it in a .amlignore file"
                )
            target = dest / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    dest.mkdir(parents=True, exist_ok=True)


def run_env(workspace, run_id: str) -> dict[str, str]:
    """What a submitted script needs to log into its own run: through runwidgets' SDK or plain MLflow."""
    return {
        "RUNWIDGETS_RUN_ID": run_id,
        "MLFLOW_TRACKING_URI": workspace.get_mlflow_tracking_uri(),
        "MLFLOW_RUN_ID": run_id,  # mlflow.start_run() resumes the run instead of starting another
    }


def start_supervisor(workspace, run_id: str, config: ScriptRunConfig) -> int:
    """Start ``python -m runwidgets.submit.supervisor`` in its own session: it outlives the kernel.

    On a cluster target the process started is the run's dispatcher (``runwidgets.compute.dispatch``),
    which hands the run to a worker, where a supervisor runs it."""
    from ..store.files import DISPATCH_LOG, SUPERVISOR_LOG

    store = workspace.store
    # The script's own variables travel in the supervisor's environment, never in the store.
    env = {**os.environ, **config.environment_variables, **workspace._env(), **run_env(workspace, run_id)}
    local = config.compute_target == "local"
    module = "runwidgets.submit.supervisor" if local else "runwidgets.compute.dispatch"
    log_path = store.log_path(run_id, SUPERVISOR_LOG if local else DISPATCH_LOG)
    with open(log_path, "ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", module, str(workspace.path), run_id],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
            close_fds=True,
        )
    _REAPER.watch(proc)
    return proc.pid


class _Reaper:
    """Collects exited supervisors so they do not linger as zombies of a long-lived kernel."""

    def __init__(self) -> None:
        self._procs: list[subprocess.Popen] = []

    def watch(self, proc: subprocess.Popen) -> None:
        self._procs = [p for p in self._procs if p.poll() is None]
        self._procs.append(proc)


_REAPER = _Reaper()
