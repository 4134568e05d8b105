"""The anywidget views: what bqplot does not draw. All text is set with textContent in JS."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anywidget
import traitlets as t

STATIC = Path(__file__).resolve().parent.parent / "static"  # written by js/build.py
_SOURCES = Path(__file__).resolve().parents[2] / "js"  # present in a checkout, not in a wheel


def _build_if_stale() -> None:
    if (_SOURCES / "build.py").is_file():  # a checkout: write the modules when js/ is newer
        import runpy

        build = runpy.run_path(str(_SOURCES / "build.py"), run_name="build")
        if build["stale"]():
            build["build"]()


_build_if_stale()


def esm(name: str) -> Path:
    """A view's module, as a file: anywidget reads it (and, with ANYWIDGET_HMR=1, watches it)."""
    return STATIC / name


CSS = esm("run_details.css")


class HeaderView(anywidget.AnyWidget):
    """Name, status badge, live duration, portal link, error banner and the properties table."""

    _esm = esm("run_header.js")
    _css = CSS
    run = t.Dict().tag(sync=True)
    props: t.List[Any] = t.List().tag(sync=True)  # [{"section", "key", "value"}]
    connection = t.Unicode("").tag(sync=True)  # "" when the store answers; else what went wrong


class PanelsView(anywidget.AnyWidget):
    """Child runs (paged), image thumbnails and the log tail. Logs arrive as custom messages."""

    _esm = esm("run_panels.js")
    _css = CSS
    children = t.Dict().tag(
        sync=True
    )  # {"metric", "goal", "best", "page_size", "rows": [{"id", "name", "status", "started", "ended", "params", "value"}]}
    images: t.List[Any] = t.List().tag(sync=True)  # [{"name", "file", "count", "mime", "data": bytes}]
    log_names: t.List[Any] = t.List().tag(sync=True)
    live = t.Bool(True).tag(sync=True)  # the run may still write to its logs ("following" only then)
    tables: t.List[Any] = t.List().tag(
        sync=True
    )  # [{"name", "heat", "columns", "row_labels", "rows", "row_title", "col_title", "total"}]
    charts: t.List[Any] = t.List().tag(
        sync=True
    )  # [{"lines", "note", "lin", "log"}]: model ids a splice names by index
