"""Several processes writing one workspace while a reader polls; a writer killed mid-run."""

import os
import signal
import subprocess
import sys
import time

import numpy as np

from runwidgets import Experiment, Run
from runwidgets.store.sqlite import SqliteStore

WRITER = """
import sys
from runwidgets import Workspace, Experiment, Run
ws = Workspace(sys.argv[1])
parent = Run(Experiment(ws, "multi"), sys.argv[2])
child = parent.child_run(name="writer-" + sys.argv[3])
for i in range(int(sys.argv[4])):
    child.log("x", float(i), step=i)
    if i % 5000 == 0:
        child.tag("progress", str(i))
child.complete()
"""


def test_four_writers_while_a_reader_polls(ws, tmp_path):
    parent = Experiment(ws, "multi").start_logging()
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    n = 50_000
    env = {**os.environ, "RUNWIDGETS_FLUSH_INTERVAL": "0.2"}
    procs = [
        subprocess.Popen(
            [sys.executable, str(script), str(ws.path), parent.id, str(k), str(n)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for k in range(4)
    ]
    reader = SqliteStore(ws.path)
    cursor, seen, polls = None, {}, 0
    while any(p.poll() is None for p in procs) or polls == 0:
        delta, cursor = reader.read_since([parent.id], cursor)
        for ch in delta.series:
            assert ch.first_index == seen.get(ch.key.run_id, 0)  # contiguous, nothing skipped
            seen[ch.key.run_id] = ch.first_index + len(ch)
        polls += 1
        time.sleep(0.05)
    delta, cursor = reader.read_since([parent.id], cursor)
    for ch in delta.series:
        seen[ch.key.run_id] = ch.first_index + len(ch)
    for p in procs:
        out, err = p.communicate()
        assert p.returncode == 0, err
        assert "Error" not in err and "Traceback" not in err, err
    kids = parent.get_children()
    assert len(kids) == 4 and all(k.get_status() == "Completed" for k in kids)
    assert sorted(seen.values()) == [n] * 4
    for k in kids:
        xs = k.get_metrics()["x"]
        assert xs == [float(i) for i in range(n)]
    assert polls > 3


KILLED = """
import sys, time
from runwidgets import Workspace, Experiment
run = Experiment(Workspace(sys.argv[1]), "kill").start_logging()
print(run.id, flush=True)
i = 0
while True:
    run.log("i", float(i))
    if i % 1000 == 0:
        print(i, time.time(), flush=True)
        time.sleep(0.01)
    i += 1
"""


def test_sigkill_loses_at_most_the_last_flush_interval(ws, tmp_path):
    script = tmp_path / "killed.py"
    script.write_text(KILLED)
    interval = 0.5
    env = {**os.environ, "RUNWIDGETS_FLUSH_INTERVAL": str(interval)}
    p = subprocess.Popen([sys.executable, str(script), str(ws.path)], env=env, stdout=subprocess.PIPE, text=True)
    run_id = p.stdout.readline().strip()
    marks = []
    deadline = time.time() + 3
    while time.time() < deadline:
        i, t = p.stdout.readline().split()
        marks.append((int(i), float(t)))
    killed_at = time.time()
    os.kill(p.pid, signal.SIGKILL)
    p.wait()
    p.stdout.close()
    # every point logged more than two flush intervals before the kill must be there
    safe = max(i for i, t in marks if t < killed_at - 2 * interval)
    got = Run(Experiment(ws, "kill"), run_id).get_metrics()["i"]
    assert len(got) > safe
    assert np.array_equal(got[: safe + 1], np.arange(safe + 1, dtype=float))
    rec = ws.store.get_run(run_id)
    assert rec.status == "Running"  # recorded as live; the heartbeat tells readers it is not
    assert rec.is_lost(now=time.time() + 60)
