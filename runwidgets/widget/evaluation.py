"""Azure's evaluation metrics drawn as its studio drew them, and table metrics shown as tables.

- a confusion matrix: a grid of counts shaded by value (raw or normalized per
  true class), in the panel's tables (HTML draws text in cells; bqplot does not);
- an accuracy table: ROC curves, one per class, or precision-recall curves;
- residuals: a histogram;
- predictions: the average prediction per bin of true values, its error band,
  and the ideal line.

A table metric is shown as a table when a column is not numbers, and as a
heatmap when it is square and looks like counts or row shares (a confusion
matrix logged with ``log_table``); other tables stay line charts.
"""

from __future__ import annotations

import bqplot as bq
import ipywidgets as W
import numpy as np

from .charts import (
    COLORS,
    EMPTY,
    chart_figure,
    download_buttons,
    held,
    linear_scale,
    nice_bounds,
    nice_ticks,
    set_ticks,
)
from .closing import close_all
from .state import Series

TABLE_ROWS = 200  # rows of a table sent to the page


def heat_payload(name: str, doc: dict) -> dict:
    """A confusion matrix as the panel's tables draw it."""
    d = doc["data"]
    labels = [str(x) for x in d["class_labels"]]
    return {"name": name, "heat": True, "columns": labels, "row_labels": labels, "rows": d["matrix"],
            "row_title": "true class", "col_title": "predicted class", "total": len(labels)}  # fmt: skip


def table_payload(name: str, group: list[Series]) -> dict | None:
    """A table metric for the panel: a heatmap when square counts or shares, a table when some column is
    not numbers, None when it is a chart (numeric columns against a shared x)."""
    cols = [s for s in group if s.n]
    if not cols:
        return None
    rows = max(s.n for s in cols)
    numeric = all(s.numeric for s in cols)
    if numeric and rows == len(cols) >= 2:
        m = np.vstack([s.y[:rows] for s in cols]).T if all(s.n == rows for s in cols) else None
        if m is not None and np.all(np.isfinite(m)) and (_counts(m) or _shares(m)):
            names = [s.key.column or "" for s in cols]
            return {"name": name, "heat": True, "columns": names, "row_labels": names, "rows": m.tolist(),
                    "row_title": "", "col_title": "", "total": rows}  # fmt: skip
    if numeric:
        return None
    shown = min(rows, TABLE_ROWS)
    values = [s._obj[:shown] if s._obj is not None else s.y[:shown].tolist() for s in cols]
    table = [[_cell(v[i]) if i < len(v) else "" for v in values] for i in range(shown)]
    return {"name": name, "heat": False, "columns": [s.key.column or "" for s in cols], "row_labels": None,
            "rows": table, "row_title": "", "col_title": "", "total": rows}  # fmt: skip


def _counts(m: np.ndarray) -> bool:
    return bool(np.all(m >= 0) and np.all(m == np.round(m)))


def _shares(m: np.ndarray) -> bool:
    return bool(np.all(m >= 0) and np.allclose(m.sum(axis=1), 1.0, atol=1e-6))


def _cell(v: object) -> object:
    return v if isinstance(v, (int, float, str)) or v is None else str(v)


class EvaluationChart:
    """One of Azure's curve-like evaluation metrics (accuracy table, residuals, predictions)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.x_scale, self.y_scale = linear_scale(), linear_scale()
        scales = {"x": self.x_scale, "y": self.y_scale}
        self.lines = bq.Lines(x=EMPTY, y=EMPTY, scales=scales, colors=COLORS, stroke_width=2)
        self.guide = bq.Lines(x=EMPTY, y=EMPTY, scales=scales, colors=["#888888"], line_style="dashed")
        self.bars = bq.Bars(x=EMPTY, y=EMPTY, scales=scales, colors=[COLORS[0]], padding=0.05)
        self.x_axis = bq.Axis(scale=self.x_scale, tick_format="~g")
        self.y_axis = bq.Axis(scale=self.y_scale, side="left", tick_format="~g")
        self.figure = chart_figure(
            [self.guide, self.bars, self.lines], [self.x_axis, self.y_axis], name, "280px", "bottom-right"
        )
        self.view = W.ToggleButtons(options=["ROC", "precision-recall"], layout=W.Layout(display="none"))
        self.view.style.button_width = "auto"
        self.view.observe(lambda _: self._draw(), "value")
        self.note = W.Label()
        self.widget = W.VBox(
            [
                self.figure,
                W.HBox([self.view, self.note, download_buttons(self.figure)], layout=W.Layout(align_items="center")),
            ],
            layout=W.Layout(flex="1 1 360px", min_width="220px", max_width="100%", margin="0 4px 8px 0"),
        )
        self.widget.add_class("rw-chart")
        self.widget.add_class("rw-evaluation")
        self._doc: dict = {}

    def set_document(self, doc: dict) -> None:
        if doc != self._doc:
            self._doc = doc
            self._draw()

    def _draw(self) -> None:
        schema, d = self._doc.get("schema_type"), self._doc.get("data", {})
        draw = {"accuracy_table": self._accuracy, "residuals": self._residuals, "predictions": self._predictions}
        with held(self.lines, self.guide, self.bars, self.x_axis, self.y_axis, self.x_scale, self.y_scale):
            self.lines.x, self.lines.y, self.guide.x, self.guide.y = EMPTY, EMPTY, EMPTY, EMPTY
            self.bars.x, self.bars.y = EMPTY, EMPTY
            self.lines.display_legend = False
            if schema in draw:
                draw[schema](d)
                for axis, scale in ((self.x_axis, self.x_scale), (self.y_axis, self.y_scale)):
                    set_ticks(axis, nice_ticks(scale.min, scale.max))

    def _accuracy(self, d: dict) -> None:
        """ROC (false positive rate against true positive rate) or precision against recall, one line per
        class, from the counts at each probability threshold."""
        self.view.layout.display = ""
        t = np.asarray(d["probability_tables"], dtype=np.float64)  # class x threshold x (TP FP TN FN)
        tp, fp, tn, fn = (t[..., i] for i in range(4))
        with np.errstate(divide="ignore", invalid="ignore"):
            tpr = np.where(tp + fn > 0, tp / (tp + fn), 0.0)
            fpr = np.where(fp + tn > 0, fp / (fp + tn), 0.0)
            precision = np.where(tp + fp > 0, tp / (tp + fp), 1.0)
        roc = self.view.value == "ROC"
        x, y = (fpr, tpr) if roc else (tpr, precision)
        order = np.argsort(x, axis=1, kind="stable")
        self.lines.x = np.take_along_axis(x, order, axis=1)
        self.lines.y = np.take_along_axis(y, order, axis=1)
        self.lines.labels = [str(c) for c in d["class_labels"]]
        self.lines.display_legend = True
        if roc:
            self.guide.x, self.guide.y = np.array([0.0, 1.0]), np.array([0.0, 1.0])
            auc = [float(np.sum(np.diff(xx) * (yy[1:] + yy[:-1]) / 2)) for xx, yy in zip(self.lines.x, self.lines.y)]
            self.note.value = "AUC " + ", ".join(f"{c}: {a:.3f}" for c, a in zip(d["class_labels"], auc))
        else:
            self.note.value = ""
        self.x_axis.label, self.y_axis.label = (
            ("false positive rate", "true positive rate") if roc else ("recall", "precision")
        )
        self.x_scale.min, self.x_scale.max, self.y_scale.min, self.y_scale.max = 0.0, 1.0, 0.0, 1.0

    def _residuals(self, d: dict) -> None:
        """A histogram of residuals (predicted - actual), one bar per bin."""
        self.view.layout.display = "none"
        edges, counts = np.asarray(d["bin_edges"], dtype=np.float64), np.asarray(d["bin_counts"], dtype=np.float64)
        self.bars.x, self.bars.y = (edges[:-1] + edges[1:]) / 2, counts
        self.x_axis.label, self.y_axis.label = "residual (predicted - actual)", "count"
        self.x_scale.min, self.x_scale.max = float(edges[0]), float(edges[-1])
        self.y_scale.min, self.y_scale.max = nice_bounds(0.0, float(counts.max()) if len(counts) else 1.0)
        self.note.value = f"{int(counts.sum()):,} predictions in {len(counts)} bins"

    def _predictions(self, d: dict) -> None:
        """Average prediction per bin of true values with a band of one error either side, and the ideal."""
        self.view.layout.display = "none"
        edges = np.asarray(d["bin_edges"], dtype=np.float64)
        avg, err = np.asarray(d["bin_averages"], dtype=np.float64), np.asarray(d["bin_errors"], dtype=np.float64)
        centers = (edges[:-1] + edges[1:]) / 2
        self.lines.x = np.vstack([centers] * 3)
        self.lines.y = np.vstack([avg, avg - err, avg + err])
        self.lines.labels = ["average prediction", "- error", "+ error"]
        self.lines.display_legend = True
        lo, hi = float(edges[0]), float(edges[-1])
        self.guide.x, self.guide.y = np.array([lo, hi]), np.array([lo, hi])
        self.x_axis.label, self.y_axis.label = "true value", "predicted value"
        self.x_scale.min, self.x_scale.max = lo, hi
        ys = np.concatenate([avg - err, avg + err, [lo, hi]])
        self.y_scale.min, self.y_scale.max = nice_bounds(float(ys.min()), float(ys.max()))
        self.note.value = f"{int(np.sum(d['bin_counts'])):,} predictions in {len(avg)} bins"

    def close(self) -> None:
        close_all(self.widget)
