"""Workspace: where runs are kept (a local folder, or an MLflow tracking server)."""

from __future__ import annotations

import json
import logging
import os
import shlex
import threading
from pathlib import Path
from typing import Any

from ..store.base import RunStore
from ..store.errors import WorkspaceError, WorkspaceNotFound
from ..store.registry import open_store
from ..store.uri import redact, safe_href
from .experiment import Experiment
from .portal import running_dashboard
from .run import Run

log = logging.getLogger("runwidgets")

DEFAULT_FOLDER = ".runwidgets"
CONFIG_NAME = "config.json"
DEFAULT_PORTAL_URL = "http://127.0.0.1:8866"
LOCAL = "local"  # subscription_id, resource_group and location of a workspace on this machine

_stores: dict[tuple, Any] = {}
_stores_lock = threading.Lock()


class Workspace:
    """A place that holds experiments and their runs.

    ``Workspace(path)`` opens (or creates) a local workspace folder;
    ``create=False`` only opens one that exists (:class:`WorkspaceNotFound` otherwise).
    ``Workspace.from_config()`` finds one the way Azure ML found ``config.json``.

    Azure's attributes have local values, which the workspace's ``config.json``
    may set (it takes Azure's own keys): ``name`` (``workspace_name``; default,
    the folder holding the workspace), ``subscription_id``, ``resource_group``
    and ``location`` (each ``"local"`` by default).
    """

    def __init__(
        self,
        path: str | os.PathLike | None = None,
        *,
        tracking_uri: str | None = None,
        portal_url: str | None = None,
        create: bool = True,
    ) -> None:
        self.path = Path(path if path is not None else DEFAULT_FOLDER).expanduser().resolve()
        self._create = create
        if self.path.exists() and not self.path.is_dir():
            raise WorkspaceError(f"{self.path} is a file, not a workspace folder: pass a folder (-w DIR)")
        if not create and not tracking_uri and not (self.path / "runwidgets.db").exists():
            why = "does not exist" if not self.path.exists() else "holds no runwidgets workspace"
            raise WorkspaceNotFound(
                f"{self.path} {why}: name the workspace with -w DIR (or $RUNWIDGETS_WORKSPACE),"
                " or create one by logging a run there"
            )
        if create:
            self.path.mkdir(parents=True, exist_ok=True)
        cfg = self._read_config()
        self.tracking_uri = tracking_uri or cfg.get("tracking_uri")
        self._portal_url = portal_url or cfg.get("portal_url")
        self.name = cfg.get("name") or cfg.get("workspace_name") or self.path.parent.name or "workspace"
        self.subscription_id = str(cfg.get("subscription_id") or LOCAL)
        self.resource_group = str(cfg.get("resource_group") or LOCAL)
        self.location = str(cfg.get("location") or LOCAL)

    def _read_config(self) -> dict:
        f = self.path / CONFIG_NAME
        if not f.is_file():
            return {}
        try:
            data = json.loads(f.read_text())
        except (OSError, ValueError) as e:
            raise ValueError(f"{f} is not valid JSON ({e}); fix or delete it") from None
        if not isinstance(data, dict):
            raise ValueError(f"{f} must hold a JSON object")
        return data

    @classmethod
    def from_config(cls, path: str | os.PathLike | None = None, *, create: bool = True) -> Workspace:
        """Find the workspace to use, the explicit choice first.

        With ``path``: a workspace folder, or a JSON config file whose
        ``"workspace"`` names one. Without: ``$RUNWIDGETS_WORKSPACE``, else the
        nearest ``.runwidgets`` folder from the working directory up, else a new
        ``./.runwidgets`` (with ``create=False``: :class:`WorkspaceNotFound`).
        Where it was not named, one log line says which was found.
        """
        if path is not None:
            p = Path(path).expanduser()
            if p.is_file():
                try:
                    cfg = json.loads(p.read_text())
                except (OSError, ValueError) as e:
                    raise WorkspaceError(f"{p} is not a workspace config file (JSON): {e}") from None
                target = Path(cfg.get("workspace", p.parent)).expanduser()
                if not target.is_absolute():
                    target = p.parent / target
                ws = cls(target, tracking_uri=cfg.get("tracking_uri"), portal_url=cfg.get("portal_url"), create=create)
                how = f"config file {p}"
            else:
                ws, how = cls(p, create=create), "the given path"
        elif os.environ.get("RUNWIDGETS_WORKSPACE"):
            ws, how = cls(os.environ["RUNWIDGETS_WORKSPACE"], create=create), "$RUNWIDGETS_WORKSPACE"
        else:
            found = next(
                (d / DEFAULT_FOLDER for d in (Path.cwd(), *Path.cwd().parents) if (d / DEFAULT_FOLDER).is_dir()),
                None,
            )
            if found is not None:
                ws, how = cls(found, create=create), "the nearest .runwidgets folder"
            else:
                ws, how = cls(DEFAULT_FOLDER, create=create), "a new local folder"
        if how != "the given path":
            log.info("runwidgets: workspace %s (from %s)", ws.address, how)
        return ws

    def write_config(self, **settings: Any) -> Path:
        """Save settings (``portal_url``, ``tracking_uri``, ``name``) into the workspace's config.json."""
        allowed = {"portal_url", "tracking_uri", "name", "subscription_id", "resource_group", "location"}
        bad = set(settings) - allowed
        if bad:
            raise TypeError(f"unknown workspace settings {sorted(bad)}; known: {sorted(allowed)}")
        if settings.get("portal_url") and not safe_href(settings["portal_url"]):
            raise ValueError(f"portal_url must start with http:// or https://, got {settings['portal_url'][:80]!r}")
        cfg = self._read_config()
        cfg.update({k: v for k, v in settings.items() if v is not None})
        f = self.path / CONFIG_NAME
        f.write_text(json.dumps(cfg, indent=2) + "\n")
        for k, v in settings.items():
            if k == "portal_url":
                self._portal_url = v
            elif k == "tracking_uri":
                self.tracking_uri = v
            elif v is not None:
                setattr(self, k, v)
        return f

    @property
    def address(self) -> str:
        """Where the runs are: the folder, or the MLflow tracking URI without its credentials."""
        return redact(self.tracking_uri) if self.tracking_uri else str(self.path)

    @property
    def portal_url(self) -> str:
        """Base URL of the dashboard: $RUNWIDGETS_PORTAL_URL, the config's ``portal_url``, or the default.

        Only an http(s) URL is used; any other (``javascript:``) is ignored, with a warning.
        """
        return self._stated_portal_url() or running_dashboard(self.path) or DEFAULT_PORTAL_URL

    def _stated_portal_url(self) -> str | None:
        for url in (os.environ.get("RUNWIDGETS_PORTAL_URL"), self._portal_url):
            if url and safe_href(url):
                return url.rstrip("/")
            if url:
                log.warning("runwidgets: ignoring portal URL %r: it must start with http:// or https://", url[:80])
        return None

    def portal_hint(self) -> str | None:
        """How to start the dashboard when a run's page would not answer; None when its link works
        (a dashboard serves this workspace, a portal URL was set, or the store has its own UI)."""
        if self.tracking_uri or self._stated_portal_url() or running_dashboard(self.path):
            return None
        return f"runwidgets dashboard -w {shlex.quote(str(self.path))}"

    def run_page(self, run_id: str) -> str:
        """A run's page: in the MLflow UI for an MLflow store (empty where there is no UI), else in the dashboard."""
        url = self.store.portal_url(run_id)
        if url is not None:  # the store's own UI (MLflow's), or "" where it has none
            return url
        from urllib.parse import quote

        return f"{self.portal_url}/?run={quote(run_id, safe='')}"

    @property
    def store(self) -> RunStore:
        """The run store behind this workspace, shared by every object in this process."""
        key = (str(self.path), self.tracking_uri, os.getpid())
        with _stores_lock:
            store = _stores.get(key)
            if store is None:
                store = _stores[key] = open_store(self.tracking_uri, self.path, create=self._create)
        return store

    @property
    def experiments(self) -> dict[str, Experiment]:
        return {name: self.get_experiment(name) for name in self.store.list_experiments()}

    @property
    def compute_targets(self) -> dict[str, Any]:
        """``local`` (this machine) and every Dask cluster attached to or created in this workspace, by name."""
        from ..compute.targets import targets_of

        return targets_of(self)

    def experiment(self, name: str) -> Experiment:
        """The experiment ``name``, created on first use (as ``Experiment(ws, name)``)."""
        return Experiment(self, name)

    def get_experiment(self, name: str) -> Experiment:
        """An experiment the store already holds; opening it writes nothing (a read-only workspace works)."""
        return Experiment._existing(self, name)

    def get_run(self, run_id: str) -> Run:
        """The run with this id, in whichever experiment holds it (``RunNotFound``, a KeyError, if none)."""
        rec = self.store.get_run(run_id)
        return Run._of(self.get_experiment(rec.experiment), rec)

    def get_mlflow_tracking_uri(self) -> str:
        """What ``mlflow.set_tracking_uri()`` needs so plain MLflow calls land in this workspace's runs.

        For a local workspace, ``runwidgets:///path/to/workspace``: MLflow reaches
        the embedded store through our plugin (``runwidgets.mlflow_plugin``).
        """
        if self.tracking_uri:
            return self.tracking_uri
        from ..mlflow_plugin.uri import tracking_uri

        self.store  # noqa: B018 - the database exists before MLflow is pointed at it (MLflow never creates one)
        return tracking_uri(self.path)

    def _env(self) -> dict[str, str]:
        """Environment variables that let another process open this workspace."""
        env = {"RUNWIDGETS_WORKSPACE": str(self.path)}
        if self.tracking_uri:
            env["RUNWIDGETS_TRACKING_URI"] = self.tracking_uri
        if self._portal_url:
            env["RUNWIDGETS_PORTAL_URL"] = self.portal_url
        return env

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Workspace) and (self.path, self.tracking_uri) == (other.path, other.tracking_uri)

    def __hash__(self) -> int:
        return hash((self.path, self.tracking_uri))

    def __repr__(self) -> str:
        return f"Workspace({self.address!r})"


Run._workspace_class = Workspace  # Run.get_context opens workspaces without importing this module
