# Logs until STOP_FILE appears; prints a script tag and logs a metric named like an XSS payload.
import os
import time

from runwidgets import Run

run = Run.get_context()
xss = '<img src=x onerror="window.__rw_xss=1">'
run.log(xss, 1.0)
run.log(xss, 2.0)
print("<script>window.__rw_xss=2</script>", flush=True)
stop = os.environ["STOP_FILE"]
t0, i = time.time(), 0
while not os.path.exists(stop) and time.time() - t0 < 240:
    run.log("loss", 1.0 / (i + 1), step=i)
    print(f"epoch {i} loss {1 / (i + 1):.4f}", flush=True)
    i += 1
    time.sleep(0.1)
print("training done", flush=True)
