"""bqplot line charts, created once per metric and updated in place.

Each chart draws finite points as lines (downsampled, min/max kept) and
non-finite ones as red crosses pinned to the edge of the plot, and sets the
y range from finite values only, so one inf cannot flatten a curve.

A growing line is not resent: its tail from the first changed point goes
to the page in a custom message (``SPLICE``, one per poll for every chart
of a view, with the charts' point counts), and the kernel's copies are
updated without an echo (ipywidgets' property lock).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager

import bqplot as bq
import ipywidgets as W
import numpy as np

from .closing import close_all
from .downsample import MAX_POINTS, ema, minmax_indices_multi
from .messages import SPLICE

Send = Callable[[dict, list], None]  # sends a custom message with binary buffers to the page


class Splices:
    """What a poll changed in a view's charts, gathered into one custom message.

    Each chart's widget ids are published once (``publish``, a trait of the
    view); an entry then names its chart by index: ``{"i", "s": start, "n":
    length the page should have, "t": note text, "b": [y min, y max], "g": 1
    on the log scale, "xt"/"yt": an axis's tick values}``, with two buffers (x, then y rows) for each entry that
    has ``"s"``. The kernel's copies are set under the property lock.
    """

    def __init__(self, send: Send, publish: Callable[[list[dict]], None]) -> None:
        self.send = send
        self.publish = publish
        self.registry: list[dict] = []
        self.entries: dict[int, dict] = {}
        self.buffers: list[bytes] = []

    def register(self, chart: LineChart) -> int:
        ids = {"lines": chart.lines.model_id, "note": chart.note.model_id}
        ids |= {"xa": chart.x_axis.model_id, "ya": chart.y_axis.model_id}
        self.registry.append({**ids, "lin": chart.y_lin.model_id, "log": chart.y_log.model_id})
        self.publish(list(self.registry))
        return len(self.registry) - 1

    def _entry(self, index: int) -> dict:
        return self.entries.setdefault(index, {"i": index})

    def line(self, index: int, lines: bq.Lines, start: int, n: int, x: np.ndarray, y: np.ndarray) -> None:
        self._entry(index).update(s=start, n=n)
        self.buffers += [x[start:].tobytes(), np.ascontiguousarray(y[..., start:]).tobytes()]
        set_quietly(lines, x=x, y=y)

    def text(self, index: int, label: W.Label, value: str) -> None:
        self._entry(index)["t"] = value
        set_quietly(label, value=value)

    def bounds(self, index: int, scale: bq.Scale, lo: float, hi: float, log: bool) -> None:
        entry = self._entry(index)
        entry["b"] = [lo, hi]
        if log:
            entry["g"] = 1
        set_quietly(scale, min=lo, max=hi)

    def ticks(self, index: int, which: str, axis: bq.Axis, values: np.ndarray) -> None:
        """An axis's new round ticks (``which``: "x" or "y"), as the entry's ``xt`` or ``yt``."""
        old = axis.tick_values
        if old is not None and len(old) == len(values) and np.array_equal(np.asarray(old), values):
            return
        self._entry(index)[f"{which}t"] = values.tolist()
        set_quietly(axis, tick_values=values)

    def flush(self) -> None:
        if self.entries:
            # buffers were added in the order entries were first made; entries keep that order
            self.send({"type": SPLICE, "charts": list(self.entries.values())}, self.buffers)
            self.entries, self.buffers = {}, []


COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]
EMPTY = np.zeros(0)


def nice_step(span: float, ticks: int = 5) -> float:
    """A round step (1, 2, 2.5 or 5 times a power of ten) giving about ``ticks`` intervals over ``span``."""
    raw = span / ticks
    mag = 10.0 ** math.floor(math.log10(raw))
    return next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw * (1 - 1e-9))


def nice_ticks(lo: float, hi: float, ticks: int = 5, integer: bool = False) -> np.ndarray:
    """Round tick values inside ``lo .. hi``: multiples of ``nice_step`` (whole numbers when ``integer``).

    bqplot's own ``num_ticks`` spaces ticks evenly between the ends of the domain (0.725, 1.11, 1.50 ...),
    so every chart sets its ticks itself."""
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        return np.array([lo]) if math.isfinite(lo) else EMPTY
    step = nice_step(hi - lo, ticks)
    # prefer a round step that lands on both ends (nice_bounds makes them multiples of one), so the
    # frame's ends are labelled: 0.25 .. 0.55 by 0.05, not 0.3 .. 0.5 by 0.1
    mag = 10.0 ** math.floor(math.log10(step))
    fits = [
        c
        for c in (m * mag * f for m in (1, 2, 2.5, 5) for f in (0.1, 1, 10))
        if ticks - 1 <= (hi - lo) / c <= 2 * ticks - 2 and _whole(lo / c) and _whole(hi / c)
    ]
    if fits:
        step = min(fits, key=lambda c: (abs((hi - lo) / c - ticks), -c))
    if integer and not _whole(step):  # 2.5 would label 2.5, 5, 7.5 as "3", "5", "8"
        mag = 10.0 ** math.floor(math.log10(max(step, 1.0)))
        step = min((m * mag for m in (1, 2, 5, 10)), key=lambda c: abs(math.log(c / max(step, 1.0))))
    first, last = math.ceil(lo / step - 1e-9), math.floor(hi / step + 1e-9)
    return np.array([float(f"{k * step:.12g}") for k in range(first, last + 1)])


def _whole(v: float) -> bool:
    return abs(v - round(v)) < 1e-6


def set_ticks(axis: bq.Axis, values: np.ndarray | None) -> None:
    """Give an axis its tick values, sending them only when they changed (None: bqplot's own, for log)."""
    old = axis.tick_values
    if values is None:
        if old is not None and len(old):
            axis.tick_values = None
    elif old is None or len(old) != len(values) or not np.array_equal(np.asarray(old), values):
        axis.tick_values = values


def chart_figure(marks: list, axes: list, title: str, height: str = "260px", legend: str = "top-right") -> bq.Figure:
    """A chart's figure: one title style and margins for every chart, filling its box's width."""
    return bq.Figure(
        marks=marks,
        axes=axes,
        title=title,
        fig_margin={"top": 44, "bottom": 44, "left": 60, "right": 16},
        title_style={"font-size": "14px"},
        min_aspect_ratio=0.01,
        layout=W.Layout(width="100%", height=height, min_width="220px"),
        legend_location=legend,
    )


def legend_corner(x: np.ndarray, y: np.ndarray) -> str:
    """The right-hand corner fewer points fall in (bqplot draws the legend over the plot): for
    curves ending high, as accuracy does, the bottom; for curves ending low, as loss does, the top."""
    keep = np.isfinite(x) & np.isfinite(y)
    x, y = x[keep], y[keep]
    if not len(x):
        return "top-right"
    right = x >= x.min() + 0.6 * (x.max() - x.min())
    middle = (y.min() + y.max()) / 2
    high = int(np.count_nonzero(y[right] > middle))
    return "bottom-right" if high > int(np.count_nonzero(right)) - high else "top-right"


HOVER_POINTS = 2000  # dots a chart's hover reads values from (a longer line is sampled, its extremes kept)


def hover_points(scales: dict, x_label: str) -> bq.Scatter:
    """Invisible dots on a chart's points: hovering one shows its run, x and value."""
    return bq.Scatter(
        x=EMPTY, y=EMPTY, scales=scales, names=[], display_names=False, default_size=36,
        opacities=[0.0], colors=["#888888"], interactions={"hover": "tooltip"},
        tooltip=bq.Tooltip(fields=["name", "x", "y"], formats=["", "~g", "~g"], labels=["run", x_label, "value"]),
    )  # fmt: skip


def set_hover(dots: bq.Scatter, x: np.ndarray, ys: list[np.ndarray], names: list[str]) -> None:
    """The dots of rows ``ys`` (one per name) over ``x`` (shared, or one row per curve); NaN left out."""
    xs = [np.asarray(x[i] if np.ndim(x) == 2 else x, dtype=float) for i in range(len(ys))]
    px, py, pn = [], [], []
    for xi, yi, name in zip(xs, ys, names):
        keep = np.isfinite(yi) & np.isfinite(xi)
        px.append(xi[keep])
        py.append(np.asarray(yi, dtype=float)[keep])
        pn += [name] * int(keep.sum())
    hx = np.concatenate(px) if px else EMPTY
    hy = np.concatenate(py) if py else EMPTY
    if len(hx) > HOVER_POINTS:
        idx = np.linspace(0, len(hx) - 1, HOVER_POINTS).astype(int)
        hx, hy, pn = hx[idx], hy[idx], [pn[i] for i in idx]
    if len(hx) == len(dots.x) and np.array_equal(hx, dots.x) and np.array_equal(hy, dots.y):
        return  # an idle poll sends nothing
    with dots.hold_sync():
        dots.x, dots.y, dots.names = hx, hy, pn


def _stem(title: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in str(title)).strip("_") or "chart"


def download_buttons(figure: bq.Figure) -> W.HBox:
    """PNG and SVG downloads of a chart, named after its title (bqplot draws them in the browser)."""
    png = W.Button(description="PNG", tooltip="download this chart as PNG", layout=W.Layout(width="auto"))
    svg = W.Button(description="SVG", tooltip="download this chart as SVG", layout=W.Layout(width="auto"))
    png.on_click(lambda _: figure.save_png(f"{_stem(figure.title)}.png"))
    svg.on_click(lambda _: figure.save_svg(f"{_stem(figure.title)}.svg"))
    box = W.HBox([png, svg], layout=W.Layout(flex="0 0 auto"))
    box.add_class("rw-download")
    return box


def linear_scale(**kw) -> bq.LinearScale:
    """A scale whose domain is what we set or the data's extent: marks with a size (a scatter's crosses,
    even hidden) would otherwise pad it past our round bounds."""
    return bq.LinearScale(allow_padding=False, **kw)


def nice_bounds(lo: float, hi: float) -> tuple[float, float]:
    """The y range of a chart: the data's range widened to round numbers, and never past 0 or 1 where
    the data stays inside them (a loss is not drawn below 0, an accuracy not above 1)."""
    if hi == lo:
        span = abs(hi) * 0.2 or 1.0
        lo, hi = lo - span / 2, hi + span / 2
        lo_data = hi_data = (lo + hi) / 2
    else:
        lo_data, hi_data = lo, hi
    step = nice_step(hi - lo)
    nlo, nhi = math.floor(lo / step + 1e-9) * step, math.ceil(hi / step - 1e-9) * step
    if math.isclose(nlo, lo_data, abs_tol=step * 1e-9):
        nlo -= step  # a curve does not run along the frame
    if math.isclose(nhi, hi_data, abs_tol=step * 1e-9):
        nhi += step
    if lo_data >= 0:
        nlo = max(nlo, 0.0)
    if hi_data <= 0:
        nhi = min(nhi, 0.0)
    if 0 <= lo_data and hi_data <= 1:
        nhi = min(nhi, 1.0)
    return float(f"{nlo:.12g}"), float(f"{nhi:.12g}")  # 0.25, not 0.25000000000000006


def _bounds(ys: list[np.ndarray], log: bool) -> tuple[float, float] | None:
    finite = [y[np.isfinite(y) & ((y > 0) if log else True)] for y in ys]
    finite = [f for f in finite if len(f)]
    if not finite:
        return None
    lo, hi = min(float(f.min()) for f in finite), max(float(f.max()) for f in finite)
    if log:  # whole powers of ten
        return 10.0 ** math.floor(math.log10(lo)), 10.0 ** math.ceil(math.log10(hi) + (1e-9 if lo == hi else 0))
    return nice_bounds(lo, hi)


@contextmanager
def held(*widgets: W.Widget) -> Iterator[None]:
    """Hold the sync of several widgets at once (one message each when the block ends)."""
    with ExitStack() as stack:
        for w in widgets:
            stack.enter_context(w.hold_sync())
        yield


def x_ticks(x: np.ndarray) -> np.ndarray:
    """Round ticks over the extent of the x values (whole numbers when the x are: steps, rows)."""
    finite = x[np.isfinite(x)] if len(x) else x
    if not len(finite):
        return EMPTY
    lo, hi = float(finite.min()), float(finite.max())
    return nice_ticks(lo, hi, 6, integer=bool(np.all(finite == np.round(finite))))


def single_x(x: np.ndarray) -> float | None:
    """The x of a series that has one x so far (d3 would spread its axis to -1 .. 1 around it)."""
    if not len(x) or not np.isfinite(x[0]) or not np.all(x == x[0]):
        return None
    return float(x[0])


class LineChart:
    """One metric: one line, or one line per column of a table, against a shared x."""

    def __init__(self, title: str, x_label: str = "step", y_label: str = "", splices: Splices | None = None) -> None:
        self.splices = splices  # None: every change is sent whole (a chart outside a RunDetails)
        self.index = -1  # this chart's place in splices' registry
        self.x_scale = linear_scale()
        self.y_lin = linear_scale()
        self.y_log = bq.LogScale(allow_padding=False)
        scales = {"x": self.x_scale, "y": self.y_lin}
        self.lines = bq.Lines(x=EMPTY, y=EMPTY, scales=scales, colors=COLORS, stroke_width=1.5)
        self.bad = bq.Scatter(
            x=EMPTY, y=EMPTY, scales=scales, marker="cross", default_size=40, colors=["#d62728"], visible=False
        )
        self.hover = hover_points(scales, x_label)
        self.x_axis = bq.Axis(scale=self.x_scale, label=x_label, tick_format="~g")
        self.y_axis = bq.Axis(scale=self.y_lin, side="left", label=y_label, tick_format="~g")
        self.figure = chart_figure(
            [self.lines, self.bad, self.hover], [self.x_axis, self.y_axis], title, "260px", "top-right"
        )
        self.note = W.Label(layout=W.Layout(flex="1 1 auto"))
        self.downloads = download_buttons(self.figure)
        self.log = W.ToggleButton(description="log y", tooltip="logarithmic y axis", layout=W.Layout(width="64px"))
        self.smoothing = W.FloatSlider(
            value=0.0, min=0.0, max=0.99, step=0.01, description="smooth", readout_format=".2f",
            continuous_update=False, layout=W.Layout(width="230px"), style={"description_width": "initial"},
        )  # fmt: skip
        self.log.observe(lambda _: self._redraw_now(), "value")
        self.smoothing.observe(lambda _: self._redraw_now(), "value")
        self.widget = W.VBox(
            [
                self.figure,
                W.HBox(
                    [self.note, self.log, self.smoothing, self.downloads],
                    layout=W.Layout(align_items="center", flex_flow="row wrap"),
                ),
            ],
            layout=W.Layout(flex="1 1 360px", min_width="220px", max_width="100%", margin="0 4px 8px 0"),
        )
        self.widget.add_class("rw-chart")
        self._x = EMPTY
        self._ys: list[np.ndarray] = []
        self._labels: list[str] = []
        self._total: int | None = None
        self._hover_len = 0  # points the hover dots were last set from
        if splices is not None:
            self.index = splices.register(self)

    def set_data(
        self, x: np.ndarray, ys: list[np.ndarray], labels: list[str] | None = None, total: int | None = None
    ) -> None:
        """Data of the metric (``total``: the series' length when ``x`` is a store's sample of it)."""
        self._x, self._ys, self._labels, self._total = x, ys, labels or [], total
        self.redraw()

    def _redraw_now(self) -> None:
        """A toggle's redraw, outside a poll: what it batched goes at once."""
        self.redraw()
        if self.splices is not None:
            self.splices.flush()

    def redraw(self) -> None:
        x, ys = self._x, self._ys
        n = len(x)
        log = self.log.value
        w = self.smoothing.value
        idx = minmax_indices_multi(ys, MAX_POINTS)
        shown_x = x[idx]
        shown = [ema(y, w)[idx] if w else y[idx] for y in ys]
        bounds = _bounds(self._bound_values(shown), log)
        drawn = [np.where(np.isfinite(y) & ((y > 0) if log else True), y, np.nan) for y in shown]
        bad = [np.flatnonzero(~np.isfinite(y)) for y in ys]
        bad_idx = (bad[0] if len(bad) == 1 else np.unique(np.concatenate(bad))) if bad else np.zeros(0, dtype=int)
        n_bad = len(bad_idx)
        if len(bad_idx) > MAX_POINTS:
            bad_idx = bad_idx[:: -(-len(bad_idx) // MAX_POINTS)]
        y_scale = self.y_log if log else self.y_lin
        with held(self.lines, self.bad, self.y_axis, y_scale, self.note):
            if self.y_axis.scale is not y_scale:
                self.lines.scales = self.bad.scales = self.hover.scales = {"x": self.x_scale, "y": y_scale}
                self.y_axis.scale = y_scale
            multi = len(drawn) > 1
            resent = self._send_line(shown_x, drawn)
            if resent or len(shown_x) > 1.25 * self._hover_len + 10:
                # a live line's growth goes as splices; its hover dots follow in steps (amortised, not per poll)
                set_hover(self.hover, shown_x, drawn, self._labels or [self.figure.title] * len(drawn))
                self._hover_len = len(shown_x)
            self._fit_x(shown_x)
            self.lines.labels = self._labels
            self.lines.display_legend = multi
            if bounds is not None and (y_scale.min, y_scale.max) != bounds:
                if self.splices is not None:
                    self.splices.bounds(self.index, y_scale, *bounds, log)
                else:
                    y_scale.min, y_scale.max = bounds
            if bounds is not None:
                self._ticks("y", self.y_axis, None if log else nice_ticks(*bounds))
            if len(bad_idx) and bounds is not None:
                # +inf at the top edge, -inf and NaN at the bottom
                edge = np.array([bounds[1] if any(y[i] == np.inf for y in ys) else bounds[0] for i in bad_idx])
                self.bad.x, self.bad.y, self.bad.visible = x[bad_idx], edge, True
            elif len(bad_idx):
                self.bad.x, self.bad.y, self.bad.visible = x[bad_idx], np.zeros(len(bad_idx)), True
            whole = self._total or n
            parts = [f"{len(idx):,} of {whole:,} points" if len(idx) < whole else f"{n:,} points"]
            if n_bad:
                parts.append(f"{n_bad:,} NaN/inf (×)")
            note = " · ".join(parts)
            if note != self.note.value:
                if self.splices is not None:
                    self.splices.text(self.index, self.note, note)
                else:
                    self.note.value = note

    def _bound_values(self, shown: list[np.ndarray]) -> list[np.ndarray]:
        """What the y range must hold."""
        return shown

    def _fit_x(self, x: np.ndarray) -> None:
        """One x so far: an axis from 0 (or the x less one) to the x plus one, with that x as its one tick.
        Set once when the first point comes and undone once at the second, never on an idle poll."""
        at = single_x(x)
        lo, hi = (None, None) if at is None else (max(at - 1, 0.0) if at >= 0 else at - 1, at + 1)
        with self.x_axis.hold_sync(), self.x_scale.hold_sync():
            if (self.x_scale.min, self.x_scale.max) != (lo, hi):
                self.x_scale.min, self.x_scale.max = lo, hi
            self._ticks("x", self.x_axis, np.array([at]) if at is not None else x_ticks(x))

    def _ticks(self, which: str, axis: bq.Axis, values: np.ndarray | None) -> None:
        if self.splices is not None and values is not None:
            self.splices.ticks(self.index, which, axis, values)  # in the poll's one message
        else:
            set_ticks(axis, values)

    def _send_line(self, x: np.ndarray, ys: list[np.ndarray]) -> bool:
        """Give the page the line: its changed tail when the start is unchanged, else the whole (True)."""
        x, ys = np.asarray(x, dtype=np.float64), [np.asarray(y, dtype=np.float64) for y in ys]
        y = np.vstack(ys) if len(ys) > 1 else (ys[0] if ys else EMPTY)
        old_x, old_y = self.lines.x, self.lines.y
        start = _common_prefix(old_x, old_y, x, y)
        if start == len(x) == len(old_x):
            return False  # nothing changed
        if self.splices is None or start < len(old_x) // 2 or start == 0 or not _same_shape(old_x, old_y, x, y):
            self.lines.x, self.lines.y = x, y
            return True
        self.splices.line(self.index, self.lines, start, len(old_x), x, y)
        return False

    @property
    def drawn_points(self) -> int:
        y = self.lines.y
        return int(y.shape[-1]) if hasattr(y, "shape") and y.size else 0

    def close(self) -> None:
        close_all(self.widget, self.y_lin, self.y_log)  # one y scale is not in the figure at a time


class ChildMetricChart(LineChart):
    """A sweep's primary metric per child (dots) with the best so far (a line).

    Children are numbered from ``first``: 1 for a sweep's runs, 0 for AutoML's iterations (Azure's
    ITERATION column), so a dot sits over the number its table row shows."""

    def __init__(self, metric: str, goal: str | None, x_label: str = "child run (in start order)", first: int = 1):
        super().__init__(f"{metric} per child run: dots, and the best so far", x_label=x_label)
        self.goal = goal
        self.first = first
        self.metric_picker = W.Dropdown(
            options=[metric], value=metric, layout=W.Layout(width="auto", max_width="220px")
        )
        self.widget.children[1].children = [self.note, self.metric_picker, self.log, self.downloads]
        self.dots = bq.Scatter(
            x=EMPTY, y=EMPTY, scales={"x": self.x_scale, "y": self.y_lin}, default_size=24, colors=["#1f77b4"]
        )
        self.figure.marks = [self.lines, self.dots, self.bad]
        self.x_axis.tick_format = "d"  # child numbers are whole
        self.smoothing.layout.display = "none"
        self.dots.labels = ["child runs"]  # the title is the key: a legend box would hide dots
        self._values = EMPTY

    def _bound_values(self, shown: list[np.ndarray]) -> list[np.ndarray]:
        return [*shown, self._values]  # every child's value is on the chart, not only the best line

    def _fit_x(self, x: np.ndarray) -> None:
        pass  # set_values places the ticks

    def set_values(self, values: list[float | None], metric: str | None = None, goal: str | None = "") -> None:
        """Each child's value, in start order; ``metric`` and ``goal`` when another metric was picked
        (a goal of None: not known, so no best-so-far line)."""
        if metric is not None:
            self.goal = goal
            title = f"{metric} per child run: dots" + (", and the best so far" if goal else "")
            if self.figure.title != title:
                self.figure.title = title
        y = np.array([np.nan if v is None else v for v in values], dtype=np.float64)
        x = np.arange(self.first, self.first + len(y), dtype=np.float64)
        best = y.copy()
        if len(y) and self.goal:
            filled = np.where(np.isnan(y), -np.inf if self.goal == "MAXIMIZE" else np.inf, y)
            best = np.maximum.accumulate(filled) if self.goal == "MAXIMIZE" else np.minimum.accumulate(filled)
            best = np.where(np.isfinite(best), best, np.nan)
        elif not self.goal:
            best = np.full(len(y), np.nan)  # a metric whose goal is not known: no "best" to draw
        self._values = y
        with self.dots.hold_sync():
            self.dots.x, self.dots.y = x, y
        ticks = x if len(x) <= 12 else nice_ticks(x[0], x[-1], 8, integer=True)
        if not np.array_equal(np.asarray(self.x_axis.tick_values), ticks):
            self.x_axis.tick_values = ticks
        self.set_data(x, [best], ["best so far"] if self.goal else [])
        self.lines.display_legend = False
        span = (self.first - 0.5, self.first + len(x) - 0.5)
        if len(x) and (self.x_scale.min, self.x_scale.max) != span:
            self.x_scale.min, self.x_scale.max = span  # the first and last dot whole, off the frame


def _same_shape(old_x, old_y, x, y) -> bool:
    return (
        old_x.dtype == x.dtype and old_y.dtype == y.dtype and old_y.ndim == y.ndim and old_y.shape[:-1] == y.shape[:-1]
    )


def _common_prefix(old_x, old_y, x, y) -> int:
    """How many leading points of the line are unchanged (NaN equals NaN)."""
    m = min(len(old_x), len(x))
    if not m or not _same_shape(old_x, old_y, x, y):
        return 0
    same = _equal(old_x[:m], x[:m])
    if y.ndim > 1:
        same &= _equal(old_y[:, :m], y[:, :m]).all(axis=0)
    else:
        same &= _equal(old_y[:m], y[:m])
    diff = np.flatnonzero(~same)
    return int(diff[0]) if len(diff) else m


def _equal(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a == b) | (np.isnan(a) & np.isnan(b))


def set_quietly(widget: W.Widget, **values) -> None:
    """Set traits the page already has (a splice put them there) without sending them again.

    ipywidgets sends nothing for a value equal to its property lock, which holds the state as the page
    sent it: JSON (tuples as lists) with binary buffers. The lock is built the same way.
    """
    from ipywidgets.widgets.widget import _put_buffers, _remove_buffers

    state = {k: widget.trait_metadata(k, "to_json", widget._trait_to_json)(v, widget) for k, v in values.items()}
    plain, paths, buffers = _remove_buffers(state)
    lock = json.loads(json.dumps(plain))
    _put_buffers(lock, paths, buffers)
    with widget._lock_property(**lock):
        for k, v in values.items():
            setattr(widget, k, v)
