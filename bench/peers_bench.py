"""runwidgets beside trackio, Aim and tensorboardX: the same series logged and read back by each.

Each tool runs in a process of its own (they start threads and caches of their own), in a
folder of its own, logging one metric with a step: the cost per call until every point is
written, the points per second that makes, and the time to read the whole series back.
A tool that is not installed is reported as such (pip install trackio aim tensorboardX).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from .common import Row, fmt_rate, fmt_time

SCRIPT = r"""
import json, os, sys, time
tool, folder, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
os.environ["TRACKIO_DIR"] = os.path.join(folder, "trackio")
out = {}

if tool == "runwidgets":
    from runwidgets import Experiment, Workspace
    ws = Workspace(os.path.join(folder, "ws"))
    run = Experiment(ws, "bench").start_logging()
    log = run.log
    t = time.perf_counter()
    for i in range(n):
        log("loss", 1.0 / (i + 1), step=i)
    run.complete()
    out["write"] = time.perf_counter() - t
    t = time.perf_counter()
    (series,) = ws.store.read_series(run.id, "loss")
    got = len(series.values)
    out["read"] = time.perf_counter() - t

elif tool == "trackio":
    import trackio
    trackio.init(project="bench", name="run", embed=False)
    t = time.perf_counter()
    for i in range(n):
        trackio.log({"loss": 1.0 / (i + 1)}, step=i)
    trackio.finish()
    out["write"] = time.perf_counter() - t
    from trackio.sqlite_storage import SQLiteStorage
    t = time.perf_counter()
    got = len(SQLiteStorage.get_logs("bench", "run"))
    out["read"] = time.perf_counter() - t

elif tool == "aim":
    from aim import Repo, Run
    repo = os.path.join(folder, "aim")
    os.makedirs(repo)
    run = Run(repo=repo, experiment="bench")
    t = time.perf_counter()
    for i in range(n):
        run.track(1.0 / (i + 1), name="loss", step=i)
    run.close()
    out["write"] = time.perf_counter() - t
    t = time.perf_counter()
    got = 0
    for r in Repo(repo).iter_runs():
        metric = r.get_metric("loss", context={})
        got += len(metric.values.values_list())
    out["read"] = time.perf_counter() - t

elif tool == "tensorboardX":
    import struct
    from tensorboardX import SummaryWriter
    from tensorboardX.proto import event_pb2
    logdir = os.path.join(folder, "tb")
    writer = SummaryWriter(logdir)
    t = time.perf_counter()
    for i in range(n):
        writer.add_scalar("loss", 1.0 / (i + 1), i)
    writer.close()
    out["write"] = time.perf_counter() - t
    t = time.perf_counter()
    got = 0
    for name in os.listdir(logdir):  # TFRecords: length, crc, event, crc
        data = open(os.path.join(logdir, name), "rb").read()
        pos = 0
        while pos < len(data):
            (length,) = struct.unpack("<Q", data[pos : pos + 8])
            event = event_pb2.Event.FromString(data[pos + 12 : pos + 12 + length])
            got += sum(1 for v in event.summary.value if v.tag == "loss")
            pos += 12 + length + 4
    out["read"] = time.perf_counter() - t

out["points"] = got
print(json.dumps(out))
"""

TOOLS = ("runwidgets", "trackio", "aim", "tensorboardX")
IMPORTS = {"runwidgets": "runwidgets", "trackio": "trackio", "aim": "aim", "tensorboardX": "tensorboardX"}


def _measure(tool: str, folder: Path, n: int) -> dict | str:
    folder.mkdir(parents=True, exist_ok=True)
    try:
        p = subprocess.run(
            [sys.executable, "-c", SCRIPT, tool, str(folder), str(n)], capture_output=True, text=True, timeout=900
        )
    except subprocess.TimeoutExpired:
        return "over 15 min"
    if p.returncode != 0:
        missing = f"No module named '{IMPORTS[tool]}'" in p.stderr
        return "not installed" if missing else f"failed: {p.stderr.strip().splitlines()[-1][:80]}"
    return json.loads(p.stdout.strip().splitlines()[-1])


def run(tmp: Path, quick: bool) -> list[Row]:
    n = 20_000 if quick else 200_000
    results = {tool: _measure(tool, tmp / tool, n) for tool in TOOLS}

    def cells(key, fmt):  # a tool that failed or is missing says so in every row
        return {t: (fmt(r) if isinstance(r, dict) else r) for t, r in results.items()}

    per_call = cells("write", lambda r: fmt_time(r["write"] / n))
    rate = cells("write", lambda r: fmt_rate(n / r["write"]))
    read = cells(
        "read",
        lambda r: fmt_time(r["read"]) if r["points"] == n else f"{r['points']:,} of {n:,} points read back",
    )

    def peers(d):
        return " · ".join(f"{t} {v}" for t, v in d.items() if t != "runwidgets")

    return [
        Row(
            f"peers: log() per call with a step, {n:,} calls until all are written",
            per_call["runwidgets"],
            peers(per_call),
        ),
        Row("peers: points/s to disk (the same calls)", rate["runwidgets"], peers(rate)),
        Row(f"peers: read the whole {n:,}-point series back", read["runwidgets"], peers(read)),
    ]
