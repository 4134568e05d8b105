"""The runs table of the dashboard: an anywidget view of one page of runs.

The browser asks (``sort``, ``page``, ``expanded``) and ticks (``selected``);
:class:`~runwidgets.dashboard.runs_page.RunsPage` answers with the page's rows.
"""

from __future__ import annotations

from typing import Any

import anywidget
import traitlets as t

from ..widget.views import CSS, esm


class RunsTable(anywidget.AnyWidget):
    _esm = esm("runs_table.js")
    _css = CSS
    # [{"id", "name", "status", "started", "ended", "experiment", "children", "parent", "values": {key: v},
    #   "best": {key: v}}]
    rows: t.List[Any] = t.List().tag(sync=True)
    columns: t.List[Any] = t.List().tag(sync=True)  # [{"key", "label", "kind", "title"}]: after run/status/times
    sort = t.Dict({"key": "attributes.created", "descending": True}).tag(sync=True)
    page = t.Int(0).tag(sync=True)
    page_size = t.Int(50).tag(sync=True)
    total = t.Int(None, allow_none=True).tag(sync=True)  # None: the store cannot count (MLflow)
    has_more = t.Bool(False).tag(sync=True)
    expanded = t.Dict().tag(sync=True)  # run id -> pages of its children shown
    child_rows = t.Dict().tag(sync=True)  # run id -> {"rows", "total", "has_more"}
    selected: t.List[Any] = t.List().tag(sync=True)  # run ids ticked, kept across experiments
