"""The store contract: the only thing the writer side and the reader side share.

Nothing in this package imports from the rest of runwidgets. A store keeps
experiments, runs (with tags, properties, status, heartbeat), metric points
and files, and answers incremental reads through :class:`Cursor`.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import EllipsisType
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from .details import Details

if TYPE_CHECKING:
    from .query import RunColumns, RunPage, RunQuery

# Azure ML v1 status names, so notebooks comparing strings keep working.
NOT_STARTED = "NotStarted"
QUEUED = "Queued"
STARTING = "Starting"
RUNNING = "Running"
COMPLETED = "Completed"
FAILED = "Failed"
CANCELED = "Canceled"
CANCEL_REQUESTED = "CancelRequested"
STATUSES = (NOT_STARTED, QUEUED, STARTING, RUNNING, CANCEL_REQUESTED, COMPLETED, FAILED, CANCELED)
TERMINAL = frozenset({COMPLETED, FAILED, CANCELED})
LIVE = frozenset({STARTING, RUNNING, CANCEL_REQUESTED})

# Run types as Azure ML v1 names them (``run.type``, ``get_runs(type=...)``).
INTERACTIVE = "interactive"  # start_logging() or child_run(): a run this process logs to
SCRIPT_RUN = "azureml.scriptrun"
SWEEP_RUN = "hyperdrive"
AUTOML_RUN = "automl"
_OLD_TYPES = {"run": INTERACTIVE, "script": SCRIPT_RUN, "sweep": SWEEP_RUN}  # what runwidgets 0.1 recorded


def run_type(recorded: str) -> str:
    """The type of a run as read back: runs recorded by runwidgets 0.1 carry its older names."""
    return _OLD_TYPES.get(recorded, recorded)


# Metric kinds. A "table" metric is stored as one series per column. An "image" point names a file of the
# run's images/, a "chart" point a JSON document of its metrics/ (Azure's confusion matrix, accuracy
# table, residuals and predictions: runwidgets.tracking.evaluation).
SCALAR, LIST, TABLE, IMAGE, CHART = "scalar", "list", "table", "image", "chart"

# A live run's writer refreshes its heartbeat this often; a reader calls a run
# "lost" when the heartbeat is older than the timeout (both in seconds).
HEARTBEAT_INTERVAL = 2.0
HEARTBEAT_TIMEOUT = 30.0


@dataclass
class RunRecord:
    """One run as a reader sees it. ``status`` is what was recorded; see :attr:`alive`."""

    run_id: str
    experiment: str
    parent_id: str | None
    name: str
    status: str
    created: float
    started: float | None = None
    ended: float | None = None
    heartbeat: float | None = None
    kind: str = INTERACTIVE  # the run's type: INTERACTIVE, SCRIPT_RUN, SWEEP_RUN, ...
    tags: dict[str, str | None] = field(default_factory=dict)  # None: a tag set without a value
    properties: dict[str, str] = field(default_factory=dict)
    error: dict[str, Any] | None = None
    details: Details = field(default_factory=Details)

    def is_lost(self, now: float | None = None, timeout: float = HEARTBEAT_TIMEOUT) -> bool:
        """True for a run recorded as live whose writer stopped sending heartbeats."""
        if self.status not in LIVE:
            return False
        beat = self.heartbeat or self.started or self.created
        return ((now if now is not None else time.time()) - beat) > timeout

    @property
    def display_status(self) -> str:
        """The status a person should see: a dead writer's run shows as ``Failed``."""
        return FAILED if self.is_lost(timeout=heartbeat_timeout()) else self.status

    @property
    def display_error(self) -> dict[str, Any] | None:
        if self.error is None and self.is_lost(timeout=heartbeat_timeout()):
            when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self.heartbeat or self.created))
            return {
                "code": "Lost",
                "message": f"The run's process stopped reporting at {when} "
                "(killed, or its machine went away). Data logged until then is kept.",
            }
        return self.error

    @property
    def duration(self) -> float | None:
        if self.started is None:
            return None
        return (self.ended or time.time()) - self.started


def env_seconds(name: str, default: float, minimum: float = 0.05) -> float:
    """A duration from the environment (tests shrink intervals and timeouts this way)."""
    import os

    try:
        return max(minimum, float(os.environ.get(name, default)))
    except ValueError:
        return default


def heartbeat_timeout() -> float:
    """Seconds without a heartbeat before a live run counts as lost ($RUNWIDGETS_HEARTBEAT_TIMEOUT)."""
    return env_seconds("RUNWIDGETS_HEARTBEAT_TIMEOUT", HEARTBEAT_TIMEOUT)


def heartbeat_interval() -> float:
    """Seconds between a live run's heartbeats ($RUNWIDGETS_HEARTBEAT_INTERVAL)."""
    return env_seconds("RUNWIDGETS_HEARTBEAT_INTERVAL", HEARTBEAT_INTERVAL)


@dataclass(frozen=True)
class SeriesKey:
    """Identifies one series of points: a metric, or one column of a table metric."""

    run_id: str
    name: str
    kind: str = SCALAR
    column: str | None = None


@dataclass
class PointBatch:
    """Points of one series for a store to append, in logging order (what the SDK writes).

    ``steps`` holds None where no step was given; ``walls`` are seconds since the epoch.
    Values may be numpy scalars: a store turns them into Python numbers.
    """

    key: SeriesKey
    values: list
    steps: list
    walls: list


@dataclass
class SeriesChunk:
    """Points of one series, in logging order, as arrays.

    ``values`` is float64, int64 or bool when the points are all of that kind,
    else an object array (strings, mixed); ``steps`` is float64 with NaN where
    no step was given, or None when no point had one; ``walls`` is float64 seconds.
    """

    key: SeriesKey
    values: np.ndarray
    steps: np.ndarray | None
    walls: np.ndarray
    description: str = ""
    first_index: int = 0  # position of this chunk's first point in the whole series
    replace: bool = False  # a sampled view of the whole series: replaces what a reader holds
    total: int | None = None  # with replace: how many points the whole series has

    def __len__(self) -> int:
        return len(self.values)

    def x(self) -> np.ndarray:
        """The x of each point: its step, or its position in the series where no step was given."""
        if self.steps is not None:
            missing = np.isnan(self.steps)
            if not missing.any():  # every point has its step: no index to build
                return self.steps
        index = np.arange(self.first_index, self.first_index + len(self.values), dtype=np.float64)
        if self.steps is None:
            return index
        return np.where(missing, index, self.steps)


@dataclass(frozen=True)
class Cursor:
    """Where an incremental reader stands. Only stores interpret it.

    Stores never mutate a cursor's mappings; a read that changes nothing
    returns the very same cursor, so an idle poll copies nothing.
    """

    points: int = 0  # watermark of the points log
    events: int = 0  # watermark of the run-change log
    logs: Mapping[tuple[str, str], int] = field(default_factory=dict)  # (run_id, log name) -> bytes read
    counts: Mapping[SeriesKey, int] = field(default_factory=dict)  # points seen per series (x = index)
    children: frozenset[str] = frozenset()  # children of the watched runs seen so far
    beats: Mapping[str, float | None] = field(default_factory=dict)  # live runs -> last heartbeat seen
    extra: Mapping[str, Any] = field(default_factory=dict)  # backend-specific state


@dataclass
class Delta:
    """What changed since a cursor. Empty when nothing did."""

    runs: dict[str, RunRecord] = field(default_factory=dict)  # changed or new (children included)
    series: list[SeriesChunk] = field(default_factory=list)
    logs: dict[tuple[str, str], str] = field(default_factory=dict)  # (run_id, log name) -> new text
    beats: dict[str, float] = field(default_factory=dict)  # run id -> newer heartbeat of a live run

    def __bool__(self) -> bool:
        return bool(self.runs or self.series or self.logs or self.beats)


class RunStore(Protocol):
    """What the SDK writes through and what the widget reads through (SqliteStore, MlflowStore)."""

    # -- experiments and runs
    def create_experiment(self, name: str) -> None: ...
    def list_experiments(self) -> list[str]: ...
    def create_run(self, record: RunRecord) -> RunRecord:
        """Store a new run; the returned record carries the id kept (a store may assign its own)."""

    def get_run(self, run_id: str) -> RunRecord: ...
    def find_runs(
        self,
        experiment: str | None = None,
        parent_id: str | None | EllipsisType = ...,  # ...: any parent; None: top-level runs only
        tags: dict[str, str | None] | None = None,
        properties: dict[str, str] | None = None,
        status: str | None = None,
    ) -> list[RunRecord]: ...
    def search_runs(self, query: RunQuery) -> RunPage:
        """One page of runs, filtered and sorted by the store: never the whole experiment read."""

    def run_columns(self, experiments: Iterable[str] = ()) -> RunColumns:
        """The metric and param names the runs of these experiments have (all experiments: none given)."""

    def update_run(self, run_id: str, **fields: Any) -> None: ...
    def set_status_if(self, run_id: str, allowed_from: Iterable[str], **fields: Any) -> bool:
        """Update only while the recorded status is one of ``allowed_from``; True if it was."""

    def set_tags(self, run_id: str, tags: dict[str, str | None]) -> None: ...
    def remove_tags(self, run_id: str, keys: Iterable[str]) -> None: ...
    def add_properties(self, run_id: str, properties: dict[str, str]) -> None:
        """Append-only: a key set again with another value raises ValueError."""

    def heartbeat(self, run_ids: Iterable[str], when: float) -> None: ...

    # -- metrics
    def write_points(self, run_id: str, batches: list[PointBatch], descriptions: dict) -> None: ...
    def read_series(self, run_id: str, name: str | None = None) -> list[SeriesChunk]: ...
    def latest_values(self, run_ids: list[str]) -> dict[str, dict[str, Any]]: ...
    def read_since(
        self, run_ids: Iterable[str], cursor: Cursor | None, log_runs: Iterable[str] = ()
    ) -> tuple[Delta, Cursor]: ...

    # -- files (names are relative to the run: "outputs/model.pkl", "azureml-logs/70_driver_log.txt")
    def put_file(self, run_id: str, name: str, source: Any) -> None: ...
    def list_files(self, run_id: str) -> list[str]: ...
    def get_file(self, run_id: str, name: str, dest: str) -> str: ...
    def read_file(self, run_id: str, name: str, limit: int | None = None) -> bytes: ...
    def file_path(self, run_id: str, name: str) -> Any:
        """A local path to read the file at (a log is written there while the run is live)."""

    def log_path(self, run_id: str, name: str) -> str: ...
    def read_logs(self, run_id: str, offsets: Mapping[tuple[str, str], int]) -> list[tuple[str, str, int]]:
        """(log name, new whole lines, new offset) for each of the run's logs that grew past ``offsets``
        ((run id, name) -> bytes read); a log not in ``offsets`` is read from near its end."""

    def ship_logs(self, run_id: str, final: bool = False) -> None:
        """Make what the run's logs gained on this machine readable wherever the store is read from
        (a local workspace: already so). ``final``: the run has ended; send the logs whole."""

    def run_dir(self, run_id: str) -> Any:
        """The local folder of a run's files (for MLflow: its staging folder)."""

    def portal_url(self, run_id: str) -> str | None:
        """The run's page in the store's own UI; "" where the store has no UI; None: use the dashboard."""

    def close(self) -> None: ...
