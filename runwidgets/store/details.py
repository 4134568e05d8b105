"""What a run's processes record about it, beyond status and times: typed, so a new field is a grep away.

Stored as JSON (the SQLite ``details`` column, MLflow's ``runwidgets.details``
tag); :meth:`Details.from_json` reads what older and newer versions wrote,
keeping keys it does not know so that nothing written is lost on update.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any


@dataclass(frozen=True)
class EnvironmentSpec:
    """The Python a submitted script runs in: an interpreter as it is, or packages to build an environment of."""

    name: str = ""
    user_managed: bool = True
    interpreter: str | None = None  # user-managed: the Python to run
    requirements: list[str] = field(default_factory=list)  # pip requirements (conda packages already mapped)
    pip_options: list[str] = field(default_factory=list)  # --index-url and the like
    python_version: str | None = None  # asked for; the environment is built on this machine's Python

    def key(self) -> str:
        """What identifies a built environment: the same packages, over the same base Python."""
        import hashlib
        import json
        import sys

        text = json.dumps([sorted(self.requirements), self.pip_options, sys.prefix], separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    @classmethod
    def from_json(cls, data: dict) -> EnvironmentSpec:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass(frozen=True)
class ScriptDefinition:
    """How a submitted script runs: the command line and what ScriptRunConfig said."""

    argv: list[str] = field(default_factory=list)  # what the supervisor runs, in the snapshot folder
    script: str | None = None
    arguments: list[str] = field(default_factory=list)
    command: str | list[str] | None = None
    source_directory: str = ""
    max_run_duration_seconds: float | None = None
    environment_variables: list[str] = field(default_factory=list)  # names only: values may be secrets
    python: str | None = None
    environment: EnvironmentSpec | None = None
    target: str = "local"  # the compute target it runs on: "local", or a cluster's name in the workspace

    @classmethod
    def from_json(cls, data: dict) -> ScriptDefinition:
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        if values.get("environment"):
            values["environment"] = EnvironmentSpec.from_json(values["environment"])
        return cls(**values)


@dataclass(frozen=True)
class SweepSpec:
    """A sweep's plan, recorded at submit for its driver process."""

    parameter_sets: list[dict[str, Any]]
    max_concurrent_runs: int
    run_config: ScriptDefinition
    max_duration_minutes: float = 10080.0
    sampling: dict[str, Any] = field(default_factory=dict)
    policy: dict[str, Any] = field(default_factory=dict)  # an early-termination policy's to_dict()
    max_total_runs: int = 0  # 0: as many as parameter_sets (a Bayesian sweep draws them as it goes)
    resume_from: list[str] = field(default_factory=list)  # earlier sweeps whose children seed this one

    @classmethod
    def from_json(cls, data: dict) -> SweepSpec:
        return cls(
            parameter_sets=list(data.get("parameter_sets", [])),
            max_concurrent_runs=int(data.get("max_concurrent_runs", 1)),
            run_config=ScriptDefinition.from_json(data.get("run_config", {})),
            max_duration_minutes=float(data.get("max_duration_minutes") or 10080.0),
            sampling=dict(data.get("sampling", {})),
            policy=dict(data.get("policy") or {}),
            max_total_runs=int(data.get("max_total_runs") or 0),
            resume_from=list(data.get("resume_from") or []),
        )


@dataclass(frozen=True)
class Details:
    """A run's details: how it runs (a script, a sweep), its hyperparameters, its processes."""

    supervised: bool = False  # a supervisor process owns the run (a submitted script or a sweep)
    definition: ScriptDefinition | None = None
    sweep: SweepSpec | None = None
    hyperparameters: dict[str, Any] | None = None
    supervisor_pid: int | None = None
    pid: int | None = None  # the script's process
    driver_pid: int | None = None  # a sweep's driver process
    dispatcher_pid: int | None = None  # on a cluster target: the local process that hands the run to it
    host: str | None = None  # the machine the supervisor runs on (its pids mean something only there)
    worker: str | None = None  # on a cluster target: the worker's address ("tcp://10.0.0.5:40331")
    worker_name: str | None = None
    exit_code: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # keys this version does not know, kept as written

    def to_json(self) -> dict[str, Any]:
        # "is", not "in": an exit code of 0 equals False and would be dropped
        out = {k: v for k, v in asdict(self).items() if k != "extra" and v is not None and v is not False}
        return {**self.extra, **out}

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> Details:
        if not data:
            return _EMPTY
        data = dict(data)
        known = _DETAILS_FIELDS
        definition, sweep = data.pop("definition", None), data.pop("sweep", None)
        return cls(
            definition=ScriptDefinition.from_json(definition) if definition else None,
            sweep=SweepSpec.from_json(sweep) if sweep else None,
            **{k: data.pop(k) for k in list(data) if k in known},
            extra=data,
        )

    def pids(self) -> list[int]:
        """Every process id recorded for the run."""
        return [p for p in (self.driver_pid, self.dispatcher_pid, self.supervisor_pid, self.pid) if p]

    def with_(self, **values: Any) -> Details:
        return replace(self, **values)


_DETAILS_FIELDS = frozenset(f.name for f in fields(Details)) - {"extra"}  # read once: fields() is slow per record
_EMPTY = Details()
