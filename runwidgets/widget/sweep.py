"""The sweep cockpit: every child's curve on one chart, parallel coordinates, and progress.

Drawn for any run whose children are ranked by a primary metric: a
HyperDrive sweep, an Optuna study or a scikit-learn search recorded by
``runwidgets.integrations``. Everything here is rebuilt only when a child's
record or points changed, never on an idle poll.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass

import bqplot as bq
import ipywidgets as W
import numpy as np

from ..store.base import CANCELED, COMPLETED, FAILED, LIVE, TERMINAL, RunRecord
from .charts import (
    COLORS,
    EMPTY,
    chart_figure,
    download_buttons,
    held,
    hover_points,
    legend_corner,
    linear_scale,
    nice_bounds,
    nice_ticks,
    set_hover,
    set_ticks,
    single_x,
    x_ticks,
)
from .closing import close_all
from .downsample import minmax_indices

TOP = 5  # curves drawn before "all" is ticked
CURVE_POINTS = 20_000  # points sent for all curves of a chart together
MAX_PARALLEL = 1000  # children drawn in parallel coordinates (the best ones)
MUTED = "#9e9e9e"
BEST = "#d62728"
STOP = "#d62728"
CUTOFF = "#ff7f0e"
TEXT = "#888888"  # readable on the light and the dark theme (SVG fill cannot use a CSS variable)


@dataclass(frozen=True)
class Curve:
    """One child's values of a metric, in step order."""

    run_id: str
    name: str
    x: np.ndarray
    y: np.ndarray


@dataclass(frozen=True)
class StopMark:
    """Where a policy stopped a child: the step, its value there and the cutoff it missed."""

    run_id: str
    x: float
    value: float
    cutoff: float


def stop_mark(rec: RunRecord, curve: Curve | None) -> StopMark | None:
    """The stop a policy recorded as the child's error, placed at the x of its n-th report."""
    err = rec.error or {}
    if err.get("code") != "EarlyTermination":
        return None
    try:
        interval, value = int(err["interval"]), float(err["value"])
        cutoff = float(err.get("cutoff", math.nan))  # an Optuna pruner states no cutoff
    except (KeyError, TypeError, ValueError):
        return None  # a stop recorded by another tool: the table still says why
    x = float(curve.x[interval - 1]) if curve is not None and 0 < interval <= len(curve.x) else float(interval)
    return StopMark(rec.run_id, x, value, cutoff)


def cutoff_dashes(stops: list[StopMark], xs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A short level dash at each distinct (step, cutoff) a policy stopped a run at, as rows of one Lines
    mark: the cutoff is a level at that step, not a line through time."""
    marks = sorted({(s.x, s.cutoff) for s in stops if math.isfinite(s.cutoff)})
    if not marks:
        return EMPTY, EMPTY
    steps = np.diff(np.unique(xs[np.isfinite(xs)])) if xs.size else EMPTY
    half = 0.35 * (float(np.median(steps)) if len(steps) else 1.0)
    return np.array([[x - half, x + half] for x, _ in marks]), np.array([[c, c] for _, c in marks])


def ragged(curves: list[Curve], per_curve: int) -> tuple[np.ndarray, np.ndarray]:
    """Curves of different lengths as two 2-D arrays for one Lines mark.

    A short row repeats its last x and has NaN y after its end: d3 leaves a gap
    there, and the x scale is not stretched. Each curve is downsampled to
    ``per_curve`` points with its extremes kept.
    """
    if not curves:
        return EMPTY, EMPTY
    picked = []
    for c in curves:
        idx = minmax_indices(c.y, per_curve) if len(c.y) > per_curve else np.arange(len(c.y))
        picked.append((c.x[idx], c.y[idx]))
    width = max(2, max(len(x) for x, _ in picked))  # bqplot squeezes a (1, 1) array to a scalar it refuses
    xs = np.zeros((len(picked), width))
    ys = np.full((len(picked), width), np.nan)
    for i, (x, y) in enumerate(picked):
        if len(x):
            xs[i, : len(x)], xs[i, len(x) :] = x, x[-1]
            ys[i, : len(y)] = np.where(np.isfinite(y), y, np.nan)
    return xs, ys


class CurvesChart:
    """Several runs' curves of one metric on one chart.

    ``highlight=True`` (the cockpit): the best run drawn thick and coloured,
    the rest muted, the top ``TOP`` shown until "all" is ticked; where a
    policy stopped a run a cross, and the cutoff it missed as a dashed line.
    ``highlight=False`` (ticked children): each run in its own colour, named
    in the legend.
    """

    def __init__(self, title: str, highlight: bool = True, x_label: str = "step") -> None:
        self.highlight = highlight
        self.x_scale, self.y_scale = linear_scale(), linear_scale()
        scales = {"x": self.x_scale, "y": self.y_scale}
        self.rest = bq.Lines(x=EMPTY, y=EMPTY, scales=scales, stroke_width=1.2, colors=[MUTED] if highlight else COLORS)
        if not highlight:  # few runs, each its own colour: dots show every point, a run's single value too
            self.rest.marker, self.rest.marker_size = "circle", 14
        self.best = bq.Lines(x=EMPTY, y=EMPTY, scales=scales, stroke_width=3, colors=[BEST], labels=["best"])
        self.stops = bq.Scatter(x=EMPTY, y=EMPTY, scales=scales, marker="cross", default_size=64, colors=[STOP])
        self.cutoff = bq.Lines(x=EMPTY, y=EMPTY, scales=scales, colors=[CUTOFF], stroke_width=3)
        self.stops.labels, self.cutoff.labels = ["stopped by the policy"], ["policy cutoff"]
        self.hover = hover_points(scales, x_label)
        self.x_axis = bq.Axis(scale=self.x_scale, label=x_label, tick_format="~g")
        self.y_axis = bq.Axis(scale=self.y_scale, side="left", tick_format="~g")
        self.figure = chart_figure(
            [self.rest, self.cutoff, self.best, self.stops, self.hover],
            [self.x_axis, self.y_axis],
            title,
            "300px",
            "bottom-right",
        )
        self.all = W.Checkbox(value=False, description="all", indent=False, layout=W.Layout(width="auto"))
        self.all.observe(lambda _: self._draw(), "value")
        self.note = W.Label(layout=W.Layout(flex="1 1 auto", width="0"))  # shrinks (ellipsis) before the toggle
        self.note.add_class("rw-note")
        controls = [self.note, self.all] if highlight else [self.note]
        controls.append(download_buttons(self.figure))
        self.widget = W.VBox(
            [self.figure, W.HBox(controls, layout=W.Layout(align_items="center"))],
            layout=W.Layout(flex="1 1 420px", min_width="220px", max_width="100%", margin="0 4px 8px 0"),
        )
        self.widget.add_class("rw-chart")
        self.widget.add_class("rw-curves")
        self._curves: list[Curve] = []
        self._stops: list[StopMark] = []
        self.points_sent = 0  # for tests: how much a redraw put on the wire

    def set_curves(self, curves: list[Curve], stops: list[StopMark] | None = None) -> None:
        """Curves best first (the cockpit) or in the order the legend lists them."""
        self._curves, self._stops = curves, list(stops or [])
        self._draw()

    @property
    def shown(self) -> list[Curve]:
        if not self.highlight or self.all.value:
            return self._curves
        return self._curves[:TOP]

    def _draw(self) -> None:
        shown = self.shown
        per = max(50, CURVE_POINTS // max(1, len(shown)))
        best, rest = (shown[:1], shown[1:]) if self.highlight else ([], shown)
        bx, by = ragged(best, per)
        rx, ry = ragged(rest, per)
        stops = sorted(self._stops, key=lambda s: s.x)
        values = [y[np.isfinite(y)] for y in (by, ry) if y.size]
        values += [np.array([s.value for s in stops] + [s.cutoff for s in stops if math.isfinite(s.cutoff)])]
        finite = np.concatenate([v.ravel() for v in values]) if values else EMPTY
        finite = finite[np.isfinite(finite)]
        xs = np.concatenate([a.ravel() for a in (bx, rx) if a.size] + [np.array([s.x for s in stops])])
        with self.rest.hold_sync(), self.best.hold_sync(), self.stops.hold_sync(), self.cutoff.hold_sync():
            self.rest.x, self.rest.y = rx, ry
            self.best.x, self.best.y = bx, by
            self.rest.labels = [c.name for c in rest]
            self.rest.display_legend = not self.highlight and bool(rest)
            self.best.display_legend = False
            self.stops.x, self.stops.y = np.array([s.x for s in stops]), np.array([s.value for s in stops])
            self.cutoff.x, self.cutoff.y = cutoff_dashes(stops, bx if bx.size else rx)
            set_hover(self.hover, np.vstack([a for a in (bx, rx) if a.size]) if shown else EMPTY,
                      [*by, *ry], [c.name for c in shown])  # fmt: skip
            self.stops.display_legend = self.cutoff.display_legend = False  # the note is the key
        if self.rest.display_legend and len(self.hover.x):
            corner = legend_corner(np.asarray(self.hover.x), np.asarray(self.hover.y))
            if self.figure.legend_location != corner:
                self.figure.legend_location = corner
        self.points_sent += int(bx.size + rx.size)
        if len(finite):
            lo, hi = nice_bounds(float(finite.min()), float(finite.max()))
            if (self.y_scale.min, self.y_scale.max) != (lo, hi):
                with self.y_scale.hold_sync():
                    self.y_scale.min, self.y_scale.max = lo, hi
            set_ticks(self.y_axis, nice_ticks(lo, hi))
        at = single_x(xs) if len(xs) else None
        x_range = (None, None) if at is None else (max(at - 1, 0.0), at + 1)
        if (self.x_scale.min, self.x_scale.max) != x_range:
            with self.x_scale.hold_sync():
                self.x_scale.min, self.x_scale.max = x_range
        set_ticks(self.x_axis, np.array([at]) if at is not None else x_ticks(xs))
        hidden = len(self._curves) - len(shown)
        parts = [f"{len(shown)} of {len(self._curves)} runs" if hidden else f"{len(shown)} runs"]
        if self.highlight and best:
            parts.append("thick red: the best")
        if self._stops:
            parts.append(f"× {len(self._stops)} stopped early")
            if any(math.isfinite(s.cutoff) for s in self._stops):
                parts.append("orange: the cutoff they missed")  # Optuna's pruners state none
        note = " · ".join(parts)
        if self.note.value != note:
            self.note.value = note
            self.note.tooltip = note  # the whole note on hover when a narrow chart cuts it short
        self.all.description = f"all {len(self._curves)}"

    def close(self) -> None:
        close_all(self.widget)


# -- parallel coordinates ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Axis:
    """One vertical axis: a hyperparameter or the metric, and how its values map onto 0..1."""

    name: str
    positions: np.ndarray  # per child, 0..1 (NaN: the child has no value)
    labels: list[tuple[float, str]]  # (position, text) shown beside the axis


LOG_SPAN = 100.0  # a positive parameter spanning this factor or more gets a log axis


def _axis(name: str, values: list) -> Axis:
    numbers = [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
    if len(numbers) == len([v for v in values if v is not None]) and numbers:
        arr = np.array([np.nan if v is None else float(v) for v in values])
        finite = arr[np.isfinite(arr)]
        if not len(finite):
            return Axis(name, np.full(len(values), np.nan), [])
        lo, hi = float(finite.min()), float(finite.max())
        if lo == hi:
            return Axis(name, np.where(np.isfinite(arr), 0.5, np.nan), [(0.5, _fmt(lo))])
        if lo > 0 and hi / lo >= LOG_SPAN:
            # a learning rate searched on a log scale: linear, all but the largest values sit on the floor
            with np.errstate(invalid="ignore", divide="ignore"):
                pos = (np.log10(arr) - math.log10(lo)) / (math.log10(hi) - math.log10(lo))
            mid = 10 ** ((math.log10(lo) + math.log10(hi)) / 2)
            return Axis(f"{name} (log)", pos, [(0.0, _fmt(lo)), (0.5, _fmt(mid)), (1.0, _fmt(hi))])
        return Axis(name, (arr - lo) / (hi - lo), [(0.0, _fmt(lo)), (1.0, _fmt(hi))])
    cats = sorted({json.dumps(v) if not isinstance(v, str) else v for v in values if v is not None})
    where = {c: (i / (len(cats) - 1) if len(cats) > 1 else 0.5) for i, c in enumerate(cats)}
    keys = [None if v is None else (v if isinstance(v, str) else json.dumps(v)) for v in values]
    pos = np.array([np.nan if k is None else where[k] for k in keys])
    return Axis(name, pos, [(where[c], c[:24]) for c in cats])


def _fmt(v: float) -> str:
    return f"{v:.4g}"


class ParallelChart:
    """Parallel coordinates: one axis per hyperparameter and one for the metric, each child a line
    coloured by its metric value. The best ``MAX_PARALLEL`` children are drawn."""

    def __init__(self, metric: str) -> None:
        self.metric = metric
        self.x_scale = linear_scale(min=-0.12, max=1.12)
        self.y_scale = linear_scale(min=-0.08, max=1.12)
        self.c_scale = bq.ColorScale(scheme="viridis")
        scales = {"x": self.x_scale, "y": self.y_scale}
        self.frame = bq.Lines(x=EMPTY, y=EMPTY, scales=scales, colors=[TEXT], stroke_width=1)
        self.lines = bq.Lines(
            x=EMPTY, y=EMPTY, scales={**scales, "color": self.c_scale}, stroke_width=1.5, opacities=[0.7]
        )
        self.names = bq.Label(x=EMPTY, y=EMPTY, text=[], scales=scales, align="middle", colors=[TEXT],
                              default_size=13, font_weight="bold", apply_clip=False)  # fmt: skip
        self.ticks = bq.Label(x=EMPTY, y=EMPTY, text=[], scales=scales, align="start", colors=[TEXT],
                              default_size=11, x_offset=4, apply_clip=False)  # fmt: skip
        self.c_axis = bq.ColorAxis(scale=self.c_scale, label=metric, side="right")
        self.figure = bq.Figure(
            marks=[self.frame, self.lines, self.names, self.ticks],
            axes=[self.c_axis],
            title=f"Parallel coordinates: hyperparameters and {metric}",
            fig_margin={"top": 44, "bottom": 16, "left": 16, "right": 70},
            title_style={"font-size": "14px"},
            min_aspect_ratio=0.01,
            layout=W.Layout(width="100%", height="320px", min_width="260px"),
        )
        self.note = W.Label(layout=W.Layout(flex="1 1 auto"))
        self.widget = W.VBox(
            [self.figure, W.HBox([self.note, download_buttons(self.figure)], layout=W.Layout(align_items="center"))],
            layout=W.Layout(flex="1 1 520px", min_width="260px", max_width="100%", margin="0 4px 8px 0"),
        )
        self.widget.add_class("rw-chart")
        self.widget.add_class("rw-parallel")
        self.drawn = 0  # children drawn (tests)

    def set_children(self, params: list[dict], values: list[float | None]) -> None:
        """Each child's hyperparameters and ranked value, best first."""
        ranked = [(p, v) for p, v in zip(params, values) if v is not None and math.isfinite(v)]
        hidden = len(ranked) - MAX_PARALLEL
        ranked = ranked[:MAX_PARALLEL]
        names: list[str] = []
        for p, _ in ranked:
            names += [k for k in p if k not in names]
        axes = [_axis(n, [p.get(n) for p, _ in ranked]) for n in names]
        metric_values = [v for _, v in ranked]
        axes.append(_axis(self.metric, metric_values))
        k = len(axes)
        at = np.linspace(0.0, 1.0, k) if k > 1 else np.array([0.5])
        ys = np.vstack([a.positions for a in axes]).T if ranked else EMPTY
        with held(self.lines, self.frame, self.names, self.ticks, self.c_scale):
            if ranked:
                self.lines.x = np.tile(at, (len(ranked), 1))
                self.lines.y = ys
                self.lines.color = np.array(metric_values, dtype=np.float64)
            else:
                self.lines.x, self.lines.y, self.lines.color = EMPTY, EMPTY, None
            self.frame.x = np.repeat(at[:, None], 2, axis=1) if k else EMPTY
            self.frame.y = np.tile([0.0, 1.0], (k, 1)) if k else EMPTY
            self.names.x, self.names.y, self.names.text = at, np.full(k, 1.08), [a.name for a in axes]
            tx, ty, tt = [], [], []
            for a, x in zip(axes, at):
                for pos, text in a.labels:
                    tx.append(x)
                    ty.append(pos)
                    tt.append(text)
            self.ticks.x, self.ticks.y, self.ticks.text = np.array(tx), np.array(ty), tt
            if ranked:
                set_ticks(self.c_axis, nice_ticks(min(metric_values), max(metric_values), 3))
        self.drawn = len(ranked)
        parts = [f"{len(ranked)} runs with a value"]
        if hidden > 0:
            parts.append(f"the best {MAX_PARALLEL} of {len(ranked) + hidden} shown")
        self.note.value = " · ".join(parts)

    def close(self) -> None:
        close_all(self.widget, self.c_scale)


# -- progress -----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Progress:
    """Where a sweep stands: children by state out of ``total``, and the time left at the current pace."""

    total: int
    done: int
    running: int
    queued: int
    stopped: int
    failed: int
    left_seconds: float | None

    def to_json(self) -> dict:
        return {**self.__dict__, "at": time.time()}


def progress(parent: RunRecord, children: list[RunRecord], now: float | None = None) -> Progress:
    """Counts for the progress bar. ``total`` is the sweep's ``max_total_runs`` where it has one."""
    now = time.time() if now is None else now
    early = [(c.error or {}).get("code") == "EarlyTermination" for c in children]
    stopped = sum(early)
    done = sum(1 for c in children if c.status == COMPLETED)
    failed = sum(1 for c, e in zip(children, early) if c.status in (FAILED, CANCELED) and not e)
    running = sum(1 for c, e in zip(children, early) if c.status in LIVE and not e)
    try:
        planned = int(parent.properties.get("max_total_runs", "0") or 0)
    except ValueError:
        planned = 0
    total = max(planned, len(children))
    if parent.status in TERMINAL:
        total = len(children)  # a sweep that ended early (a time limit, a cancel) plans no more
    queued = max(0, total - done - running - stopped - failed)
    left = None
    finished = done + stopped + failed
    if parent.status not in TERMINAL and parent.started and finished and queued + running:
        pace = (now - parent.started) / finished  # seconds per finished child, concurrency included
        left = pace * (queued + running)
        sweep = parent.details.sweep
        budget = (
            sweep.max_duration_minutes
            if sweep is not None
            else _float(parent.properties.get("experiment_timeout_minutes"))
        )
        if budget:  # a sweep's max_duration_minutes, an AutoML run's experiment_timeout_minutes
            left = min(left, max(0.0, parent.started + budget * 60 - now))
    return Progress(total, done, running, queued, stopped, failed, left)


def _float(v: str | None) -> float | None:
    try:
        return float(v) if v else None
    except ValueError:
        return None
