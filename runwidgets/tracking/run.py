"""Run: the Azure ML v1 run API over a run store.

Metrics go to an in-process deque that the flush thread drains (see
``flusher.py``); everything else (tags, properties, files, status) is written
through at the call.
"""

from __future__ import annotations

import html
import json
import logging
import os
import secrets
import sys
import threading
import time
import traceback
from collections.abc import Iterable
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..store import base as st
from ..store.files import DRIVER_LOG, PYTHON_LOG, SUPERVISOR_LOG, is_log  # noqa: F401 - part of this module's API
from ..store.uri import safe_href
from . import evaluation
from . import validate as check
from .buffer import PointBuffer
from .flusher import FLUSHER

if TYPE_CHECKING:
    import pandas

    from .experiment import Experiment

log = logging.getLogger("runwidgets")
_now = time.time
_INT_LIMIT = check.INT_LIMIT
# Value types the fast path takes as they are: every value of these is storable.
_FAST_VALUES = frozenset(
    {bool, np.float64, np.float32, np.float16, np.bool_, np.int64, np.int32, np.int16, np.int8, np.uint64,
     np.uint32, np.uint16, np.uint8}
)  # fmt: skip
_STEP_TYPES = frozenset({np.int64, np.int32, np.int16, np.int8, np.uint32, np.uint16, np.uint8})  # all fit int64
_STEP_MIN, _STEP_MAX = -(2**63), 2**63


# A run type -> the Run subclass that stands for it ("module:Class"), imported when such a run is read.
_TYPED_RUNS = {st.SWEEP_RUN: "runwidgets.submit.sweep:HyperDriveRun", st.AUTOML_RUN: "runwidgets.automl.run:AutoMLRun"}


class Run:
    """One run of an experiment. ``Run(experiment, run_id)`` fetches an existing run."""

    _context: Run | None = None
    _workspace_class: Any = None  # the Workspace class (workspace.py sets it)

    @staticmethod
    def _of(experiment: Experiment, rec: st.RunRecord) -> Run:
        """The object for a stored run, of the class its type calls for (a sweep's is a HyperDriveRun)."""
        cls: type[Run] = Run
        if rec.kind in _TYPED_RUNS:
            import importlib

            module, name = _TYPED_RUNS[rec.kind].split(":")
            cls = getattr(importlib.import_module(module), name)
        return cls(experiment, rec.run_id, _record=rec)

    def __init__(self, experiment: Experiment, run_id: str, *, _record: st.RunRecord | None = None) -> None:
        self.experiment = experiment
        self._store = experiment.workspace.store
        rec = _record or self._store.get_run(run_id)
        if rec.experiment != experiment.name:
            raise ValueError(f"run {run_id!r} belongs to experiment {rec.experiment!r}, not {experiment.name!r}")
        self.id = rec.run_id
        self._record = rec
        # One deque of (value, step, wall) per series; run.log() appends, the flush thread drains.
        self._buffer = PointBuffer(
            self.id, lambda batches: self._store.write_points(self.id, batches, self._descriptions), self._note_in_log
        )
        self._queues = self._buffer.queues  # the fast path's one look-up
        self._queue = self._buffer.queue
        self._kinds: dict[str, str] | None = None  # name -> kind, loaded on first non-fast log
        self._table_cols: dict[str, tuple[str, ...]] = {}
        self._descriptions: dict[str, str] = {}
        self._beats = False  # this process refreshes the heartbeat
        self._closes_at_exit = False  # this process completes the run at exit if still open
        self._closed = rec.status in st.TERMINAL
        FLUSHER.register(self)

    # -- creation ------------------------------------------------------------
    @classmethod
    def _start(
        cls,
        experiment: Experiment,
        name: str | None = None,
        parent: Run | None = None,
        tags: dict | None = None,
        kind: str = st.INTERACTIVE,
        status: str = st.RUNNING,
        details: st.Details | None = None,
        run_id: str | None = None,
    ) -> Run:
        now = _now()
        # no "." in a new id: MLflow's API refuses run ids with one (experiment names may have it)
        run_id = run_id or f"{experiment.name.replace('.', '_')[:200]}_{int(now)}_{secrets.token_hex(4)}"
        live = status == st.RUNNING
        rec = st.RunRecord(
            run_id=run_id,
            experiment=experiment.name,
            parent_id=parent.id if parent else None,
            name=name or run_id,
            status=status,
            created=now,
            started=now if live else None,
            heartbeat=now,
            kind=kind,
            tags={k: check.tag_value(k, v) for k, v in (tags or {}).items()},
            details=details or st.Details(),
        )
        rec = experiment.workspace.store.create_run(rec)  # a store may assign its own id (MLflow does)
        run = cls(experiment, rec.run_id, _record=rec)
        run._kinds = {}  # new: nothing logged yet
        run._beats = run._closes_at_exit = live
        return run

    @classmethod
    def get_context(cls, allow_offline: bool = True) -> Run:
        """The run this script was submitted as; outside a submitted script, a local run that records.

        Never a run that drops data: a script run by hand logs into the
        workspace found by ``Workspace.from_config()``, and says so.
        """
        if cls._context is not None and cls._context._pid == os.getpid():
            return cls._context
        Workspace = cls._workspace_class  # set by workspace.py, which imports this module (not the reverse)

        run_id = os.environ.get("RUNWIDGETS_RUN_ID")
        if run_id:
            ws = Workspace(os.environ["RUNWIDGETS_WORKSPACE"], tracking_uri=os.environ.get("RUNWIDGETS_TRACKING_URI"))
            run = ws.get_run(run_id)
            run._flush_on_sigterm()
        elif not allow_offline:
            raise RuntimeError("Run.get_context(allow_offline=False) outside a submitted run")
        else:
            ws = Workspace.from_config()
            script = Path(sys.argv[0]).stem if sys.argv and sys.argv[0] not in ("", "-c") else ""
            exp_name = os.environ.get("RUNWIDGETS_EXPERIMENT") or _safe_name(script) or "interactive"
            run = ws.experiment(exp_name).start_logging()
            log.info(
                "runwidgets: not a submitted run; recording to local run %s (experiment %r) in %s",
                run.id,
                exp_name,
                ws.address,
            )
        run._pid = os.getpid()
        cls._context = run
        return run

    _pid = -1

    def _flush_on_sigterm(self) -> None:
        """Turn SIGTERM (a cancel) into a normal exit, so atexit flushes what was logged."""
        import signal

        if threading.current_thread() is threading.main_thread() and signal.getsignal(signal.SIGTERM) in (
            signal.SIG_DFL,
            None,
        ):
            signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))

    # -- metrics: the hot path -------------------------------------------------
    def log(self, name: str, value: Any, description: str = "", step: int | None = None) -> None:
        """Log one value; repeated calls with one name make a series.

        ``value`` is an int, float, bool or str (numpy scalars and 0-d arrays
        too). ``step`` is the x of the point (epoch, iteration); without it, x
        is the point's position in the series.
        """
        try:
            q = self._queues.get(name)
        except TypeError:  # unhashable name: let the checks say what is wrong
            q = None
        # The fast path: a metric already started, a value needing no check beyond its type
        # (numpy scalars go in as they are; the flush thread turns them into Python numbers).
        if q is not None and not description:
            tv = value.__class__
            if (tv is float or (tv is int and -_INT_LIMIT < value < _INT_LIMIT) or tv in _FAST_VALUES) and (
                step is None
                or step.__class__ in _STEP_TYPES
                or (step.__class__ is int and _STEP_MIN <= step < _STEP_MAX)
            ):
                q.append((value, step, _now()))
                return
        self._log_checked(name, value, description, step)

    def _log_checked(self, name, value, description, step) -> None:
        q = self._queues.get(name) if isinstance(name, str) else None
        if q is None:
            check.metric_name(name)
            self._claim(name, st.SCALAR)
        value = check.scalar(name, value)
        step = check.step(step)
        if description:
            self._describe(name, description)
        if q is None:
            self._queue(name).append((value, step, _now()))
            FLUSHER.wake()
        else:
            q.append((value, step, _now()))

    def _claim(self, name: str, kind: str) -> None:
        """Remember that ``name`` is a metric of ``kind``; a name keeps one kind for the run's life."""
        if self._kinds is None:  # a run made elsewhere: learn what it already holds
            self._kinds = {}
            for ch in self._store.read_series(self.id):
                self._kinds[ch.key.name] = ch.key.kind
                if ch.key.kind == st.TABLE:
                    self._table_cols[ch.key.name] = (*self._table_cols.get(ch.key.name, ()), ch.key.column or "")
        have = self._kinds.get(name)
        if have is None:
            self._kinds[name] = kind
        elif have != kind:
            verbs = {st.SCALAR: "log", st.LIST: "log_list", st.TABLE: "log_row/log_table", st.IMAGE: "log_image",
                     st.CHART: "log_confusion_matrix (or log_accuracy_table, ...)"}  # fmt: skip
            raise ValueError(
                f"metric {name!r} was logged with run.{verbs[have]}; run.{verbs[kind]} cannot add to it."
                " Use another name"
            )

    def _describe(self, name: str, description: Any) -> None:
        self._descriptions.setdefault(name, check.description(name, description))

    def log_list(self, name: str, value: Iterable, description: str = "") -> None:
        """Log a list of values (any iterable, generators included); x is the position."""
        check.metric_name(name)
        values = check.values_list(name, value)
        self._claim(name, st.LIST)
        if description:
            self._describe(name, description)
        now = _now()
        self._queue((st.LIST, name, None)).extend((v, None, now) for v in values)

    def log_row(self, name: str, description: str | None = None, **kwargs: Any) -> None:
        """Add one row to the table metric ``name``: ``run.log_row("loss", epoch=1, train=0.4)``."""
        check.metric_name(name)
        cells = check.row(name, kwargs)
        self._table_columns(name, tuple(cells))
        if description:
            self._describe(name, description)
        now = _now()
        for col, v in cells.items():
            self._queue((st.TABLE, name, col)).append((v, None, now))

    def log_table(self, name: str, value: dict, description: str = "") -> None:
        """Add rows to the table metric ``name`` from ``{column: [values]}`` (or a DataFrame)."""
        check.metric_name(name)
        cols = check.table(name, value)
        self._table_columns(name, tuple(cols))
        if description:
            self._describe(name, description)
        now = _now()
        for col, vals in cols.items():
            self._queue((st.TABLE, name, col)).extend((v, None, now) for v in vals)

    def _table_columns(self, name: str, cols: tuple[str, ...]) -> None:
        self._claim(name, st.TABLE)
        have = self._table_cols.get(name)
        if have is None:
            self._table_cols[name] = cols
        elif set(have) != set(cols):
            raise ValueError(
                f"table {name!r} has columns {list(have)}; this row has {list(cols)}. Every row of a"
                " table needs the same columns (use another name for a different table)"
            )

    def log_image(
        self, name: str, path: str | os.PathLike | None = None, plot: Any = None, description: str = ""
    ) -> None:
        """Log an image from a file (``path``) or a matplotlib figure or ``pyplot`` (``plot``)."""
        check.metric_name(name)
        if (path is None) == (plot is None):
            raise ValueError(f"run.log_image({name!r}, ...) needs exactly one of path= or plot=")
        if path is not None:
            src = Path(path)
            if not src.is_file():
                raise FileNotFoundError(f"run.log_image({name!r}, path=...): no file at {src}")
            suffix = src.suffix.lower() or ".png"
            if suffix not in (".png", ".jpg", ".jpeg", ".gif", ".svg", ".webp", ".bmp"):
                raise ValueError(f"run.log_image({name!r}): {src.name} is not an image (png, jpg, gif, svg, webp)")
        elif not hasattr(plot, "savefig"):
            raise TypeError(
                f"run.log_image({name!r}, plot=...) needs a matplotlib Figure or matplotlib.pyplot,"
                f" got {type(plot).__name__}"
            )
        self._claim(name, st.IMAGE)
        if description:
            self._describe(name, description)
        stem = _file_stem(name)
        if path is not None:
            file_name = f"images/{stem}_{secrets.token_hex(4)}{suffix}"
            self._store.put_file(self.id, file_name, str(src))
        else:
            import io

            file_name = f"images/{stem}_{secrets.token_hex(4)}.png"
            data = io.BytesIO()
            plot.savefig(data, format="png", bbox_inches="tight")
            data.seek(0)
            self._store.put_file(self.id, file_name, data)
        self._queue((st.IMAGE, name, None)).append((file_name, None, _now()))

    def log_confusion_matrix(self, name: str, value: Any, description: str = "") -> None:
        """Log a confusion matrix, Azure's way: ``{"schema_type": "confusion_matrix", "schema_version":
        "1.0.0", "data": {"class_labels": [...], "matrix": [[...]]}}`` (a dict or its JSON). Drawn as a heatmap."""
        self._log_evaluation("confusion_matrix", name, value, description)

    def log_accuracy_table(self, name: str, value: Any, description: str = "") -> None:
        """Log an accuracy table (TP, FP, TN, FN per class at many thresholds; Azure's schema ``accuracy_table``
        with probability_tables, percentile_tables, their thresholds and class_labels). Drawn as ROC curves."""
        self._log_evaluation("accuracy_table", name, value, description)

    def log_residuals(self, name: str, value: Any, description: str = "") -> None:
        """Log a histogram of residuals (predicted - actual): ``data`` has bin_edges and bin_counts."""
        self._log_evaluation("residuals", name, value, description)

    def log_predictions(self, name: str, value: Any, description: str = "") -> None:
        """Log binned predictions against true values: ``data`` has bin_averages, bin_errors, bin_counts and
        bin_edges. Drawn as the average prediction per bin of true values, with its error, against the ideal."""
        self._log_evaluation("predictions", name, value, description)

    def _log_evaluation(self, schema: str, name: str, value: Any, description: str) -> None:
        import io

        check.metric_name(name)
        doc = evaluation.document(schema, name, value)
        self._claim(name, st.CHART)
        if description:
            self._describe(name, description)
        file_name = f"metrics/{_file_stem(name)}_{secrets.token_hex(4)}.json"
        self._store.put_file(self.id, file_name, io.BytesIO(json.dumps(doc).encode()))
        self._queue((st.CHART, name, None)).append((file_name, None, _now()))

    def flush(self) -> None:
        """Write every buffered point to the store now."""
        self._flush()

    def _flush(self) -> None:
        self._buffer.flush()

    def _note_in_log(self, line: str) -> None:
        with open(self._store.log_path(self.id, PYTHON_LOG), "a", encoding="utf-8", errors="replace") as f:
            f.write(line)

    # -- reading metrics -------------------------------------------------------
    def get_metrics(
        self, name: str | None = None, recursive: bool = False, run_type: str | None = None, populate: bool = False
    ) -> dict:
        """Metrics by name: one value as a scalar, a series as a list, a table as a dict of columns.

        ``recursive=True`` gives ``{run_id: metrics}`` for this run and its descendants.
        What the run logged, as in Azure: the ``system/*`` metrics sampled for it are left out
        unless named (``get_system_metrics()`` gives them all).
        """
        if name is not None:
            check.metric_name(name)
        runs = [self, *self.get_children(recursive=True)] if recursive else [self]
        out = {}
        for run in runs:
            run._flush()
            chunks = self._store.read_series(run.id, name)
            if name is None:
                chunks = [c for c in chunks if not c.key.name.startswith(SYSTEM_PREFIX)]
            out[run.id] = _shape_metrics(chunks, run)
        return out if recursive else out[self.id]

    def get_system_metrics(self) -> dict:
        """The ``system/*`` metrics sampled while the run had a process (CPU, memory, disk, network, GPUs)."""
        chunks = [c for c in self._store.read_series(self.id) if c.key.name.startswith(SYSTEM_PREFIX)]
        return _shape_metrics(chunks, self)

    def get_metrics_frame(self, name: str | None = None, recursive: bool = False) -> pandas.DataFrame:
        """Every point as a tidy DataFrame: run_id, name, column, kind, step, value, time (UTC)."""
        import pandas as pd

        runs = [self, *self.get_children(recursive=True)] if recursive else [self]
        frames = []
        for run in runs:
            run._flush()
            for ch in self._store.read_series(run.id, name):
                if name is None and ch.key.name.startswith(SYSTEM_PREFIX):
                    continue  # as get_metrics: what the run logged
                n = len(ch.values)
                frames.append(
                    pd.DataFrame(
                        {
                            "run_id": run.id,
                            "name": ch.key.name,
                            "column": ch.key.column,
                            "kind": ch.key.kind,
                            "step": ch.x().astype("int64"),
                            "value": ch.values,
                            "time": pd.to_datetime(ch.walls, unit="s", utc=True),
                        },
                        index=range(n),
                    )
                )
        cols = ["run_id", "name", "column", "kind", "step", "value", "time"]
        if not frames:
            return pd.DataFrame({c: [] for c in cols})
        df = pd.concat(frames, ignore_index=True)
        return df.sort_values(["run_id", "time"], kind="stable", ignore_index=True)[cols]

    # -- tags and properties ------------------------------------------------------
    def tag(self, key: str, value: Any = None) -> None:
        """Set one tag (mutable); a tag without a value is stored as an empty string."""
        self._store.set_tags(self.id, {key: check.tag_value(key, value)})

    def set_tags(self, tags: dict | Iterable[str] | str) -> None:
        if isinstance(tags, str):
            tags = {tags: None}
        elif not isinstance(tags, dict):
            tags = {t: None for t in tags}
        self._store.set_tags(self.id, {k: check.tag_value(k, v) for k, v in tags.items()})

    def get_tags(self) -> dict[str, str | None]:
        return self._store.get_run(self.id).tags

    def remove_tags(self, tags: Iterable[str] | str) -> None:
        keys = [tags] if isinstance(tags, str) else list(tags)
        for k in keys:
            check.metric_name(k, "tag name")
        self._store.remove_tags(self.id, keys)

    def add_properties(self, properties: dict) -> None:
        """Add properties; they cannot change once set (ValueError). Use tags for what changes."""
        if not isinstance(properties, dict):
            raise TypeError(f"add_properties needs a dict, got {type(properties).__name__}")
        self._store.add_properties(self.id, {k: check.property_value(k, v) for k, v in properties.items()})

    def get_properties(self) -> dict[str, str]:
        return self._store.get_run(self.id).properties

    # -- files -----------------------------------------------------------------
    def upload_file(self, name: str, path_or_stream: Any) -> str:
        """Copy a file (a path or a binary stream) into the run as ``name``."""
        name = check.relative_name(name)
        if not hasattr(path_or_stream, "read"):
            src = Path(path_or_stream)
            if not src.is_file():
                raise FileNotFoundError(f"upload_file({name!r}, ...): no file at {src}")
            path_or_stream = str(src)
        self._store.put_file(self.id, name, path_or_stream)
        return name

    def upload_files(self, names: list[str], paths: list[str]) -> list[str]:
        if len(names) != len(paths):
            raise ValueError(f"upload_files got {len(names)} names and {len(paths)} paths")
        return [self.upload_file(n, p) for n, p in zip(names, paths)]

    def upload_folder(self, name: str, path: str | os.PathLike) -> list[str]:
        """Copy every file under folder ``path`` into the run under ``name/``."""
        name = check.relative_name(name, "folder name")
        root = Path(path)
        if not root.is_dir():
            raise NotADirectoryError(f"upload_folder({name!r}, ...): no folder at {root}")
        return [
            self.upload_file(f"{name}/{p.relative_to(root).as_posix()}", p)
            for p in sorted(root.rglob("*"))
            if p.is_file()
        ]

    def get_file_names(self) -> list[str]:
        return self._store.list_files(self.id)

    def download_file(self, name: str, output_file_path: str | os.PathLike | None = None) -> str:
        name = check.relative_name(name)
        dest = Path(output_file_path) if output_file_path is not None else Path(Path(name).name)
        if dest.is_dir():
            dest = dest / Path(name).name
        return self._store.get_file(self.id, name, str(dest))

    def download_files(
        self, prefix: str | None = None, output_directory: str | os.PathLike | None = None, append_prefix: bool = True
    ) -> list[str]:
        """Download every file whose name starts with ``prefix``, keeping its relative path."""
        out = Path(output_directory or ".")
        prefix = check.relative_name(prefix, "prefix") if prefix else ""
        got = []
        for name in self.get_file_names():
            if prefix and not (name == prefix or name.startswith(prefix.rstrip("/") + "/")):
                continue
            rel = name if append_prefix or not prefix else name[len(prefix) :].lstrip("/") or Path(name).name
            got.append(self._store.get_file(self.id, name, str(out / rel)))
        return got

    # -- children --------------------------------------------------------------
    def child_run(self, name: str | None = None, run_id: str | None = None, outputs: Any = None) -> Run:
        """Start a child run (also a context manager: ``with run.child_run() as c:``)."""
        name = check.display_name(name, "child run name")
        if run_id is not None:
            check.run_id(run_id)
        return Run._start(self.experiment, name=name, parent=self, run_id=run_id)

    def create_children(
        self, count: int | None = None, tag_key: str | None = None, tag_values: Iterable[str] | None = None
    ) -> list[Run]:
        """Start several child runs at once; child i gets the tag ``tag_key: tag_values[i]``."""
        values = None if tag_values is None else list(tag_values)
        if values is not None and tag_key is None:
            raise ValueError("create_children: tag_values needs a tag_key to set them under")
        if count is None:
            if values is None:
                raise ValueError("create_children needs count=, or tag_key= with tag_values=")
            count = len(values)
        if not isinstance(count, int) or isinstance(count, bool) or count < 1:
            raise ValueError(f"create_children: count must be a whole number >= 1, got {count!r}")
        if values is not None and len(values) != count:
            raise ValueError(f"create_children: count={count} but {len(values)} tag_values")
        return [
            Run._start(self.experiment, parent=self, tags={tag_key: values[i]} if values is not None else None)
            for i in range(count)
        ]

    def submit_child(self, config: Any, tags: dict | None = None, **kwargs: Any) -> Run:
        """Submit a ``ScriptRunConfig`` as a child of this run (it runs in its own process)."""
        submit = getattr(config, "_submit", None)
        if submit is None:
            raise TypeError(f"submit_child needs a ScriptRunConfig, got {type(config).__name__}")
        return submit(self.experiment, tags=tags, parent=self, **kwargs)

    @staticmethod
    def get(workspace: Any, run_id: str) -> Run:
        """The run with this id in ``workspace``, whichever experiment holds it."""
        return workspace.get_run(run_id)

    def get_children(
        self,
        recursive: bool = False,
        tags: dict | str | None = None,
        properties: dict | None = None,
        type: str | None = None,  # noqa: A002 - Azure's name
        status: str | None = None,
    ) -> list[Run]:
        """Child runs, oldest first; ``recursive`` includes their descendants."""
        tags = {tags: None} if isinstance(tags, str) else tags
        recs = self._store.find_runs(parent_id=self.id, tags=tags, properties=properties, status=status)
        out = [Run._of(self.experiment, r) for r in recs if type is None or r.kind == type]
        if recursive:
            for child in list(out):
                out += child.get_children(recursive=True, tags=tags, properties=properties, type=type, status=status)
        return out

    @property
    def parent(self) -> Run | None:
        pid = self._record.parent_id
        return Run._of(self.experiment, self._store.get_run(pid)) if pid else None

    # -- status ------------------------------------------------------------------
    def _watch_system(self) -> None:
        """Sample system metrics into this run until it ends (an interactive run: this process's tree)."""
        from .system_metrics import SystemMonitor

        self._system = SystemMonitor(self._store, self.id, os.getpid()).start()

    def _finish(self, status: str, error: dict | None = None) -> None:
        system = getattr(self, "_system", None)
        if system is not None:
            system.stop()
        self._flush()
        fields: dict[str, Any] = {"status": status, "ended": _now()}
        if error is not None:
            fields["error"] = error
        if not self._store.set_status_if(self.id, (st.NOT_STARTED, st.QUEUED) + tuple(st.LIVE), **fields):
            now = self._store.get_run(self.id).status
            if now != status:
                log.warning("runwidgets: run %s is already %s; leaving it so", self.id, now)
        self._closed = True
        self._beats = False

    def start(self) -> None:
        """Mark a run that was created but not started as Running."""
        self._store.update_run(self.id, status=st.RUNNING, started=_now())
        self._beats = self._closes_at_exit = True
        self._closed = False

    def complete(self, _set_status: bool = True) -> None:
        """Flush every metric and mark the run Completed."""
        self._finish(st.COMPLETED)

    def fail(self, error_details: Any = None, error_code: str | None = None, _set_status: bool = True) -> None:
        """Mark the run Failed, with an error (a message or an exception)."""
        self._finish(st.FAILED, _error_dict(error_details, error_code))

    def cancel(self) -> None:
        """Stop the run: a submitted script is terminated; a local run is marked Canceled."""
        rec = self._store.get_run(self.id)
        if rec.details.supervised and rec.status not in st.TERMINAL:
            self._store.set_status_if(
                self.id, (st.NOT_STARTED, st.QUEUED, st.STARTING, st.RUNNING), status=st.CANCEL_REQUESTED
            )
        else:
            self._finish(st.CANCELED)
        for child in self.get_children():
            if child.get_status() not in st.TERMINAL:
                child.cancel()

    def get_status(self) -> str:
        """Completed, Failed, Canceled, Running... A run whose process died reads as Failed."""
        self._record = rec = self._store.get_run(self.id)
        return rec.display_status

    @property
    def status(self) -> str:
        return self.get_status()

    def __enter__(self) -> Run:
        return self

    def __exit__(self, tp, value, tb) -> None:
        if value is None:
            self.complete()
        else:
            self.fail(value)

    # -- details -----------------------------------------------------------------
    def get_details(self) -> dict:
        """The run as Azure's ``get_details()`` shapes it; ``endTimeUtc`` appears once the run has ended."""
        rec = self._record = self._store.get_run(self.id)
        files = self.get_file_names()
        out = {
            "runId": rec.run_id,
            "displayName": rec.name,
            "experiment": rec.experiment,
            "parentRunId": rec.parent_id,
            "type": rec.kind,
            "target": rec.details.definition.target if rec.details.definition else "local",
            "status": rec.display_status,
            "startTimeUtc": _iso(rec.started),
            "endTimeUtc": _iso(rec.ended),
            "properties": rec.properties,
            "tags": rec.tags,
            "error": rec.display_error,
            "runDefinition": asdict(rec.details.definition) if rec.details.definition else {},
            "logFiles": {f: str(self._store.file_path(self.id, f)) for f in files if is_log(f)},
            "portalUrl": self.get_portal_url(),
        }
        if rec.ended is None or rec.display_status not in st.TERMINAL:
            del out["endTimeUtc"]
        if rec.started is None:
            del out["startTimeUtc"]
        return out

    def wait_for_completion(
        self, show_output: bool = False, wait_post_processing: bool = False, raise_on_error: bool = True
    ) -> dict:
        """Block until the run ends; ``show_output`` streams its log. Returns ``get_details()``.

        Raises ``RunFailedError`` for a failed run (unless ``raise_on_error=False``).
        Ctrl-C stops waiting and leaves the run going.
        """
        from .waiting import wait_for_completion

        return wait_for_completion(self, show_output=show_output, raise_on_error=raise_on_error)

    def get_details_with_logs(self) -> dict:
        details = self.get_details()
        details["logFiles"] = {
            name: Path(path).read_text(errors="replace") for name, path in details["logFiles"].items()
        }
        return details

    @property
    def name(self) -> str:
        return self._record.name

    @property
    def display_name(self) -> str:
        return self._record.name

    @display_name.setter
    def display_name(self, value: str) -> None:
        name = check.display_name(value, "display_name")
        if name is None:
            raise TypeError("display_name must be a str")
        self._store.update_run(self.id, name=name)
        self._record = self._store.get_run(self.id)

    @property
    def type(self) -> str:  # noqa: A003 - Azure's name
        """The run's type as Azure names it: ``azureml.scriptrun``, ``hyperdrive``, ``interactive``."""
        return self._record.kind

    def restore_snapshot(self, snapshot_id: str | None = None, path: str | os.PathLike | None = None) -> str:
        """Write the run's snapshot (the source it ran from) as a zip file; returns the zip's path.

        ``path`` is a folder (the zip is ``<run_id>.zip`` in it) or a file name ending in ``.zip``;
        without it, the working directory.
        """
        import shutil
        import tempfile

        from ..submit.config import snapshot_dir

        dest = Path(path) if path is not None else Path.cwd()
        if dest.suffix.lower() != ".zip":
            dest = dest / f"{snapshot_id or self.id}.zip"
        dest.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory() as tmp:
            src = snapshot_dir(self.experiment.workspace, self.id)  # a submitted run's
            if not src.is_dir():  # start_logging(snapshot_directory=...) uploads it as files of the run
                src = Path(tmp)
                if not self.download_files("snapshot", output_directory=src, append_prefix=False):
                    raise FileNotFoundError(
                        f"run {self.id} has no snapshot: submitted runs have one, and"
                        " start_logging(snapshot_directory=...) takes one"
                    )
            made = shutil.make_archive(str(dest.with_suffix("")), "zip", root_dir=src)
        return str(Path(made).resolve())

    def get_all_logs(self, destination: str | os.PathLike | None = None) -> list[str]:
        """Copy every log file of the run into ``destination`` (default: a folder named after the run)."""
        out = Path(destination) if destination is not None else Path.cwd() / self.id
        return [self._store.get_file(self.id, n, str(out / n)) for n in self.get_file_names() if is_log(n)]

    def get_portal_url(self) -> str:
        """The run's page: in the dashboard (``runwidgets dashboard``), or the MLflow UI for an MLflow store."""
        return self.experiment.workspace.run_page(self.id)

    def get_logging_handler(self, level: int = logging.INFO) -> logging.Handler:
        """A ``logging.Handler`` writing records into this run's ``azureml-logs/python_log.txt``."""
        from .log_handler import RunLogHandler

        return RunLogHandler(self, level=level)

    def _log_file(self, name: str) -> str:
        return self._store.log_path(self.id, name)

    # -- reprs ---------------------------------------------------------------------
    def __repr__(self) -> str:
        return f"Run(experiment={self.experiment.name!r}, id={self.id!r}, status={self._record.display_status!r})"

    def _repr_html_(self) -> str:
        status = self.get_status()
        url = self.get_portal_url()
        e = html.escape
        link = f'<a href="{e(url)}" target="_blank" rel="noopener">Open in dashboard</a>' if safe_href(url) else ""
        return (
            "<table><tr><th>Experiment</th><th>Id</th><th>Type</th><th>Status</th><th>Details page</th></tr>"
            f"<tr><td>{e(self.experiment.name)}</td><td>{e(self.id)}</td><td>{e(self._record.kind)}</td>"
            f"<td>{e(status)}</td><td>{link}</td></tr></table>"
        )


SYSTEM_PREFIX = "system/"  # runwidgets.tracking.system_metrics writes these, under MLflow's names


def _list_runs(
    experiment: Experiment,
    type: str | None = None,  # noqa: A002 - Azure's name
    tags: dict | str | None = None,
    properties: dict | None = None,
    status: str | None = None,
    include_children: bool = False,
    _rehydrate_runs: bool = True,
) -> list[Run]:
    """Runs of ``experiment``, newest first (as ``experiment.get_runs``)."""
    return experiment.get_runs(
        type=type, tags=tags, properties=properties, status=status, include_children=include_children
    )


# Azure's name; defined outside the class so that "list" in the class's annotations stays the builtin.
Run.list = staticmethod(_list_runs)  # type: ignore[attr-defined]


def _file_stem(name: str) -> str:
    """A metric's name as the start of a file name (an image's, an evaluation document's)."""
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)[:80]


def _shape_metrics(chunks: list[st.SeriesChunk], run: Run) -> dict:
    out: dict[str, Any] = {}
    for ch in chunks:
        k, values = ch.key, ch.values.tolist()
        if k.kind == st.CHART:  # the document itself (Azure gave a link to it); the latest one logged
            out[k.name] = json.loads(run._store.read_file(run.id, str(values[-1])))
        elif k.kind == st.TABLE:
            out.setdefault(k.name, {})[k.column] = values
        elif k.kind == st.LIST:
            out[k.name] = values
        else:
            out[k.name] = values[0] if len(values) == 1 else values
    return out


def _error_dict(error: Any, code: str | None = None) -> dict:
    if isinstance(error, BaseException):
        tb = "".join(traceback.format_exception(type(error), error, error.__traceback__))
        return {
            "code": code or type(error).__name__,
            "message": f"{type(error).__name__}: {error}",
            "traceback": tb[-8000:],
        }
    if isinstance(error, dict):
        return {"code": code or str(error.get("code", "UserError")), **{k: str(v) for k, v in error.items()}}
    return {"code": code or "UserError", "message": "" if error is None else str(error)}


def _iso(t: float | None) -> str | None:
    return None if t is None else datetime.fromtimestamp(t, timezone.utc).isoformat().replace("+00:00", "Z")


def _safe_name(s: str) -> str:
    s = "".join(c if c.isalnum() or c in "_-." else "_" for c in s).lstrip("_.-")
    return s[:255]
