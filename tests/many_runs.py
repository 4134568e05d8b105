"""An experiment of many runs, written through the store's own API (no run threads): for the runs table's
scale test and `make bench`. Run i has accuracy i/n (so the best is the last), loss, and a --lr."""

from __future__ import annotations

import json
import time
import uuid

from runwidgets.store.base import COMPLETED, SCALAR, PointBatch, RunRecord, SeriesKey


def seed_runs(store, experiment: str, n: int, points: int = 3) -> list[str]:
    store.create_experiment(experiment)
    now = time.time() - n
    ids = []
    for i in range(n):
        rec = store.create_run(
            RunRecord(
                run_id=f"{experiment}_{uuid.uuid4().hex[:12]}", experiment=experiment, parent_id=None,
                name=f"run {i:05d}", status=COMPLETED, created=now + i, started=now + i, ended=now + i + 0.5,
                properties={"hyperparameters": json.dumps({"--lr": round(10 ** -(1 + i % 4), 6)})},
            )
        )  # fmt: skip
        acc = i / n
        batches = [
            PointBatch(SeriesKey(rec.run_id, "accuracy", SCALAR), [acc * k / points for k in range(1, points + 1)],
                       list(range(points)), [now + i] * points),
            PointBatch(SeriesKey(rec.run_id, "loss", SCALAR), [1 - acc], [None], [now + i]),
        ]  # fmt: skip
        store.write_points(rec.run_id, batches, {})
        ids.append(rec.run_id)
    return ids
