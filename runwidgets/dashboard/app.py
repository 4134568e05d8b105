"""The runs' portal: experiments, a filterable runs table, a run's page and a compare view.

It is plain widgets, so it shows in a notebook (``Dashboard(ws).show()``) as it
does in Voila, where ``runwidgets dashboard`` serves it and the query string
picks the page: ``?run=<id>`` a run, ``?experiment=<name>`` an experiment.
"""

from __future__ import annotations

import html
import os
from typing import Any
from urllib.parse import parse_qs, quote

import ipywidgets as W

from ..store.errors import WorkspaceError
from ..tracking.workspace import Workspace
from ..widget.closing import close_all
from ..widget.details import RunDetails
from ..widget.poller import POLLER
from .compare import ComparePanel
from .compute_page import ComputePage
from .runs_page import RunsPage


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
        self.compare: ComparePanel | None = None
        self.compute_page: ComputePage | None = None
        self._root: W.VBox | None = None
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
        return W.VBox([self._title("run", True), self.details.widget])  # the header names the experiment

    def _home(self) -> W.VBox:
        self.runs = RunsPage(self.ws, self.experiment)
        self.compare_button = W.Button(
            description="Compare ticked runs", icon="line-chart", disabled=True, layout=W.Layout(width="auto")
        )
        self.clear_button = W.Button(description="Untick all", disabled=True, layout=W.Layout(width="auto"))
        self.compare_box = W.VBox()
        self.problem = W.HTML()  # what stops the table from refreshing, in one line; empty when all is well
        self.runs.table.observe(self._on_select, "selected")
        self.compare_button.on_click(lambda _: self._show_compare())
        self.clear_button.on_click(lambda _: setattr(self.runs.table, "selected", []))
        POLLER.add(self, self.refresh_interval)
        actions = W.HBox([self.compare_button, self.clear_button], layout=W.Layout(flex_flow="row wrap"))
        return W.VBox([self._title("runs", False), self.problem, self.runs.widget, actions, self.compare_box])

    def refresh(self) -> None:
        self.runs.refresh()

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
        n = len(change["new"])
        self.compare_button.disabled = self.clear_button.disabled = n < 1
        self.compare_button.description = (
            f"Compare {n} ticked run{'s' if n != 1 else ''}" if n else "Compare ticked runs"
        )

    # -- compare --------------------------------------------------------------------
    def _show_compare(self) -> None:
        if self.compare is None:
            self.compare = ComparePanel(self.ws.store)
        self.compare.show(list(self.runs.table.selected))
        self.compare_box.children = [self.compare.widget]

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
