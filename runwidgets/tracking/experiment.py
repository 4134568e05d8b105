"""Experiment: a named group of runs in a workspace."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

from . import validate as check
from .run import Run

if TYPE_CHECKING:
    from .workspace import Workspace


class Experiment:
    """``Experiment(workspace, name)`` opens the experiment, creating it on first use."""

    def __init__(self, workspace: Workspace, name: str, **kwargs: Any) -> None:
        if not hasattr(workspace, "store") or not hasattr(workspace, "from_config"):
            raise TypeError(f"Experiment needs a Workspace first, got {type(workspace).__name__}")
        if kwargs:
            raise TypeError(f"Experiment() got unexpected arguments {sorted(kwargs)}")
        self.workspace = workspace
        self.name = check.experiment_name(name)
        workspace.store.create_experiment(name)

    @classmethod
    def _existing(cls, workspace: Workspace, name: str) -> Experiment:
        """An experiment the store already holds: reading it writes nothing (a read-only workspace works).
        Call ``workspace.get_experiment(name)``."""
        exp = cls.__new__(cls)
        exp.workspace, exp.name = workspace, name
        return exp

    @property
    def id(self) -> str:
        return self.name

    def start_logging(
        self,
        display_name: str | None = None,
        *,
        snapshot_directory: str | None = None,
        tags: dict | None = None,
        outputs: Any = None,
        system_metrics: bool | None = None,
        **kwargs: Any,
    ) -> Run:
        """Start an interactive run in this process (a notebook or a script run by hand).

        ``system_metrics=True`` (or ``$RUNWIDGETS_SYSTEM_METRICS=1``) samples this machine and this
        process's tree into ``system/*`` metrics while the run lasts."""
        if kwargs:
            raise TypeError(f"start_logging() got unexpected arguments {sorted(kwargs)}")
        if display_name is not None and not isinstance(display_name, str):
            raise TypeError(f"display_name must be a str, got {type(display_name).__name__}")
        run = Run._start(self, name=display_name, tags=tags)
        from .system_metrics import enabled_by_env

        if system_metrics or (system_metrics is None and enabled_by_env()):
            run._watch_system()
        if snapshot_directory is not None:
            run.upload_folder("snapshot", snapshot_directory)
        return run

    def submit(self, config: Any, tags: dict | None = None, **kwargs: Any) -> Run:
        """Run a ``ScriptRunConfig`` (or a ``HyperDriveConfig`` sweep) in its own process."""
        submit = getattr(config, "_submit", None)
        if submit is None:
            raise TypeError(
                f"Experiment.submit needs a ScriptRunConfig or HyperDriveConfig, got {type(config).__name__}"
            )
        return submit(self, tags=tags, **kwargs)

    def get_runs(
        self,
        type: str | None = None,  # noqa: A002 - Azure's name
        tags: dict | str | None = None,
        properties: dict | None = None,
        include_children: bool = False,
        status: str | None = None,
    ) -> list[Run]:
        """Runs of this experiment, newest first, filtered by tags (a dict, or a tag name alone)."""
        if isinstance(tags, str):
            tags = {tags: None}
        if tags is not None and not isinstance(tags, dict):
            raise TypeError("tags must be a dict or a tag name")
        recs = self.workspace.store.find_runs(
            experiment=self.name,
            parent_id=... if include_children else None,
            tags=tags,
            properties=properties,
            status=status,
        )
        if type is not None:
            recs = [r for r in recs if r.kind == type]
        return [Run._of(self, r) for r in reversed(recs)]

    @staticmethod
    def list(workspace: Workspace, experiment_name: str | None = None) -> list[Experiment]:
        names = workspace.store.list_experiments()
        return [workspace.get_experiment(n) for n in names if experiment_name in (None, n)]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Experiment) and (self.workspace, self.name) == (other.workspace, other.name)

    def __hash__(self) -> int:
        return hash((self.workspace, self.name))

    def __repr__(self) -> str:
        return f"Experiment(name={self.name!r}, workspace={self.workspace.address!r})"

    def _repr_html_(self) -> str:
        n = len(self.workspace.store.find_runs(experiment=self.name, parent_id=None))
        e = html.escape
        return (
            "<table><tr><th>Name</th><th>Workspace</th><th>Runs</th></tr>"
            f"<tr><td>{e(self.name)}</td><td>{e(self.workspace.address)}</td><td>{n}</td></tr></table>"
        )
