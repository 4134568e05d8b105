"""Overlay one metric across several runs."""

from __future__ import annotations

import bqplot as bq
import ipywidgets as W
import numpy as np

from ..widget.charts import COLORS
from ..widget.closing import close_all
from ..widget.downsample import MAX_POINTS, minmax_indices


class CompareChart:
    def __init__(self) -> None:
        self.x_scale, self.y_scale = bq.LinearScale(), bq.LinearScale()
        self.x_axis = bq.Axis(scale=self.x_scale, label="step")
        self.y_axis = bq.Axis(scale=self.y_scale, side="left", tick_format=".3g")
        self.figure = bq.Figure(
            marks=[], axes=[self.x_axis, self.y_axis], title="", legend_location="top-right",
            layout=W.Layout(width="100%", height="360px"), fig_margin={"top": 44, "bottom": 40, "left": 60, "right": 16},
        )  # fmt: skip
        self.metric = W.Dropdown(description="metric", options=[], layout=W.Layout(width="320px"))
        self.note = W.Label()
        self.widget = W.VBox([W.HBox([self.metric, self.note]), self.figure])
        self._marks: list[bq.Lines] = []

    def show(self, metric: str, series: dict[str, tuple[np.ndarray, np.ndarray]]) -> None:
        """``series``: run label -> (x, y) of the metric."""
        for m in self._marks:
            m.close()
        self._marks = []
        for i, (label, (x, y)) in enumerate(series.items()):
            idx = minmax_indices(y, MAX_POINTS // max(1, len(series)))
            line = bq.Lines(
                x=x[idx], y=np.where(np.isfinite(y[idx]), y[idx], np.nan), labels=[label],
                colors=[COLORS[i % len(COLORS)]], scales={"x": self.x_scale, "y": self.y_scale}, display_legend=True,
            )  # fmt: skip
            self._marks.append(line)
        self.figure.marks = self._marks
        self.figure.title = metric
        self.note.value = f"{len(series)} run(s)"

    def close(self) -> None:
        close_all(self.widget, *self._marks)
