"""RunDetails: a run shown live in a cell, the JupyterLab sidebar or Voila.

``RunDetails`` is a plain object that owns the state, the widgets and the
place in the poller; ``show()`` displays its widgets and returns at once. The
view is composed in Python: a header (anywidget), bqplot charts, and a panel
(anywidget) with child runs, images and logs.
"""

from __future__ import annotations

import fnmatch
import html
import json
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import ipywidgets as W
import numpy as np

from .. import ranking
from ..automl.metrics import goal_of as automl_goal
from ..formatting import fmt_value
from ..store.base import AUTOML_RUN, CHART, IMAGE, LIST, SCALAR, TABLE, TERMINAL, RunRecord
from ..store.registry import open_store
from ..store.uri import safe_href
from . import messages as msg
from .charts import ChildMetricChart, LineChart, Splices
from .closing import close_all
from .evaluation import EvaluationChart, heat_payload, table_payload
from .poller import POLLER
from .state import RunState, Series
from .sweep import Curve, CurvesChart, ParallelChart, StopMark, progress, stop_mark
from .views import HeaderView, PanelsView

LOG_LINES = 5000  # lines of each log kept for the view
IMAGE_BYTES = 4 * 2**20  # larger images are listed, not sent
CHILD_PAGE = 25
_MIME = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".gif": "image/gif",
         ".svg": "image/svg+xml", ".webp": "image/webp", ".bmp": "image/bmp"}  # fmt: skip


@dataclass
class RunSource:
    """Where a view reads a run from: a store, the run's id, and how to link to a run's page."""

    store: Any
    run_id: str
    portal_url: Callable[[str], str | None]
    portal_hint: Callable[[], str | None] = lambda: None  # how to start the dashboard its link needs


def source_of(run: Any, tracking_uri: str | None = None) -> RunSource:
    """Our Run, an ``mlflow.entities.Run``, an MLflow run id with ``tracking_uri``, or a RunSource."""
    if isinstance(run, RunSource):
        return run
    store = getattr(run, "_store", None)
    if store is not None and hasattr(run, "id") and hasattr(run, "experiment"):
        ws = run.experiment.workspace
        return RunSource(store, run.id, ws.run_page, ws.portal_hint)
    if type(run).__module__.startswith("mlflow.") or (isinstance(run, str) and tracking_uri):
        return _mlflow_source(run, tracking_uri)
    hint = " (an MLflow run id also needs tracking_uri=...)" if isinstance(run, str) else ""
    raise TypeError(f"RunDetails needs a runwidgets Run or an MLflow run, got {type(run).__name__}{hint}")


def _mlflow_source(run: Any, tracking_uri: str | None) -> RunSource:
    import os
    from pathlib import Path

    try:
        import mlflow
    except ImportError:
        raise ImportError("showing MLflow runs needs mlflow: pip install 'runwidgets[mlflow]'") from None
    run_id = run if isinstance(run, str) else run.info.run_id
    uri = tracking_uri or mlflow.get_tracking_uri()
    store = open_store(uri, Path(os.environ.get("RUNWIDGETS_WORKSPACE", ".runwidgets")))
    store.get_run(run_id)  # an unknown id fails here, clearly
    return RunSource(store, run_id, store.portal_url)


def _int(v: Any) -> int | None:
    try:
        return int(v)
    except (TypeError, ValueError):
        return None


def _where(rec: RunRecord) -> str:
    """The compute a run ran on: its target, and the worker when a cluster ran it."""
    target = rec.details.definition.target if rec.details.definition else "local"
    worker = rec.details.worker_name or rec.details.worker
    return f"{target} ({worker})" if worker else target


def _when(t: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t)) if t else "-"


SYSTEM_PREFIX = "system/"  # runwidgets.tracking.system_metrics, MLflow's names
SYSTEM_SUMMARY = (  # what the System panel's title says while it is closed
    ("system/cpu_utilization_percentage", "CPU", "%"),
    ("system/process_memory_rss_megabytes", "run RSS", " MB"),
    ("system/system_memory_usage_percentage", "memory", "%"),
    ("system/gpu_0_utilization_percentage", "GPU 0", "%"),
)


class RunDetails:
    """Watch a run: ``RunDetails(run).show()``.

    ``refresh_interval`` (seconds, at least 1) replaces the default 10 to 15 s.
    ``metrics`` picks which metrics get charts (names or glob patterns).
    ``run`` may also be an ``mlflow.entities.Run``, or an MLflow run id with ``tracking_uri``.
    """

    def __init__(
        self,
        run: Any,
        refresh_interval: float | None = None,
        metrics: list[str] | str | None = None,
        max_charts: int = 24,
        tracking_uri: str | None = None,
    ) -> None:
        self._source = source_of(run, tracking_uri)
        if refresh_interval is not None:
            if not isinstance(refresh_interval, (int, float)) or isinstance(refresh_interval, bool):
                raise TypeError(f"refresh_interval must be a number of seconds, got {refresh_interval!r}")
            if not refresh_interval >= 1:
                raise ValueError(f"refresh_interval must be at least 1 second, got {refresh_interval}")
        self.refresh_interval = refresh_interval
        self._patterns = [metrics] if isinstance(metrics, str) else list(metrics or [])
        self.max_charts = max_charts
        self.run_id = self._source.run_id
        self._state = RunState(self.run_id)
        self._cursor = None
        self._lock = threading.RLock()
        self._charts: dict[str, LineChart] = {}
        self._system: dict[str, LineChart] = {}  # system/* metrics: drawn only once their panel is opened
        self._evaluations: dict[str, EvaluationChart] = {}
        self._documents: dict[str, tuple[int, dict | None]] = {}  # chart metric -> (points seen, latest document)
        self._tables: dict[str, dict] = {}
        self._child_chart: ChildMetricChart | None = None
        self._curves: CurvesChart | None = None  # the cockpit: every child's primary metric
        self._parallel: ParallelChart | None = None
        self._overlay: CurvesChart | None = None  # ticked children's metric
        self._ticked: list[str] = []
        self._picking = False
        self.overlay_metric: W.Dropdown | None = None  # made with the view
        self._child_details: RunDetails | None = None
        self._logs: dict[str, deque[str]] = {}
        self._root: W.VBox | None = None
        self._sidecar: Any = None
        self._closed = False
        self._final_read_done = False
        self._last_run: dict | None = None
        self.polls = 0

    # -- building -------------------------------------------------------------
    @property
    def widget(self) -> W.VBox:
        """The composed view (built, and first read, on first use)."""
        with self._lock:
            if self._closed:
                raise RuntimeError("this RunDetails was closed; make a new one")
            if self._root is None:
                self._build()
            return self._root

    def _build(self) -> None:
        self.header = HeaderView()
        self.panels = PanelsView()
        self.panels.on_msg(self._on_msg)
        self._splices = Splices(self.panels.send, lambda charts: setattr(self.panels, "charts", charts))
        self.charts_box = W.Box(layout=W.Layout(display="flex", flex_flow="row wrap", width="100%"))
        self.charts_note = W.Label()
        self.system_charts = W.Box(layout=W.Layout(display="flex", flex_flow="row wrap", width="100%"))
        # collapsed: CPU, memory, disk and network are there when wanted, not in the way of the run's own metrics
        self.system_box = W.Accordion([self.system_charts], selected_index=None, layout=W.Layout(display="none"))
        self.system_box.set_title(0, "System")
        self.system_box.add_class("rw-system")
        self.system_box.observe(self._on_system_open, "selected_index")
        self.child_box = W.VBox()
        self.sweep_box = W.Box(layout=W.Layout(display="flex", flex_flow="row wrap", width="100%"))
        self.overlay_metric = W.Dropdown(description="metric", layout=W.Layout(width="auto"))
        self.overlay_metric.observe(self._on_pick, "value")
        self.overlay_box = W.VBox()
        self._root = W.VBox(
            [self.header, self.sweep_box, self.charts_box, self.charts_note, self.system_box, self.panels,
             self.overlay_box, self.child_box]
        )  # fmt: skip
        self._root.add_class("rw-root")
        try:
            self._refresh()
        except Exception as e:  # the view still shows, and says why it is empty
            self.poll_failed(e, self.refresh_interval or 10)
        if not self._finished():
            POLLER.add(self, self.refresh_interval)

    def show(self, sidebar: bool = False, anchor: str = "split-right", title: str | None = None) -> None:
        """Display the view and return at once; ``sidebar=True`` opens it in a JupyterLab side panel.

        Returns None (as Azure ML's did), so a cell ending in ``.show()`` shows the view once.
        """
        from IPython.display import display

        if not sidebar:
            display(self)
            return
        try:
            from sidecar import Sidecar
        except ImportError:
            raise ImportError(
                "RunDetails.show(sidebar=True) needs the sidecar package: pip install 'runwidgets[sidecar]'"
            ) from None
        self._sidecar = Sidecar(title=title or f"Run {self.run_id}", anchor=anchor)
        with self._sidecar:
            display(self.widget)

    def _repr_mimebundle_(self, **kwargs: Any) -> dict:
        bundle = self.widget._repr_mimebundle_(**kwargs) or {}
        rec = self._state.records.get(self.run_id)
        status = rec.display_status if rec else "unknown"
        url = safe_href(self._source.portal_url(self.run_id))
        bundle["text/plain"] = f"RunDetails: run {self.run_id} ({status})" + (f"; open {url}" if url else "")
        e = html.escape
        link = f'<a href="{e(url)}" target="_blank" rel="noopener">Open the run\'s page</a> ' if url else ""
        bundle["text/html"] = (
            f"<p>Run <code>{e(self.run_id)}</code>: <b>{e(status)}</b>. {link}"
            "(this host does not show Jupyter widgets).</p>"
        )
        return bundle

    def close(self) -> None:
        """Stop polling and close every widget this view made (layouts, styles, scales and marks too)."""
        with self._lock:
            self._closed = True
            POLLER.remove(self)
            if self._child_details is not None:
                self._child_details.close()
            charts: list[Any] = [*self._charts.values(), *self._system.values(), *self._evaluations.values()]
            charts += [c for c in (self._child_chart, self._curves, self._parallel, self._overlay) if c is not None]
            for chart in charts:
                chart.close()
            close_all(self._root, self.overlay_metric, self._sidecar)  # the dropdown is out of the tree when unticked

    @property
    def polling(self) -> bool:
        return POLLER.is_polling(self)

    # -- polling --------------------------------------------------------------
    def poll(self) -> bool:
        """One refresh (called by the poller thread). False when nothing more will change."""
        with self._lock:
            if self._closed:
                return False
            self._refresh()
            if self._finished():
                if self._final_read_done:
                    return False
                self._final_read_done = True  # one more read after the end, then stop
            return True

    def poll_failed(self, error: BaseException, retry_in: float) -> None:
        with self._lock:
            if not self._closed and self._root is not None:
                # a store keeps credentials out of its own errors (the MLflow store scrubs them)
                self.header.connection = f"Reconnecting: {type(error).__name__}: {error}. Next try in {retry_in:.0f} s."

    def _finished(self) -> bool:
        return bool(self._state.records) and self._state.finished()

    def _refresh(self) -> None:
        delta, self._cursor = self._source.store.read_since([self.run_id], self._cursor, log_runs=[self.run_id])
        self.polls += 1
        if self.header.connection:
            self.header.connection = ""
        runs, series = self._state.apply(delta)  # also on an empty delta: a run may have just gone quiet
        mine = {k for k in series if k.run_id == self.run_id}
        if self.run_id in runs or mine:
            self._update_header()
        if mine:
            self._update_charts({k.name for k in mine if k.kind in (SCALAR, LIST, TABLE)})
            if any(k.kind in (TABLE, CHART) for k in mine):
                self._update_documents({k.name for k in mine if k.kind in (TABLE, CHART)})
            self._splices.flush()
            if any(k.kind == IMAGE for k in mine):
                self._update_images()
        if (runs - {self.run_id}) or (series - mine):
            self._update_children()
            if self._ticked and ({k.run_id for k in series} & set(self._ticked)):
                self._update_overlay()
        if delta.logs:
            self._update_logs(delta.logs)

    # -- header and properties --------------------------------------------------
    def _update_header(self) -> None:
        rec = self._state.record
        err = rec.display_error
        run = {
            "id": rec.run_id,
            "name": rec.name,
            "experiment": rec.experiment,
            "status": rec.display_status,
            "kind": rec.kind,
            "created": rec.created,
            "started": rec.started,
            "ended": rec.ended,
            "target": _where(rec),
            "portal_url": safe_href(self._source.portal_url(rec.run_id)),
            "portal_hint": self._source.portal_hint(),
            "error": {k: str(err.get(k, "")) for k in ("code", "message", "traceback")} if err else None,
        }
        live = rec.display_status not in TERMINAL
        if self.panels.live != live:
            self.panels.live = live
        with self.header.hold_sync():
            if run != self._last_run:
                self._last_run = run
                self.header.run = {**run, "server_time": time.time()}  # lets the browser correct clock skew
            self.header.props = self._properties(rec)

    def _properties(self, rec: RunRecord) -> list[dict[str, str]]:
        """Rows of the properties table: ``{"section", "key", "value"}``."""
        rows = [
            ("Run", "Status", rec.display_status),
            ("Run", "Run id", rec.run_id),
            ("Run", "Created", _when(rec.created)),
            ("Run", "Started", _when(rec.started)),
            ("Run", "Ended", _when(rec.ended)),
        ]
        if rec.parent_id:
            rows.append(("Run", "Parent", rec.parent_id))
        definition = rec.details.definition
        if definition is not None and (definition.script or definition.command):
            rows.append(("Arguments", "Script", str(definition.script or definition.command)))
            if definition.arguments:
                rows.append(("Arguments", "Arguments", " ".join(map(str, definition.arguments))))
        rows += [("Tags", k, "" if v is None else v) for k, v in rec.tags.items()]
        rows += [("Properties", k, v) for k, v in rec.properties.items()]
        for name, group in self._state.metrics_of(rec.run_id).items():
            s = group[0]
            if s.key.kind == SCALAR and (s.n == 1 or not s.numeric):
                rows.append(("Metrics", name, fmt_value(s.last)))
        return [{"section": a, "key": b, "value": c} for a, b, c in rows]

    # -- system metrics -------------------------------------------------------------
    def _update_system(self, groups: dict, names: set[str]) -> None:
        """The System panel: its title gives the latest CPU and memory; its charts exist once it is opened."""
        system = [n for n in groups if n.startswith(SYSTEM_PREFIX)]
        if not system:
            return
        if self.system_box.layout.display == "none":
            self.system_box.layout.display = None
        latest = {n: groups[n][0].last for n in system}
        parts = [f"{len(system)} metrics"]
        for name, label, unit in SYSTEM_SUMMARY:
            if isinstance(latest.get(name), (int, float)):
                parts.append(f"{label} {latest[name]:.0f}{unit}")
        title = "System: " + " · ".join(parts)
        if self.system_box.get_title(0) != title:
            self.system_box.set_title(0, title)
        if self.system_box.selected_index is None:
            return
        created = False
        for name in [n for n in system if n in names or n not in self._system]:
            data = self._chart_data(groups[name])
            if data is None:
                continue
            chart = self._system.get(name)
            if chart is None:
                chart = self._system[name] = LineChart(name, x_label="sample", splices=self._splices)
                created = True
            chart.set_data(data[0], data[1], data[2], total=groups[name][0].total)
        if created:
            self.system_charts.children = [c.widget for c in self._system.values()]

    def _on_system_open(self, change: dict) -> None:
        if change["new"] is None:
            return
        with self._lock:
            if not self._closed:
                groups = self._state.metrics_of(self.run_id)
                self._update_system(groups, set(groups))
                self._splices.flush()

    # -- charts -------------------------------------------------------------------
    def _wanted(self, name: str) -> bool:
        return not self._patterns or any(fnmatch.fnmatchcase(name, p) for p in self._patterns)

    def _update_charts(self, names: set[str]) -> None:
        groups = self._state.metrics_of(self.run_id)
        self._update_system(groups, names)
        created = False
        for name in [n for n in groups if n in names]:  # in order of first appearance
            data = self._chart_data(groups[name])
            if data is None or not self._wanted(name) or name.startswith(SYSTEM_PREFIX):
                continue
            chart = self._charts.get(name)
            if chart is None:
                if len(self._charts) >= self.max_charts:
                    continue
                chart = self._charts[name] = LineChart(name, x_label=data[3], splices=self._splices)
                created = True
            chart.set_data(data[0], data[1], data[2], total=groups[name][0].total)
        chartable = [
            n for n, g in groups.items()
            if self._wanted(n) and not n.startswith(SYSTEM_PREFIX) and self._chart_data(g, check_only=True)
        ]  # fmt: skip
        if created:
            self.charts_box.children = [c.widget for c in self._charts.values()]
        hidden = len(chartable) - len(self._charts)
        note = f"{hidden} more metric(s) not charted: pick with RunDetails(run, metrics=[...])" if hidden > 0 else ""
        if self.charts_note.value != note:
            self.charts_note.value = note

    @staticmethod
    def _chart_data(group: list[Series], check_only: bool = False):
        """(x, [y...], labels, x label) for a metric, or None when it is not a chart."""
        if not group:
            return None
        kind = group[0].key.kind
        if kind in (SCALAR, LIST):
            s = group[0]
            if s.n < 2 or not s.numeric:
                return None
            if check_only:
                return True
            x_label = "step" if kind == SCALAR else "index"
            return s.x, [s.y], [], x_label
        if kind == TABLE:
            shown = table_payload("", group)
            if shown is not None and shown["heat"]:
                return None  # a heatmap; a table with text columns is shown as a table and its numbers charted
            numeric = [s for s in group if s.numeric and s.n]
            rows = max((s.n for s in numeric), default=0)
            if rows < 2 or not numeric:
                return None
            if check_only:
                return True
            if len(numeric) == 1:
                return np.arange(rows, dtype=np.float64), [numeric[0].y], [numeric[0].key.column], "row"
            xs, ys = numeric[0], numeric[1:]
            n = min(s.n for s in numeric)
            return xs.y[:n], [s.y[:n] for s in ys], [s.key.column for s in ys], xs.key.column
        return None

    def _update_documents(self, names: set[str]) -> None:
        """Tables and heatmaps for the panel; Azure's evaluation metrics as their charts."""
        groups = self._state.metrics_of(self.run_id)
        added = False
        for name in [n for n in groups if n in names]:
            s = groups[name][0]
            if s.key.kind == TABLE:
                payload = table_payload(name, groups[name])
                if payload is not None:
                    self._tables[name] = payload
                else:
                    self._tables.pop(name, None)
                continue
            doc = self._document(name, s)
            if doc is None:
                continue
            if doc["schema_type"] == "confusion_matrix":
                self._tables[name] = heat_payload(name, doc)
                continue
            chart = self._evaluations.get(name)
            if chart is None:
                chart = self._evaluations[name] = EvaluationChart(name)
                added = True
            chart.set_document(doc)
        if added:
            self.charts_box.children = [*self.charts_box.children, *(c.widget for c in self._evaluations.values()
                                                                     if c.widget not in self.charts_box.children)]  # fmt: skip
        tables = list(self._tables.values())
        if tables != self.panels.tables:
            self.panels.tables = tables

    def _document(self, name: str, s: Series) -> dict | None:
        """The latest document of a chart metric, read from its file once per new point."""
        seen = self._documents.get(name)
        if seen is not None and seen[0] == s.n:
            return seen[1]
        doc = None
        try:
            doc = json.loads(self._source.store.read_file(self.run_id, str(s.last), IMAGE_BYTES))
        except (OSError, ValueError):
            pass  # a file that went missing or was cut short: nothing to draw, the next point may do
        ok = isinstance(doc, dict) and doc.get("schema_type") in ("confusion_matrix", "accuracy_table", "residuals",
                                                                   "predictions")  # fmt: skip
        self._documents[name] = (s.n, doc if ok else None)
        return doc if ok else None

    # -- children ------------------------------------------------------------------
    def _update_children(self) -> None:
        kids = self._state.children()
        if not kids:
            return
        metric, goal = ranking.primary_config(self._state.record.properties) or (None, None)
        rows, values = [], []
        for k in kids:
            params = k.properties.get("hyperparameters")
            if params:
                try:
                    params = " ".join(f"{a}={fmt_value(v)}" for a, v in json.loads(params).items())
                except ValueError:
                    pass
            else:
                params = " ".join(a if v is None else f"{a}={v}" for a, v in k.tags.items())
            value = self._state.best_value(k.run_id, metric, goal) if metric and goal else None
            values.append(value)
            err = k.error or {}
            stopped = str(err.get("message", "")) if err.get("code") == "EarlyTermination" else ""
            rows.append(
                {"id": k.run_id, "name": k.name, "status": k.display_status, "started": k.started,
                 "ended": k.ended, "params": params or "", "value": value, "stopped": stopped}
            )  # fmt: skip
        automl = self._state.record.kind == AUTOML_RUN
        if automl:  # Azure's iteration table: in iteration order, with the pipeline and the best so far
            best_so_far = None
            for row, k in zip(rows, kids):
                row["iteration"] = _int(k.properties.get("iteration"))
                row["pipeline"] = k.properties.get("run_algorithm", "")
            for row, v in sorted(zip(rows, values), key=lambda rv: (rv[0]["iteration"] is None, rv[0]["iteration"])):
                if (
                    v is not None
                    and goal
                    and (best_so_far is None or ranking.rank_key(v, goal) < ranking.rank_key(best_so_far, goal))
                ):
                    best_so_far = v
                row["best_so_far"] = best_so_far
        best = None
        if goal:
            order = ranking.ranked(zip(values, rows), goal)
            best = order[0][1]["id"] if order and order[0][0] is not None else None
            if not automl:
                rows = [r for _, r in order]
        progress_now = progress(self._state.record, kids).to_json() if metric else None
        payload = {"metric": metric, "goal": goal, "best": best, "rows": rows, "page_size": CHILD_PAGE,
                   "progress": progress_now, "layout": "automl" if automl else "sweep"}  # fmt: skip
        if payload != self.panels.children:
            self.panels.children = payload
        if metric and goal:
            self._update_cockpit(kids, rows, values, metric, goal, automl)

    def _update_cockpit(
        self, kids: list[RunRecord], rows: list[dict], values: list, metric: str, goal: str, automl: bool
    ) -> None:
        """The per-child chart (any metric the children have), and for a sweep every child's curve (best
        first) and parallel coordinates. An AutoML iteration reports each metric once: no curves, and
        its hyperparameters differ by algorithm: no shared axes."""
        if self._child_chart is None:
            self._child_chart = (
                ChildMetricChart(metric, goal, x_label="iteration", first=0)
                if automl
                else ChildMetricChart(metric, goal)
            )
            self._child_chart.metric_picker.observe(self._on_child_metric, "value")
            charts = [self._child_chart.widget]
            if not automl:
                self._curves = CurvesChart(f"{metric} of every child run")
                self._parallel = ParallelChart(metric)
                charts += [self._curves.widget, self._parallel.widget]
            self.sweep_box.children = charts
        self._update_child_metric(kids, metric, goal, values)
        if automl:
            return
        assert self._curves is not None and self._parallel is not None
        by_id = {k.run_id: k for k in kids}
        curves: list[Curve] = []
        stops: list[StopMark] = []
        for row in rows:  # ranked, best first
            rec = by_id[row["id"]]
            curve = self._curve(rec, metric)
            if curve is not None:
                curves.append(curve)
            mark = stop_mark(rec, curve)
            if mark is not None:
                stops.append(mark)
        self._curves.set_curves(curves, stops)
        ranked = {r["id"]: r["value"] for r in rows}
        self._parallel.set_children([self._hyperparameters(by_id[i]) for i in ranked], list(ranked.values()))

    def _update_child_metric(self, kids: list[RunRecord], metric: str, goal: str, values: list) -> None:
        """The per-child chart of the metric picked (the primary one at first)."""
        chart = self._child_chart
        assert chart is not None
        self._offer(chart.metric_picker, self._metric_names(kids, first=metric), metric)
        picked = chart.metric_picker.value
        picked_goal: str | None = goal
        if picked != metric:
            picked_goal = automl_goal(picked)
            values = [self._state.best_value(k.run_id, picked, picked_goal or ranking.MAXIMIZE) for k in kids]
        chart.set_values(values, picked, picked_goal)

    def _metric_names(self, kids: list[RunRecord], first: str | None = None) -> list[str]:
        """The chartable metrics (numeric scalar series) of ``kids``, in order of first appearance."""
        names = [first] if first else []
        for k in kids:
            for name, group in self._state.metrics_of(k.run_id).items():
                if group[0].key.kind == SCALAR and group[0].numeric and name not in names:
                    names.append(name)
        return names

    def _offer(self, dropdown: W.Dropdown, names: list[str], preferred: str | None) -> None:
        """New options for a metric dropdown, keeping the pick when it is still there (else ``preferred``,
        else the first). Its change events redraw nothing meanwhile: the caller draws once after."""
        if list(dropdown.options) == names:
            return
        keep = dropdown.value
        self._picking = True
        try:
            dropdown.options = names
            dropdown.value = keep if keep in names else preferred if preferred in names else names[0] if names else None
        finally:
            self._picking = False

    def _on_child_metric(self, _: Any) -> None:
        if self._picking:
            return
        with self._lock:
            metric, goal = ranking.primary_config(self._state.record.properties) or (None, None)
            kids = self._state.children()
            if metric and goal and kids:
                values = [self._state.best_value(k.run_id, metric, goal) for k in kids]
                self._update_child_metric(kids, metric, goal, values)

    def _curve(self, rec: RunRecord, metric: str) -> Curve | None:
        group = self._state.metrics_of(rec.run_id).get(metric)
        if not group or group[0].key.kind != SCALAR or not group[0].n or not group[0].numeric:
            return None
        s = group[0]
        return Curve(rec.run_id, rec.name, s.x, s.y)

    @staticmethod
    def _hyperparameters(rec: RunRecord) -> dict:
        raw = rec.properties.get("hyperparameters")
        try:
            params = json.loads(raw) if raw else {}
        except ValueError:
            return {}
        return params if isinstance(params, dict) else {}

    def _on_pick(self, _: Any) -> None:
        if not self._picking:  # a metric a person picked, not one the options change set
            self._update_overlay()

    def _update_overlay(self) -> None:
        """Ticked children: any metric they share, one line each."""
        kids = [k for k in (self._state.records.get(i) for i in self._ticked) if k is not None]
        assert self.overlay_metric is not None  # ticks come from a built view
        if not kids:
            self.overlay_box.children = []
            return
        metric, _ = ranking.primary_config(self._state.record.properties) or (None, None)
        self._offer(self.overlay_metric, self._metric_names(kids), metric)
        if self._overlay is None:
            self._overlay = CurvesChart("ticked runs", highlight=False)
        name = self.overlay_metric.value
        self._overlay.figure.title = f"{name} of the ticked runs" if name else "the ticked runs have no metric yet"
        curves = [c for c in (self._curve(k, name) for k in kids) if c is not None] if name else []
        self._overlay.set_curves(curves)
        if not self.overlay_box.children:
            self.overlay_box.children = [self.overlay_metric, self._overlay.widget]

    def _on_msg(self, widget: Any, content: dict, buffers: list) -> None:
        kind = content.get("type") if isinstance(content, dict) else None
        if kind == msg.OPEN_CHILD:
            self._open_child(str(content.get("run_id", "")))
        elif kind == msg.TICK_CHILDREN:
            self._tick(content.get("run_ids"))
        elif kind == msg.LOG_SYNC:
            self._send_log(str(content.get("name", "")))
        elif kind == msg.RESYNC:
            with self._lock:
                for chart in self._charts.values():
                    if chart.lines.model_id == content.get("model"):
                        chart.lines.send_state(["x", "y"])

    def _tick(self, ids: Any) -> None:
        with self._lock:
            if not isinstance(ids, list):
                return
            own = {k.run_id for k in self._state.children()}
            self._ticked = [str(i) for i in ids if str(i) in own][:50]  # only our own children
            self._update_overlay()

    def _open_child(self, child_id: str) -> None:
        with self._lock:
            rec = self._state.records.get(child_id)
            if rec is None or rec.parent_id != self.run_id:
                return  # only our own children
            if self._child_details is not None:
                self._child_details.close()
            src = RunSource(self._source.store, child_id, self._source.portal_url, self._source.portal_hint)
            child = self._child_details = RunDetails(src, refresh_interval=self.refresh_interval)
            title = W.Label(value=f"Child run {rec.name}")
            self.child_box.children = [title, child.widget]

    # -- images and logs ---------------------------------------------------------------
    def _update_images(self) -> None:
        out = []
        for name, group in self._state.metrics_of(self.run_id).items():
            s = group[0]
            if s.key.kind != IMAGE or not s.n:
                continue
            file_name = str(s.last)
            ext = "." + file_name.rsplit(".", 1)[-1].lower() if "." in file_name else ""
            data = b""
            # an image metric names a file of this run's images/ (a tag anyone can set on an MLflow
            # server must not make the view read /tmp/secret.png); the store refuses '..' and links
            if file_name.startswith("images/"):
                try:
                    data = self._source.store.read_file(self.run_id, file_name, IMAGE_BYTES + 1)
                except (OSError, ValueError):
                    data = b""
            if len(data) > IMAGE_BYTES:
                data = b""
            out.append({"name": name, "file": file_name, "count": s.n, "mime": _MIME.get(ext, ""), "data": data})
        self.panels.images = out

    def _update_logs(self, new: dict[tuple[str, str], str]) -> None:
        for (_, name), text in sorted(new.items()):
            lines = self._logs.setdefault(name, deque(maxlen=LOG_LINES))
            lines.extend(text.splitlines())
            self.panels.send({"type": msg.LOG_APPEND, "name": name, "text": text})
        names = sorted(self._logs)
        if names != self.panels.log_names:
            self.panels.log_names = names

    def _send_log(self, name: str) -> None:
        with self._lock:
            if name in self._logs:
                text = "\n".join(self._logs[name]) + "\n" if self._logs[name] else ""
                self.panels.send({"type": msg.LOG_RESET, "name": name, "text": text})

    # -- for tests and benchmarks -------------------------------------------------------
    def chart(self, name: str) -> LineChart:
        return self._charts[name]
