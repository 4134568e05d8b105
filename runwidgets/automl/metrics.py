"""Azure ML's AutoML metric names, their goals, and how each is computed (scikit-learn does the maths).

Every iteration records the primary metric and the task's other metrics, so
the AutoML view can chart any of them. Names and meanings follow Azure's
"evaluate automated ML experiment results" page: ``norm_macro_recall`` is macro
recall rescaled so that chance is 0 and perfect is 1; the normalized errors
divide by the range of the label.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..ranking import MAXIMIZE, MINIMIZE

CLASSIFICATION = "classification"
REGRESSION = "regression"

# metric -> goal, per task; the first of each task is Azure's default primary metric
GOALS: dict[str, dict[str, str]] = {
    CLASSIFICATION: {
        "accuracy": MAXIMIZE,
        "AUC_weighted": MAXIMIZE,
        "average_precision_score_weighted": MAXIMIZE,
        "norm_macro_recall": MAXIMIZE,
        "precision_score_weighted": MAXIMIZE,
        "f1_score_macro": MAXIMIZE,
        "f1_score_weighted": MAXIMIZE,
        "balanced_accuracy": MAXIMIZE,
        "recall_score_macro": MAXIMIZE,
        "log_loss": MINIMIZE,
    },
    REGRESSION: {
        "spearman_correlation": MAXIMIZE,
        "normalized_root_mean_squared_error": MINIMIZE,
        "r2_score": MAXIMIZE,
        "normalized_mean_absolute_error": MINIMIZE,
        "root_mean_squared_error": MINIMIZE,
        "mean_absolute_error": MINIMIZE,
    },
}
PRIMARY = {  # what Azure accepts as primary_metric
    CLASSIFICATION: ("accuracy", "AUC_weighted", "average_precision_score_weighted", "norm_macro_recall",
                     "precision_score_weighted"),
    REGRESSION: ("spearman_correlation", "normalized_root_mean_squared_error", "r2_score",
                 "normalized_mean_absolute_error"),
}  # fmt: skip


def goal_of(name: str) -> str | None:
    """The goal of a known AutoML metric, whatever the task."""
    for goals in GOALS.values():
        if name in goals:
            return goals[name]
    return None


def scores_of(task: str, y_true: Any, y_pred: Any, proba: Any = None, labels: Any = None, y_range: float = 0.0) -> dict:
    """Every metric of ``task`` for one set of predictions (``proba``: class probabilities, columns in
    ``labels`` order). A metric that cannot be computed here (one class in a fold) is left out."""
    from sklearn import metrics as m

    y_true = np.asarray(y_true)
    y_pred = np.asarray(y_pred)
    out: dict[str, float] = {}
    if task == CLASSIFICATION:
        out["accuracy"] = m.accuracy_score(y_true, y_pred)
        out["balanced_accuracy"] = m.balanced_accuracy_score(y_true, y_pred)
        out["f1_score_macro"] = m.f1_score(y_true, y_pred, average="macro", zero_division=0)
        out["f1_score_weighted"] = m.f1_score(y_true, y_pred, average="weighted", zero_division=0)
        out["precision_score_weighted"] = m.precision_score(y_true, y_pred, average="weighted", zero_division=0)
        recall = m.recall_score(y_true, y_pred, average="macro", zero_division=0)
        out["recall_score_macro"] = recall
        k = len(labels) if labels is not None else len(np.unique(y_true))
        out["norm_macro_recall"] = max(0.0, (recall - 1 / k) / (1 - 1 / k)) if k > 1 else 0.0
        if proba is not None and labels is not None and len(np.unique(y_true)) > 1:
            p = np.asarray(proba, dtype=np.float64)
            lab = list(labels)
            out["log_loss"] = m.log_loss(y_true, p, labels=lab)
            if len(lab) == 2:
                pos = p[:, 1]
                out["AUC_weighted"] = m.roc_auc_score(y_true, pos)
                out["average_precision_score_weighted"] = m.average_precision_score(y_true == lab[1], pos)
            else:
                try:
                    out["AUC_weighted"] = m.roc_auc_score(y_true, p, average="weighted", multi_class="ovr", labels=lab)
                    onehot = np.stack([y_true == c for c in lab], axis=1)
                    out["average_precision_score_weighted"] = m.average_precision_score(onehot, p, average="weighted")
                except ValueError:
                    pass  # a class absent from this fold
    else:
        from scipy.stats import spearmanr

        rmse = float(np.sqrt(m.mean_squared_error(y_true, y_pred)))
        mae = m.mean_absolute_error(y_true, y_pred)
        span = y_range or float(np.ptp(y_true)) or 1.0
        out["r2_score"] = m.r2_score(y_true, y_pred)
        out["root_mean_squared_error"] = rmse
        out["mean_absolute_error"] = mae
        out["normalized_root_mean_squared_error"] = rmse / span
        out["normalized_mean_absolute_error"] = mae / span
        rho = spearmanr(y_true, y_pred).statistic
        if np.isfinite(rho):
            out["spearman_correlation"] = float(rho)
    return {k: float(v) for k, v in out.items()}


def loss(name: str, value: float) -> float:
    """What FLAML minimizes for a metric: the value itself, or its negation when higher is better."""
    return -value if goal_of(name) == MAXIMIZE else value


WORST = 1e12  # FLAML's loss for a trial whose primary metric could not be computed


class TaskMetric:
    """FLAML's custom metric: every metric of the task on a validation fold; the loss from the primary.

    A class of an importable module, not a closure or the driver's ``__main__``: the fitted AutoML object
    keeps it, and its pickle is loaded in other processes."""

    def __init__(self, task: str, primary: str, y_range: float) -> None:
        self.task, self.primary, self.y_range = task, primary, y_range

    def __call__(self, X_val, y_val, estimator, labels, X_train, y_train, *args, **kwargs) -> tuple[float, dict]:
        pred = estimator.predict(X_val)
        proba = estimator.predict_proba(X_val) if self.task == CLASSIFICATION else None
        scores = scores_of(self.task, y_val, pred, proba, labels=labels, y_range=self.y_range)
        value = loss(self.primary, scores[self.primary]) if self.primary in scores else WORST
        return value, scores
