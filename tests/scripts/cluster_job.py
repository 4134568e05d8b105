"""A script run on a cluster's worker: records its process ancestry and host, then logs STEPS steps."""

import json
import os
import socket
import time

import psutil

from runwidgets import Run

run = Run.get_context()
ancestry = [p.pid for p in psutil.Process().parents()]
run.log("ancestry", json.dumps(ancestry))
run.log("host", socket.gethostname())
run.log("cwd", os.getcwd())
print("ancestry", json.dumps(ancestry), flush=True)
for i in range(int(os.environ.get("STEPS", "4"))):
    run.log("loss", 1.0 / (i + 1))
    print(f"step {i}", flush=True)
    time.sleep(float(os.environ.get("SLEEP", "0.3")))
print("done", flush=True)
