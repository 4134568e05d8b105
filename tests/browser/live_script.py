# Logs until STOP_FILE appears; prints a script tag and logs a metric named like an XSS payload.
import os
import time

from runwidgets import Run

run = Run.get_context()
xss = '<img src=x onerror="window.__rw_xss=1">'
run.log(xss, 1.0)
run.log(xss, 2.0)
print("<script>window.__rw_xss=2</script>", flush=True)
labels = ["cat", "dog", "<b>bird</b>"]
run.log_confusion_matrix(
    "confusion",
    {
        "schema_type": "confusion_matrix",
        "data": {"class_labels": labels, "matrix": [[41, 6, 3], [4, 38, 8], [2, 5, 43]]},
    },
)
table = [[[50 - 5 * t, 100 - 10 * t, 10 * t, 5 * t] for t in range(11)] for _ in range(2)]
thresholds = [t / 10 for t in range(11)]
run.log_accuracy_table(
    "accuracy_table",
    {
        "data": {
            "class_labels": ["neg", "pos"],
            "probability_tables": table,
            "percentile_tables": table,
            "probability_thresholds": thresholds,
            "percentile_thresholds": thresholds,
        }
    },
)
stop = os.environ["STOP_FILE"]
t0, i = time.time(), 0
while not os.path.exists(stop) and time.time() - t0 < 240:
    run.log("loss", 1.0 / (i + 1), step=i)
    print(f"epoch {i} loss {1 / (i + 1):.4f}", flush=True)
    i += 1
    time.sleep(0.1)
print("training done", flush=True)
