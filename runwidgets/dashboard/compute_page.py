"""The compute page (``?compute``), like the studio's "Monitor a compute cluster": every target with its
workers (address, threads, memory, CPU, the run each executes) and the runs queued and running on it,
linked to their pages. Finished runs leave the page. Refreshed by the shared poller."""

from __future__ import annotations

import functools
import html
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import ipywidgets as W

from ..compute.cluster import ClusterInfo, ComputeTargetException, cluster_info
from ..compute.registry import LOCAL, Registry
from ..compute.targets import live_runs
from ..store.base import RunRecord
from ..tracking.workspace import Workspace
from ..widget.closing import close_all
from ..widget.poller import POLLER

INFO_SECONDS = 3.0  # a scheduler that does not answer in this long is shown as unreachable


@dataclass
class TargetView:
    """What the page shows of one target: its cluster (None: local, or unreachable) and its live runs."""

    name: str
    address: str
    runs: list[RunRecord] = field(default_factory=list)
    cluster: ClusterInfo | None = None
    problem: str = ""


def gather(ws: Workspace) -> list[TargetView]:
    """Each target (``local`` first) with its live runs and, for a cluster, its workers now."""
    runs = live_runs(ws)
    out = [TargetView(LOCAL, "this machine", runs.get(LOCAL, []))]
    for name, rec in sorted(Registry(ws.path).all().items()):
        view = TargetView(name, rec.address or "(starting)", runs.get(name, []))
        if rec.address:
            try:
                view.cluster = cluster_info(rec.address, timeout=INFO_SECONDS)
            except ComputeTargetException as e:
                view.problem = str(e)
        elif rec.error:
            view.problem = rec.error
        out.append(view)
    return out


def _mb(n: int) -> str:
    return f"{n / 2**20:,.0f} MiB" if n else "–"


def _link(rec: RunRecord) -> str:
    return f"<a href='?run={quote(rec.run_id, safe='')}' title='{html.escape(rec.run_id)}'>{html.escape(rec.name)}</a>"


def render(targets: list[TargetView]) -> str:
    e = html.escape
    parts = []
    for t in targets:
        running = [r for r in t.runs if r.status != "Queued"]
        queued = [r for r in t.runs if r.status == "Queued"]
        size = f" · {len(t.cluster.workers)} workers, {t.cluster.threads} threads" if t.cluster else ""
        parts.append(
            f"<section class='rw-target' data-target='{e(t.name)}'><h3>{e(t.name)} "
            f"<span class='rw-muted'>{e(t.address)}{size} · {len(running)} running · {len(queued)} queued</span></h3>"
        )
        if t.problem:
            parts.append(f"<p class='rw-error'>{e(t.problem)}</p>")
        if t.cluster is not None:
            by_run = {r.run_id: r for r in t.runs}
            rows = []
            for w in sorted(t.cluster.workers, key=lambda w: w.name):
                # what the worker executes: our runs that say so (its queue holds the waiting ones too),
                # and tasks the scheduler shows that are not this workspace's runs
                ours = [r for r in t.runs if r.details.worker == w.address and r.status != "Queued"]
                other = [k for k in w.runs if k not in by_run]
                task = ", ".join([*map(_link, ours), *map(e, other)]) or "<i>idle</i>"
                memory = f"{_mb(w.memory)} of {_mb(w.memory_limit)}" if w.memory_limit else _mb(w.memory)
                rows.append(
                    f"<tr class='rw-worker'><td>{e(w.name)}</td><td class='rw-id'>{e(w.address)}</td>"
                    f"<td class='rw-num'>{w.threads}</td><td class='rw-num'>{e(memory)}</td>"
                    f"<td class='rw-num'>{w.cpu:.0f}%</td><td>{task}</td></tr>"
                )
            parts.append(
                "<table class='rw-table rw-workers'><thead><tr><th>worker</th><th>address</th><th>threads</th>"
                "<th>memory</th><th>CPU</th><th>runs</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table>"
            )
        if t.runs:
            rows = [
                f"<tr class='rw-live-run'><td>{_link(r)}</td><td>{e(r.experiment)}</td>"
                f"<td><span class='rw-badge rw-status-{e(r.status)}'>{e(r.status)}</span></td>"
                f"<td>{e(r.details.worker_name or '')}</td></tr>"
                for r in t.runs
            ]
            parts.append(
                "<table class='rw-table rw-target-runs'><thead><tr><th>run</th><th>experiment</th><th>status</th>"
                "<th>worker</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table>"
            )
        else:
            parts.append("<p class='rw-muted'>no runs queued or running</p>")
        parts.append("</section>")
    return f"<style>{_style()}</style><div class='rw rw-compute'>" + "".join(parts) + "</div>"


@functools.cache
def _style() -> str:
    """The views' own stylesheet (theme variables, tables, badges), and the little this page adds."""
    css = (Path(__file__).parents[1] / "static" / "run_details.css").read_text()
    return css + (
        ".rw-compute h3 { font-size: 1.1em; margin: 18px 0 6px; }"
        ".rw-compute .rw-table { width: auto; min-width: 50%; margin: 4px 0 10px; }"
        ".rw-compute .rw-table td { white-space: nowrap; }"
        ".rw-compute a { color: var(--rw-accent); }"
    )


class ComputePage:
    """The page's widget, redrawn on each poll (an unchanged page sends nothing)."""

    def __init__(self, ws: Workspace, refresh_interval: float | None = None) -> None:
        self.ws = ws
        self.html = W.HTML()
        self._closed = False
        self.refresh()
        POLLER.add(self, refresh_interval)

    def refresh(self) -> None:
        value = render(gather(self.ws))
        if self.html.value != value:
            self.html.value = value

    def poll(self) -> bool:
        if self._closed:
            return False
        self.refresh()
        return True

    def poll_failed(self, error: BaseException, retry_in: float) -> None:
        self.html.value = (
            f"<p class='rw-error'><b>runwidgets:</b> {html.escape(str(error))}"
            f" <span class='rw-muted'>(trying again in {retry_in:.0f} s)</span></p>"
        )

    def close(self) -> None:
        self._closed = True
        POLLER.remove(self)
        close_all(self.html)
