"""The runs' portal: experiments, a filterable runs table, a run's page and a compare view.

It is plain widgets, so it shows in a notebook (``Dashboard(ws).show()``) as it
does in Voila, where ``runwidgets dashboard`` serves it and the query string
picks the page: ``?run=<id>`` a run, ``?experiment=<name>`` an experiment.
"""

from __future__ import annotations

import html
import math
import os
from collections import Counter
from typing import Any
from urllib.parse import parse_qs, quote

import ipywidgets as W

from ..formatting import number
from ..store.base import SCALAR
from ..store.errors import WorkspaceError
from ..tracking.workspace import Workspace
from ..widget.closing import close_all
from ..widget.details import RunDetails
from ..widget.poller import POLLER
from .compare import CompareChart
from .compute_page import ComputePage
from .runs_table import RunsTable

STATUSES = ["All", "Running", "Completed", "Failed", "Canceled", "Queued"]
METRIC_COLUMNS = 6


class Dashboard:
    def __init__(
        self, workspace: Workspace | None = None, query: str | None = None, refresh_interval: float | None = None
    ) -> None:
        self.ws = workspace or Workspace.from_config()
        query = query if query is not None else os.environ.get("QUERY_STRING", "")
        params = parse_qs(query.lstrip("?"), keep_blank_values=True)
        self.compute_page_asked = "compute" in params  # ?compute: the compute targets and their runs
        self.run_id: str | None = (params.get("run") or [""])[0] or None
        self.experiment: str | None = (params.get("experiment") or [""])[0] or None
        self.refresh_interval = refresh_interval
        self.details: RunDetails | None = None
        self.compare: CompareChart | None = None
        self.compute_page: ComputePage | None = None
        self._root: W.VBox | None = None
        self._records: list = []
        self._closed = False

    # -- composition ------------------------------------------------------------
    @property
    def widget(self) -> W.VBox:
        if self._root is None:
            if self.compute_page_asked:
                self._root = self._compute()
            else:
                self._root = self._run_page() if self.run_id else self._home()
            self._root.add_class("rw-dashboard")
        return self._root

    def show(self) -> None:
        from IPython.display import display

        display(self.widget)

    def _repr_mimebundle_(self, **kwargs: Any) -> dict:
        return self.widget._repr_mimebundle_(**kwargs)

    def _title(self, text: str, back: bool) -> W.HTML:
        e = html.escape
        link = f' · <a href="?experiment={quote(self.experiment or "")}">← all runs</a>' if back else ""
        if not self.compute_page_asked:
            link += ' · <a href="?compute">compute</a>'
        return W.HTML(
            f"<div class='rw'><span class='rw-title'>runwidgets</span> "
            f"<span class='rw-muted'>{e(text)} · {e(self.ws.address)}</span>{link}</div>"
        )

    def _compute(self) -> W.VBox:
        self.compute_page = ComputePage(self.ws, self.refresh_interval)
        return W.VBox([self._title("compute", True), self.compute_page.html])

    def _run_page(self) -> W.VBox:
        assert self.run_id is not None  # the page for ?run=<id>
        try:
            rec = self.ws.store.get_run(self.run_id)
        except KeyError:
            return W.VBox(
                [self._title("run page", True), W.HTML(f"<p>No run <code>{html.escape(self.run_id)}</code> here.</p>")]
            )
        self.experiment = rec.experiment
        run = self.ws.get_run(rec.run_id)
        self.details = RunDetails(run, refresh_interval=self.refresh_interval)
        return W.VBox([self._title(f"experiment {rec.experiment}", True), self.details.widget])

    def _home(self) -> W.VBox:
        names = self.ws.store.list_experiments()
        counts = Counter(r.experiment for r in self.ws.store.find_runs(parent_id=None))
        self.experiments = W.Select(
            options=[(f"{n} ({counts.get(n, 0)} runs)", n) for n in names] or [("no experiments yet", "")],
            value=self.experiment if self.experiment in names else (names[-1] if names else ""),
            rows=min(8, max(2, len(names))),
            description="experiment",
            layout=W.Layout(width="360px"),
        )
        self.status = W.Dropdown(options=STATUSES, value="All", description="status", layout=W.Layout(width="220px"))
        self.tag = W.Text(placeholder="tag or tag=value", description="tag", layout=W.Layout(width="260px"))
        self.compare_button = W.Button(description="Compare selected", icon="line-chart", disabled=True)
        self.table = RunsTable()
        self.compare_box = W.VBox()
        self.problem = W.HTML()  # what stops the table from refreshing, in one line; empty when all is well
        for w in (self.experiments, self.status):
            w.observe(lambda _: self.refresh(), "value")
        self.tag.observe(lambda _: self.refresh(), "value")
        self.table.observe(self._on_select, "selected")
        self.compare_button.on_click(lambda _: self._show_compare())
        self.refresh()
        POLLER.add(self, self.refresh_interval)
        filters = W.HBox([self.status, self.tag, self.compare_button], layout=W.Layout(flex_flow="row wrap"))
        return W.VBox(
            [self._title("runs", False), self.problem, self.experiments, filters, self.table, self.compare_box]
        )

    # -- the runs table -------------------------------------------------------------
    def refresh(self) -> None:
        exp = self.experiments.value
        recs = list(reversed(self.ws.store.find_runs(experiment=exp, parent_id=None))) if exp else []
        status = self.status.value
        if status != "All":
            recs = [r for r in recs if r.display_status == status]
        want = self.tag.value.strip()
        if want:
            key, _, value = want.partition("=")
            recs = [r for r in recs if key in r.tags and (not value or r.tags[key] == value)]
        latest = self.ws.store.latest_values([r.run_id for r in recs])
        numeric = Counter(
            name
            for vals in latest.values()
            for name, v in vals.items()
            if isinstance(v, (int, float)) and not isinstance(v, bool)
        )
        metrics = [n for n, _ in numeric.most_common(METRIC_COLUMNS)]
        rows: list[dict[str, Any]] = []
        for r in recs:
            vals = {m: latest[r.run_id][m] for m in metrics if m in latest[r.run_id]}
            vals = {m: (None if isinstance(v, float) and not math.isfinite(v) else v) for m, v in vals.items()}
            best, metric = r.tags.get("best_primary_metric"), r.tags.get("primary_metric")
            if best and metric:
                vals[f"best {metric}"] = number(best)
            rows.append(
                {
                    "id": r.run_id,
                    "name": r.name,
                    "status": r.display_status,
                    "started": r.started,
                    "ended": r.ended,
                    "metrics": vals,
                    "tags": r.tags,
                }  # fmt: skip
            )
        extra = sorted({k for row in rows for k in row["metrics"] if k not in metrics})
        self._records = recs
        with self.table.hold_sync():
            if self.table.metrics != metrics + extra:
                self.table.metrics = metrics + extra
            if self.table.rows != rows:
                self.table.rows = rows

    def poll(self) -> bool:
        if self._closed:
            return False
        self.refresh()
        if self.problem.value:
            self.problem.value = ""
        return True

    def poll_failed(self, error: BaseException, retry_in: float) -> None:
        """Keep the last rows and say why they are not refreshed (a damaged or unreachable store)."""
        self.problem.value = (
            f"<p class='rw-error'><b>runwidgets:</b> {html.escape(str(error))}"
            f" <span class='rw-muted'>(trying again in {retry_in:.0f} s)</span></p>"
        )

    def _on_select(self, change) -> None:
        self.compare_button.disabled = len(change["new"]) < 1

    # -- compare --------------------------------------------------------------------
    def _show_compare(self) -> None:
        ids = list(self.table.selected)
        series: dict[str, dict[str, Any]] = {}
        for rid in ids:
            for ch in self.ws.store.read_series(rid):
                if ch.key.kind == SCALAR and len(ch) > 1 and ch.values.dtype != object:
                    series.setdefault(ch.key.name, {})[rid] = ch
        if self.compare is None:
            self.compare = CompareChart()
            self.compare.metric.observe(lambda _: self._draw_compare(), "value")
        self._compare_series = series
        names = sorted(series, key=lambda n: (-len(series[n]), n))
        self.compare.metric.options = names
        if names and self.compare.metric.value not in names:
            self.compare.metric.value = names[0]
        self.compare_box.children = [self.compare.widget]
        self._draw_compare()

    def _draw_compare(self) -> None:
        assert self.compare is not None  # made by _show_compare
        name = self.compare.metric.value
        if not name:
            self.compare.note.value = "the selected runs have no metric series to compare"
            return
        by_id = {r.run_id: r for r in self._records}
        data = {}
        for rid, ch in self._compare_series[name].items():
            label = by_id[rid].name if rid in by_id else rid
            data[label] = (ch.x(), ch.values.astype(float))
        self.compare.show(name, data)

    def close(self) -> None:
        self._closed = True
        POLLER.remove(self)
        if self.details is not None:
            self.details.close()
        if self.compare is not None:
            self.compare.close()
        if self.compute_page is not None:
            self.compute_page.close()
        close_all(self._root)


def main() -> None:
    """What the served notebook runs: the page the query string asks for, in the workspace the server names."""
    from IPython.display import HTML, display

    interval = os.environ.get("RUNWIDGETS_DASHBOARD_REFRESH")
    try:
        ws = Workspace.from_config(os.environ.get("RUNWIDGETS_WORKSPACE"), create=False)
        display(Dashboard(ws, refresh_interval=float(interval) if interval else None).widget)
    except WorkspaceError as e:  # one line a person can act on, not Voila's generic error page
        display(HTML(f"<p class='rw-error'><b>runwidgets:</b> {html.escape(str(e))}</p>"))
