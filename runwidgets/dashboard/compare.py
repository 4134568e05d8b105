"""Overlay one metric across several runs: the runs picked in the dashboard's table."""

from __future__ import annotations

import ipywidgets as W
import numpy as np

from ..widget.closing import close_all
from ..widget.sweep import Curve, CurvesChart


class CompareChart:
    """A dropdown of the metrics the runs have and their curves on one chart (one colour per run)."""

    def __init__(self) -> None:
        self.metric = W.Dropdown(description="metric", options=[], layout=W.Layout(width="320px"))
        self.curves = CurvesChart("", highlight=False)
        self.figure, self.note = self.curves.figure, self.curves.note
        self.widget = W.VBox([self.metric, self.curves.widget])

    def show(self, metric: str, series: dict[str, tuple[np.ndarray, np.ndarray]]) -> None:
        """``series``: run label -> (x, y) of the metric."""
        self.figure.title = metric
        self.curves.set_curves([Curve(label, label, x, y) for label, (x, y) in series.items()])

    def close(self) -> None:
        close_all(self.widget)
