"""The dashboard's home: pick an experiment, filter, choose columns, and page through its runs.

Every refresh reads one page from the store (``search_runs``) plus the pages of
children a user unfolded; an experiment of 10,000 runs costs the same as one of 50.
"""

from __future__ import annotations

import html
import math
import time
from dataclasses import replace
from typing import Any

import ipywidgets as W

from ..store.base import STATUSES, TERMINAL, RunRecord, env_seconds
from ..store.query import (
    ATTRIBUTE,
    CREATED,
    METRIC,
    PARAM,
    TAG,
    Column,
    FilterError,
    RunColumns,
    RunPage,
    RunQuery,
    params_of,
    parse_filter,
)
from ..tracking.workspace import Workspace
from .prefs import Prefs, TableChoice
from .runs_table import RunsTable

PAGE = 50
CHILD_PAGE = 25
DEFAULT_METRICS = 4
DEFAULT_PARAMS = 3
COLUMNS_SECONDS = 30.0  # between looks for new metric names while runs go on ($RUNWIDGETS_DASHBOARD_COLUMNS_SECONDS)
SHOWN_STATUSES = ["All", *(s for s in STATUSES if s != "NotStarted")]


def _finite(v: Any) -> Any:
    return None if isinstance(v, float) and not math.isfinite(v) else v


def default_columns(cols: RunColumns) -> list[str]:
    """What a new experiment shows: a few metrics (not system ones) and a few params, a sweep's
    hyperparameters (``--lr``) before other properties."""
    metrics = [m for m in cols.metrics if not m.startswith("system/")][:DEFAULT_METRICS]
    swept = [p for p in cols.params if p.startswith("-")]
    params = (swept or cols.params)[:DEFAULT_PARAMS]
    return [Column(METRIC, m).key for m in metrics] + [Column(PARAM, p).key for p in params]


class RunsPage:
    def __init__(self, ws: Workspace, experiment: str | None = None) -> None:
        self.ws = ws
        self.store = ws.store
        self.prefs = Prefs(ws.path)
        self.rows_read = 0  # runs read from the store by refreshes (tests bound it: pages, not experiments)
        self.columns = RunColumns([], [])
        self._conditions: tuple = ()
        self._parents: dict[str, str] = {}
        self._experiment_names: list[str] = []
        # when the column names were last read, the run count the page had (None: not yet known), and
        # whether it showed a run that may still log new metrics
        self._columns_read = 0.0
        self._seen_total: int | None = None
        self._unfinished = False
        self._loading = False  # setting an experiment's remembered choice is not a new choice to save
        self._filter_problem = self._search_problem = ""
        self.experiments = W.Select(
            options=[], rows=6, description="experiment", layout=W.Layout(width="360px", flex="0 0 auto")
        )
        self.status = W.Dropdown(
            options=SHOWN_STATUSES, value="All", description="status", layout=W.Layout(width="200px")
        )
        self.filter = W.Text(
            placeholder="accuracy > 0.9 and params.lr = 0.01",
            description="filter",
            continuous_update=False,
            layout=W.Layout(flex="1 1 320px", min_width="240px"),
        )
        self.columns_input = W.TagsInput(allow_duplicates=False, layout=W.Layout(flex="1 1 auto"))
        self.columns_input.add_class("rw-columns-input")
        self.message = W.HTML()  # a filter that cannot be read, a sort the store cannot do
        self.table = RunsTable(page_size=PAGE)
        self._update_experiments(experiment)
        self._load_choice()
        self.experiments.observe(self._on_experiment, "value")
        self.status.observe(lambda _: self._reset_page(), "value")
        self.filter.observe(lambda _: self._on_filter(), "value")
        self.columns_input.observe(self._on_columns, "value")
        self.table.observe(self._on_sort, "sort")
        self.table.observe(lambda _: self.refresh(), ["page", "expanded"])
        filters = W.HBox([self.status, self.filter], layout=W.Layout(flex_flow="row wrap", width="100%"))
        columns = W.HBox(
            [W.Label("columns", layout=W.Layout(width="90px")), self.columns_input],
            layout=W.Layout(width="100%", align_items="center"),
        )
        self.widget = W.VBox([self.experiments, filters, columns, self.message, self.table])
        self.refresh()

    # -- experiments and columns ----------------------------------------------------------------------
    def _update_experiments(self, wanted: str | None = None) -> None:
        names = self.store.list_experiments()
        if names == self._experiment_names:
            return
        self._experiment_names = names
        options = []
        for n in names:
            total = self.store.search_runs(RunQuery((n,), limit=1)).total
            options.append((f"{n} ({total:,} run{'' if total == 1 else 's'})" if total is not None else n, n))
        current = wanted or self.experiments.value
        self.experiments.options = options or [("no experiments yet", "")]
        self.experiments.value = current if current in names else (names[-1] if names else "")
        self.experiments.rows = min(8, max(2, len(names)))

    @property
    def experiment(self) -> str:
        return self.experiments.value or ""

    def _load_choice(self) -> None:
        """The experiment's remembered columns and sort, or the defaults."""
        exp = self.experiment
        self.columns = self.store.run_columns([exp]) if exp else RunColumns([], [])
        self._columns_read, self._seen_total, self._unfinished = time.monotonic(), None, False
        choice = self.prefs.get(exp) or TableChoice(default_columns(self.columns))
        known = self._column_keys()
        self._loading = True
        try:
            self.columns_input.allowed_tags = known + [c for c in choice.columns if c not in known]
            self.columns_input.value = choice.columns
            self.table.sort = {"key": choice.order_by.key, "descending": choice.descending}
        finally:
            self._loading = False

    def _learn_columns(self, page: RunPage) -> None:
        """New metric and param names, while runs are added or still running: a user who opened the
        page as a sweep started sees its metrics appear, with no reload. Finished experiments cost nothing."""
        unfinished = any(r.status not in TERMINAL for r in page.runs)
        now = time.monotonic()
        every = env_seconds("RUNWIDGETS_DASHBOARD_COLUMNS_SECONDS", COLUMNS_SECONDS)  # MLflow's look reads 1,000 runs
        due = (
            (self._seen_total is not None and page.total != self._seen_total)
            or (self._unfinished and not unfinished)  # one look once the last run ended
            or (unfinished and now - self._columns_read >= every)
        )
        self._seen_total, self._unfinished = page.total, unfinished
        if not due:
            return
        self._columns_read = now
        exp = self.experiment
        found = self.store.run_columns([exp])
        if found == self.columns:
            return
        untouched = list(self.columns_input.value) == default_columns(self.columns)  # never picked by hand
        self.columns = found
        chosen = default_columns(found) if untouched else list(self.columns_input.value)
        known = self._column_keys()
        self._loading = True
        try:
            self.columns_input.allowed_tags = known + [c for c in chosen if c not in known]
            self.columns_input.value = chosen
        finally:
            self._loading = False
        if untouched and self.prefs.get(exp) is not None:
            self._save_choice()  # a remembered sort keeps its columns current too

    def _column_keys(self) -> list[str]:
        return [Column(METRIC, m).key for m in self.columns.metrics] + [
            Column(PARAM, p).key for p in self.columns.params
        ]

    def _save_choice(self) -> None:
        if self.experiment and not self._loading:
            sort = self.table.sort
            self.prefs.put(
                self.experiment, TableChoice(list(self.columns_input.value), str(sort["key"]), bool(sort["descending"]))
            )

    def _on_experiment(self, _: Any) -> None:
        self._load_choice()
        self._on_filter()  # names resolve against the new experiment's columns

    def _on_columns(self, _: Any) -> None:
        self._save_choice()
        if not self._loading:
            self.refresh()

    def _on_sort(self, _: Any) -> None:
        self._save_choice()
        if not self._loading:
            self.refresh()

    def _on_filter(self) -> None:
        text = self.filter.value.strip()
        try:
            self._conditions = parse_filter(text, self.columns) if text else ()
        except FilterError as e:
            self._filter_problem = f"filter: {e}"
            self._say()
            return
        self._filter_problem = ""
        self._reset_page()

    def _reset_page(self) -> None:
        if self.table.page:
            self.table.page = 0  # refreshes
        else:
            self.refresh()

    def _say(self) -> None:
        text = self._filter_problem or self._search_problem
        value = f"<p class='rw-error rw-runs-message'>{html.escape(text)}</p>" if text else ""
        if self.message.value != value:
            self.message.value = value

    # -- reading pages ------------------------------------------------------------------------------------
    def query(self) -> RunQuery:
        sort = self.table.sort
        try:
            order = Column.parse(str(sort.get("key", "")))
        except ValueError:
            order = CREATED
        flat = bool(self._conditions)  # a filter finds children too: listed flat, each naming its parent
        return RunQuery(
            (self.experiment,) if self.experiment else (),
            parent_id=... if flat else None,
            status=None if self.status.value == "All" else self.status.value,
            where=self._conditions,
            order_by=order,
            descending=bool(sort.get("descending", True)),
            offset=self.table.page * PAGE,
            limit=PAGE,
        )

    def _search(self, query: RunQuery) -> RunPage:
        page = self.store.search_runs(query)
        self.rows_read += page.rows_read
        return page

    def refresh(self) -> None:
        self._update_experiments()
        if not self.experiment:
            self.table.rows = []
            return
        query = self.query()
        try:
            page = self._search(query)
        except ValueError as e:  # a sort or filter this store cannot do (MLflow's search)
            self._search_problem = str(e)
            self._say()
            return
        self._search_problem = ""
        self._say()
        self._learn_columns(page)
        rows = self._rows(page, flat=query.parent_id is ...)
        children: dict[str, Any] = {}
        expanded = {rid: n for rid, n in self.table.expanded.items() if rid in page.children}
        for rid, pages in expanded.items():
            kids = self._search(
                replace(query, parent_id=rid, where=(), status=None, offset=0, limit=min(1000, CHILD_PAGE * int(pages)))
            )
            children[rid] = {"rows": self._rows(kids), "total": page.children[rid], "has_more": kids.has_more}
        columns = [self._column_info(Column.parse(k)) for k in self.columns_input.value]
        with self.table.hold_sync():
            for name, value in (("columns", columns), ("rows", rows), ("child_rows", children)):
                if getattr(self.table, name) != value:
                    setattr(self.table, name, value)
            if self.table.total != page.total:
                self.table.total = page.total
            if self.table.has_more != page.has_more:
                self.table.has_more = page.has_more

    def _column_info(self, col: Column) -> dict[str, str]:
        what = {METRIC: "metric (latest value)", PARAM: "param", TAG: "tag", ATTRIBUTE: ""}[col.kind]
        return {"key": col.key, "label": col.name, "kind": col.kind, "title": f"{what} {col.name}: click to sort"}

    def _rows(self, page: RunPage, flat: bool = False) -> list[dict[str, Any]]:
        keys = [Column.parse(k) for k in self.columns_input.value]
        if flat:
            self._learn_parents({r.parent_id for r in page.runs if r.parent_id})
        return [self._row(rec, page, keys, flat) for rec in page.runs]

    def _learn_parents(self, ids: set[str]) -> None:
        for pid in ids - set(self._parents):
            try:
                self._parents[pid] = self.store.get_run(pid).name
            except KeyError:
                self._parents[pid] = pid

    def _row(self, rec: RunRecord, page: RunPage, keys: list[Column], flat: bool) -> dict[str, Any]:
        metrics = page.metrics.get(rec.run_id, {})
        params = params_of(rec) if any(k.kind == PARAM for k in keys) else {}
        values: dict[str, Any] = {}
        for k in keys:
            source = metrics if k.kind == METRIC else params if k.kind == PARAM else rec.tags if k.kind == TAG else {}
            if k.name in source:
                values[k.key] = _finite(source[k.name])
        row: dict[str, Any] = {
            "id": rec.run_id,
            "name": rec.name,
            "status": rec.display_status,
            "started": rec.started,
            "ended": rec.ended,
            "experiment": rec.experiment,
            "children": page.children.get(rec.run_id, 0),
            "values": values,
        }
        primary, best = rec.tags.get("primary_metric"), rec.tags.get("best_primary_metric")
        if primary and best:
            try:
                row["best"] = {Column(METRIC, primary).key: float(best)}
            except ValueError:
                pass
        if flat and rec.parent_id:
            row["parent"] = self._parents.get(rec.parent_id, rec.parent_id)
        return row
