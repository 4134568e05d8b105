"""Scale: RunDetails' first view of a very long series and of a very wide sweep, with memory peaks.

Each view is built in a fresh process (a notebook opening the run): the time to a
complete first view (read, downsample, charts, child table), the memory allocated at
the peak while building it (tracemalloc), and the process's resident memory after.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from .common import Row, fmt_time

VIEW = r"""
import json, sys, time, tracemalloc
import psutil
from runwidgets import Workspace
from runwidgets.widget import RunDetails
ws = Workspace(sys.argv[1], create=False)
run = ws.get_run(sys.argv[2])
trace = sys.argv[3] == "memory"
if trace:  # numpy reports its buffers to tracemalloc too; tracing slows allocation, so it is a run of its own
    tracemalloc.start()
t = time.perf_counter()
view = RunDetails(run, refresh_interval=3600)
view.widget
took = time.perf_counter() - t
peak = tracemalloc.get_traced_memory()[1] if trace else 0
rss = psutil.Process().memory_info().rss
drawn = max((c.drawn_points for c in view._charts.values()), default=0)
kids = len(view.panels.children.get("rows", []))
view.close()
print(json.dumps({"seconds": took, "peak": peak, "rss": rss, "drawn": drawn, "kids": kids}))
"""


def _first_view(ws_path: Path, run_id: str) -> dict:
    """Seconds from a fresh process's timed run; memory from another fresh process, traced."""
    out: dict = {}
    for mode in ("memory", "time"):
        p = subprocess.run(
            [sys.executable, "-c", VIEW, str(ws_path), run_id, mode], capture_output=True, text=True, timeout=900
        )
        if p.returncode != 0:
            raise RuntimeError(p.stderr[-2000:])
        got = json.loads(p.stdout.strip().splitlines()[-1])
        if mode == "time":
            got.pop("peak")
        out.update(got if mode == "time" else {"peak": got["peak"]})
    return out


def _mib(n: float) -> str:
    return f"{n / 2**20:,.0f} MiB"


def run(tmp: Path, quick: bool) -> list[Row]:
    import numpy as np

    from runwidgets import Experiment, Workspace

    points, children = (1_000_000, 1_000) if quick else (10_000_000, 10_000)
    ws = Workspace(tmp / "ws")
    exp = Experiment(ws, "scale")
    long = exp.start_logging(display_name="long")
    values = np.sin(np.arange(points) / 5000.0) + np.random.default_rng(0).normal(0, 0.05, points)
    log = long.log
    for i, v in enumerate(values.tolist()):
        log("loss", v, step=i)
        if i % 1_000_000 == 999_999:
            long.flush()
    long.complete()

    sweep = exp.start_logging(display_name="sweep")
    sweep.add_properties({"primary_metric_config": json.dumps({"name": "acc", "goal": "MAXIMIZE"})})
    t = time.perf_counter()
    for c in range(children):
        child = sweep.child_run(name=f"child {c}")
        child.log("acc", ((c * 7919) % 10007) / 10007)
        child.complete()
    seed_children = time.perf_counter() - t
    sweep.complete()

    a = _first_view(ws.path, long.id)
    b = _first_view(ws.path, sweep.id)
    assert b["kids"] == children, b
    return [
        Row(
            f"first view of a {points:,}-point series ({a['drawn']:,} points drawn)",
            f"{fmt_time(a['seconds'])}; memory: {_mib(a['peak'])} peak while building, process {_mib(a['rss'])}",
            "",
            "≤ 1 s",
            a["seconds"] <= 1.0,
        ),
        Row(
            f"first view of a {children:,}-child sweep (child table and per-child chart)",
            f"{fmt_time(b['seconds'])}; memory: {_mib(b['peak'])} peak while building, process {_mib(b['rss'])}",
            f"(seeding {children:,} children through the SDK took {seed_children:.1f} s)",
            "≤ 2 s",
            b["seconds"] <= 2.0,
        ),
    ]
