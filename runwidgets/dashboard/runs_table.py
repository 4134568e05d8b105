"""The runs table of the dashboard: an anywidget view; which runs are ticked syncs back."""

from __future__ import annotations

from typing import Any

import anywidget
import traitlets as t

from ..widget.views import CSS, esm


class RunsTable(anywidget.AnyWidget):
    _esm = esm("runs_table.js")
    _css = CSS
    rows: t.List[Any] = t.List().tag(sync=True)  # [{"id", "name", "status", "started", "ended", "metrics", "tags"}]
    metrics: t.List[Any] = t.List().tag(sync=True)  # metric columns, in order
    selected: t.List[Any] = t.List().tag(sync=True)  # run ids ticked in the browser
