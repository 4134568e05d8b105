"""The anywidget views: what bqplot does not draw. All text is set with textContent in JS."""

from __future__ import annotations

from pathlib import Path

import anywidget
import traitlets as t


def _static() -> Path:
    installed = Path(__file__).resolve().parent.parent / "static"  # in a wheel (see pyproject.toml)
    return installed if installed.is_dir() else Path(__file__).resolve().parents[2] / "js"


STATIC = _static()
CSS = STATIC / "run_details.css"


def esm(name: str) -> str:
    """A view's module with common.js in front: one copy of the helpers, no bundler."""
    return (STATIC / "common.js").read_text() + "\n" + (STATIC / name).read_text()


class HeaderView(anywidget.AnyWidget):
    """Name, status badge, live duration, portal link, error banner and the properties table."""

    _esm = esm("run_header.js")
    _css = CSS
    run = t.Dict().tag(sync=True)
    props = t.List().tag(sync=True)  # [section, key, value] rows
    connection = t.Unicode("").tag(sync=True)  # "" when the store answers; else what went wrong


class PanelsView(anywidget.AnyWidget):
    """Child runs (paged), image thumbnails and the log tail. Logs arrive as custom messages."""

    _esm = esm("run_panels.js")
    _css = CSS
    children = t.Dict().tag(sync=True)  # {"metric", "goal", "best", "rows": [[id, name, status, ...]]}
    images = t.List().tag(sync=True)  # [{"name", "file", "count", "mime", "data": bytes}]
    log_names = t.List().tag(sync=True)
