"""The AutoML driver: ``python -m runwidgets.automl.driver``, run by the supervisor in the parent's snapshot.

FLAML searches; we record. FLAML appends each trial to its log file
(``log_type="all"``) as the trial ends; a thread here reads that file every
half second and makes each new trial a child run: its algorithm, its
hyperparameters, every metric of the task (computed by our metric function,
which FLAML calls on each validation fold and averages) and its duration.
The parent's tags follow the best so far. The best model, refit by FLAML,
is saved as the best child's ``outputs/model.pkl``.
"""

from __future__ import annotations

import io
import json
import logging
import pickle
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from ..ranking import MAXIMIZE
from . import metrics as M
from .config import ALGORITHM, FLAML_LOG, SETTINGS, TRAINING, VALIDATION

POLL_SECONDS = 0.5


class Recorder:
    """Makes each trial FLAML logged a child run of ``parent``, in order, as the log grows."""

    def __init__(self, parent: Any, log: Path, primary: str, goal: str, started: float) -> None:
        self.parent, self.log, self.primary, self.goal, self.started = parent, log, primary, goal, started
        self.offset = 0
        self.best: tuple[float, str, int] | None = None  # (value, child id, iteration)
        self.children: dict[int, str] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="runwidgets-automl-recorder", daemon=True)

    def start(self) -> None:
        print(f"{'ITERATION':>10}  {'PIPELINE':<28}{'DURATION':>10}{'METRIC':>12}{'BEST':>12}", flush=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        self.poll()  # what the last trial wrote

    def _loop(self) -> None:
        while not self._stop.wait(POLL_SECONDS):
            try:
                self.poll()
            except Exception as e:  # a record we cannot read must not end the search
                logging.getLogger("runwidgets.automl").warning("could not record a trial: %s", e)

    def poll(self) -> None:
        if not self.log.is_file():
            return
        with open(self.log, encoding="utf-8") as f:
            f.seek(self.offset)
            text = f.read()
        complete = text[: text.rfind("\n") + 1]  # a line still being written waits for the next poll
        self.offset += len(complete.encode("utf-8"))
        for line in complete.splitlines():
            record = json.loads(line) if line.strip() else {}
            if "record_id" in record and record["record_id"] not in self.children:
                self.record(record)

    def record(self, r: dict) -> None:
        i = int(r["record_id"])
        learner = str(r["learner"])
        algorithm = ALGORITHM.get(learner, learner)
        logged = r.get("logged_metric")
        logged = logged if isinstance(logged, dict) else {}
        values = {k: float(v) for k, v in logged.items() if M.goal_of(k) and np.isfinite(v)}
        score = values.get(self.primary)
        child = self.parent.child_run(name=f"{algorithm} (iteration {i})", run_id=f"{self.parent.id}_{i}")
        props = {"iteration": str(i), "run_algorithm": algorithm, "learner": learner, "primary_metric": self.primary,
                 "hyperparameters": json.dumps(r.get("config") or {}), "sample_size": str(r.get("sample_size", ""))}  # fmt: skip
        if score is not None:
            props["score"] = f"{score:.6g}"
        child.add_properties(props)
        for name, v in values.items():
            child.log(name, v)
        duration = float(r.get("trial_time") or 0.0)
        child.log("duration_seconds", duration)
        child.complete()
        ended = self.started + float(r.get("wall_clock_time") or 0.0)
        child._store.update_run(child.id, started=ended - duration, ended=ended)
        self.children[i] = child.id
        if score is not None and (self.best is None or (score > self.best[0]) == (self.goal == MAXIMIZE)):
            if self.best is None or score != self.best[0]:
                self.best = (score, child.id, i)
                self.parent.set_tags({
                    "best_child_run_id": child.id, "best_primary_metric": f"{score:.6g}",
                    "primary_metric": self.primary, "best_iteration": str(i), "best_algorithm": algorithm,
                })  # fmt: skip
        best = "" if self.best is None else f"{self.best[0]:.4f}"
        metric = "" if score is None else f"{score:.4f}"
        took = time.strftime("%H:%M:%S", time.gmtime(duration)) if duration >= 60 else f"{duration:.1f}s"
        print(f"{i:>10}  {algorithm:<28}{took:>10}{metric:>12}{best:>12}", flush=True)


def main() -> int:
    import pandas as pd
    from flaml import AutoML

    from ..tracking.run import Run

    settings = json.loads(Path(SETTINGS).read_text())
    task, primary, label = settings["task"], settings["primary_metric"], settings["label_column_name"]
    goal = M.GOALS[task][primary]
    data = pd.read_pickle(TRAINING)
    X, y = data.drop(columns=[label]), data[label]
    parent = Run.get_context()
    y_range = float(np.ptp(y.to_numpy())) if task == M.REGRESSION else 0.0

    metric = M.TaskMetric(task, primary, y_range)

    fit: dict[str, Any] = {
        "task": task,
        "metric": metric,
        "estimator_list": settings["learners"],
        "max_iter": settings["iterations"],
        "time_budget": (settings["experiment_timeout_minutes"] or 0) * 60 or -1,
        "early_stop": settings["enable_early_stopping"],
        "n_jobs": settings["max_concurrent_iterations"],
        "log_file_name": FLAML_LOG,
        "log_type": "all",
        "verbose": 0,
        "retrain_full": True,
        "learner_selector": "roundrobin",  # every allowed model gets turns, as Azure's iterations did
    }
    if settings["random_seed"] is not None:
        fit["seed"] = settings["random_seed"]
    if settings["validation"]:
        val = pd.read_pickle(VALIDATION)
        fit.update(X_val=val.drop(columns=[label]), y_val=val[label], eval_method="holdout")
    elif settings["n_cross_validations"]:
        fit.update(eval_method="cv", n_splits=settings["n_cross_validations"])
    Path(FLAML_LOG).parent.mkdir(parents=True, exist_ok=True)
    print(f"AutoML on FLAML: {task}, primary metric {primary}, up to {settings['iterations']} iterations"
          f" with {', '.join(ALGORITHM.get(m, m) for m in settings['learners'])}", flush=True)  # fmt: skip
    recorder = Recorder(parent, Path(FLAML_LOG), primary, goal, time.time())
    recorder.start()
    automl = AutoML()
    try:
        automl.fit(X, y, **fit)
    finally:
        recorder.stop()
    if recorder.best is None:
        print("no iteration produced the primary metric; no model saved", flush=True)
        return 1
    _, best_id, iteration = recorder.best
    buf = io.BytesIO()
    pickle.dump(automl, buf)
    buf.seek(0)
    parent._store.put_file(best_id, "outputs/model.pkl", buf)
    print(f"best: iteration {iteration} ({best_id}); its model, refit on all training data: outputs/model.pkl",
          flush=True)  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
