"""Compare ticked runs, children and other experiments' runs alike: one chart per chosen metric, and
their params and final metrics side by side with the differences marked."""

from __future__ import annotations

import html
import math
from typing import Any

import ipywidgets as W

from ..formatting import fmt_value
from ..store.base import SCALAR, RunRecord
from ..store.errors import RunNotFound
from ..store.query import params_of
from ..widget.closing import close_all
from ..widget.sweep import Curve, CurvesChart

DEFAULT_CHARTS = 2
NAME = ""  # the legend's choice "run name"


def _same(values: list[Any]) -> bool:
    first = values[0]
    return all(v == first or (_nan(v) and _nan(first)) for v in values[1:])


def short_id(run_id: str) -> str:
    """A long run id by its ends, as the runs table shows it (js/common.js shortId)."""
    return f"{run_id[:6]}…{run_id[-5:]}" if len(run_id) > 14 else run_id


def _nan(v: Any) -> bool:
    return isinstance(v, float) and math.isnan(v)


class ComparePanel:
    def __init__(self, store: Any) -> None:
        self.store = store
        self.metrics = W.TagsInput(allow_duplicates=False, layout=W.Layout(flex="1 1 auto"))
        self.metrics.add_class("rw-compare-metrics")
        self.legend = W.Dropdown(description="legend", options=[("run name", NAME)], layout=W.Layout(width="260px"))
        self.note = W.HTML()
        self.charts_box = W.Box(layout=W.Layout(flex_flow="row wrap", width="100%"))
        self.table = W.HTML()
        controls = W.HBox(
            [W.Label("charts of", layout=W.Layout(width="90px")), self.metrics, self.legend],
            layout=W.Layout(width="100%", align_items="center", flex_flow="row wrap"),
        )
        self.widget = W.VBox([W.HTML("<h3 class='rw-section-title'>Compare</h3>"), controls, self.note,
                              self.charts_box, self.table])  # fmt: skip
        self.widget.add_class("rw-compare")
        self.charts: dict[str, CurvesChart] = {}
        self.records: list[RunRecord] = []
        self.latest: dict[str, dict[str, Any]] = {}
        self.metrics.observe(lambda _: self._draw_charts(), "value")
        self.legend.observe(lambda _: self._draw_charts(), "value")

    def show(self, run_ids: list[str]) -> None:
        """Compare these runs (in this order); ids no longer in the store are left out, and said."""
        recs, gone = [], []
        for rid in run_ids:
            try:
                recs.append(self.store.get_run(rid))
            except (RunNotFound, KeyError):
                gone.append(rid)
        self.records = recs
        self.latest = self.store.latest_values([r.run_id for r in recs])
        counts: dict[str, int] = {}
        for vals in self.latest.values():
            for name, v in vals.items():
                if isinstance(v, (int, float)) and not name.startswith("system/"):
                    counts[name] = counts.get(name, 0) + 1
        names = sorted(counts, key=lambda n: (-counts[n], n))
        params = sorted({p for r in recs for p in params_of(r)})
        self.legend.options = [("run name", NAME), *((f"param {p}", p) for p in params)]
        keep = [m for m in self.metrics.value if m in names]
        self.metrics.allowed_tags = names
        self.metrics.value = keep or self._curves_first(names)[:DEFAULT_CHARTS]
        self.note.value = (
            f"<p class='rw-muted'>{len(gone)} ticked run(s) are no longer in the store: "
            f"{html.escape(', '.join(gone))}</p>"
            if gone
            else ""
        )
        self._draw_charts()
        self._draw_table()

    def _curves_first(self, names: list[str]) -> list[str]:
        """Metrics logged as curves (more than one point in some run) before single values."""
        curves = [
            n
            for n in names[: DEFAULT_CHARTS * 4]
            if any(len(c) > 1 for r in self.records for c in self.store.read_series(r.run_id, n))
        ]
        return curves + [n for n in names if n not in curves]

    def _label(self, rec: RunRecord) -> str:
        if self.legend.value == NAME:
            if rec.name == rec.run_id:
                return short_id(rec.run_id)
            same_name = sum(r.name == rec.name for r in self.records) > 1
            return f"{rec.name} ({short_id(rec.run_id)})" if same_name else rec.name
        value = params_of(rec).get(self.legend.value)
        return (
            f"{self.legend.value}={fmt_value(value)}" if value is not None else f"{rec.name} (no {self.legend.value})"
        )

    def _draw_charts(self) -> None:
        wanted = list(self.metrics.value)
        for name in list(self.charts):
            if name not in wanted:
                self.charts.pop(name).close()
        for name in wanted:
            chart = self.charts.get(name)
            if chart is None:
                chart = self.charts[name] = CurvesChart(name, highlight=False)
            curves = []
            for rec in self.records:
                chunks = [c for c in self.store.read_series(rec.run_id, name) if c.key.kind == SCALAR]
                if chunks and chunks[0].values.dtype != object:
                    ch = chunks[0]
                    curves.append(Curve(rec.run_id, self._label(rec), ch.x(), ch.values.astype(float)))
            chart.set_curves(curves)
        self.charts_box.children = [self.charts[n].widget for n in wanted]

    def _draw_table(self) -> None:
        e = html.escape
        recs = self.records
        if not recs:
            self.table.value = ""
            return
        rows: list[tuple[str, list[Any]]] = [
            ("experiment", [r.experiment for r in recs]),
            ("status", [r.display_status for r in recs]),
            ("duration (s)", [round(r.duration, 1) if r.duration is not None else None for r in recs]),
        ]
        params = [params_of(r) for r in recs]
        for p in sorted({k for ps in params for k in ps}):
            rows.append((f"param {p}", [ps.get(p) for ps in params]))
        # system metrics (CPU, disk) differ between any two runs and would bury what matters
        metric_names = sorted({k for r in recs for k in self.latest.get(r.run_id, {}) if not k.startswith("system/")})
        for m in metric_names:
            rows.append((f"final {m}", [self.latest.get(r.run_id, {}).get(m) for r in recs]))
        head = "".join(
            f"<th title='{e(r.run_id)}'>{e(r.name if r.name != r.run_id else short_id(r.run_id))}"
            + (f"<div class='rw-muted'>{e(short_id(r.run_id))}</div>" if r.name != r.run_id else "")
            + "</th>"
            for r in recs
        )
        body = []
        for label, values in rows:
            differ = not _same(values)
            cells = "".join(
                f"<td class='{'rw-num' if isinstance(v, (int, float)) else ''}'>{e(fmt_value(v) if v is not None else '')}</td>"
                for v in values
            )
            body.append(f"<tr class='{'rw-diff' if differ else ''}'><th>{e(label)}</th>{cells}</tr>")
        self.table.value = (
            "<div class='rw rw-runs-scroll'><table class='rw-table rw-compare-table'>"
            f"<thead><tr><th></th>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
            "<p class='rw-muted'>highlighted: rows whose values differ between the runs</p></div>"
        )

    def close(self) -> None:
        for chart in self.charts.values():
            chart.close()
        close_all(self.widget)
