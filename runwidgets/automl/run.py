"""AutoMLRun: the parent run of an AutoML search, with Azure v1's ``get_output`` and ``get_best_child``."""

from __future__ import annotations

import io
import pickle
import tempfile
from pathlib import Path
from typing import Any

from .. import ranking
from ..store.base import COMPLETED
from ..tracking.run import Run
from . import metrics as M
from .config import FLAML_LOG, SETTINGS, TRAINING

MODEL = "outputs/model.pkl"


class AutoMLRun(Run):
    """An AutoML parent: each child is one iteration (one algorithm with one set of hyperparameters)."""

    def _iterations(self) -> list[Run]:
        return [c for c in self.get_children() if "iteration" in c.get_properties()]

    def get_best_child(self, metric: str | None = None, onnx_compatible: bool = False) -> Run:
        """The completed iteration with the best ``metric`` (the primary metric when None)."""
        if onnx_compatible:
            raise ValueError("onnx_compatible=True: ONNX models are not made here")
        name, goal = self._metric(metric)
        kids = [c for c in self._iterations() if c.get_status() == COMPLETED]
        metrics = [(c.get_metrics(), c) for c in kids]  # one read per child
        values = [(ranking.best_value(m[name], goal) if name in m else None, c) for m, c in metrics]
        ranked = ranking.ranked(values, goal)
        if not ranked or ranked[0][0] is None:
            raise ValueError(f"no completed iteration of run {self.id} has the metric {name!r} yet")
        return ranked[0][1]

    def get_output(self, metric: str | None = None, iteration: int | None = None, **kwargs: Any) -> tuple[Run, Any]:
        """``(best_run, fitted_model)``: by the primary metric, by another ``metric``, or one ``iteration``.

        The model is a scikit-learn-compatible estimator (``predict``, and ``predict_proba`` for
        classification) that takes data shaped like the training data, label column left out. The best
        iteration's is saved by the search; another is refit from FLAML's log on the training data the
        first time it is asked for, then saved as that child's ``outputs/model.pkl``.
        """
        if kwargs:
            raise TypeError(f"get_output() got unexpected arguments {sorted(kwargs)}")
        if metric is not None and iteration is not None:
            raise ValueError("get_output takes metric= or iteration=, not both")
        if iteration is not None:
            found = [c for c in self._iterations() if c.get_properties().get("iteration") == str(iteration)]
            if not found:
                raise ValueError(f"run {self.id} has no iteration {iteration}")
            child = found[0]
        else:
            child = self.get_best_child(metric)
        if MODEL in child.get_file_names():
            return child, pickle.loads(self._store.read_file(child.id, MODEL))
        model = self._refit(int(child.get_properties()["iteration"]))
        buf = io.BytesIO()
        pickle.dump(model, buf)
        buf.seek(0)
        self._store.put_file(child.id, MODEL, buf)
        return child, model

    def _metric(self, metric: str | None) -> tuple[str, str]:
        if metric is None:
            cfg = ranking.primary_config(self.get_properties())
            if cfg is None:
                raise ValueError(f"run {self.id} has no primary metric recorded")
            return cfg
        goal = M.goal_of(metric)
        if goal is None:
            raise ValueError(
                f"{metric!r} is not an AutoML metric; use one of {', '.join(sorted(M.GOALS[M.CLASSIFICATION]) + sorted(M.GOALS[M.REGRESSION]))}"
            )
        return metric, goal

    def _refit(self, iteration: int) -> Any:
        import json

        import pandas as pd
        from flaml import AutoML

        from ..submit.config import snapshot_dir

        snap = snapshot_dir(self.experiment.workspace, self.id)
        settings = json.loads((snap / SETTINGS).read_text())
        data = pd.read_pickle(snap / TRAINING)
        label = settings["label_column_name"]
        with tempfile.TemporaryDirectory() as tmp:
            log = Path(tmp) / "trials.jsonl"
            log.write_bytes(self._store.read_file(self.id, FLAML_LOG))
            automl = AutoML()
            automl.retrain_from_log(
                str(log), X_train=data.drop(columns=[label]), y_train=data[label], task=settings["task"],
                record_id=iteration, train_full=True, n_jobs=settings["max_concurrent_iterations"],
            )  # fmt: skip
        return automl
