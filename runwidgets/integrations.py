"""Searches run elsewhere, recorded as sweeps: an Optuna study, a scikit-learn ``*SearchCV``.

Each trial or candidate becomes a child run of a parent that carries the
primary metric and its goal, exactly as a HyperDrive sweep does, so
``RunDetails`` shows it in the sweep cockpit and ``get_best_run_by_primary_metric``
ranks it with the same rule.

    study.optimize(objective, n_trials=50, callbacks=[OptunaCallback(run)])
    log_search(GridSearchCV(...).fit(X, y), run=run)
"""

from __future__ import annotations

import json
import math
from typing import Any

from .ranking import MAXIMIZE, MINIMIZE, best_value
from .store.base import CANCELED, COMPLETED, FAILED


def _primary(parent: Any, metric: str, goal: str, total: int | None) -> None:
    """Make ``parent`` a sweep parent (once): its primary metric, goal and planned size."""
    props = parent.get_properties()
    config = json.dumps({"name": metric, "goal": goal})
    new = {}
    if "primary_metric_config" not in props:
        new["primary_metric_config"] = config
    elif props["primary_metric_config"] != config:
        raise ValueError(
            f"run {parent.id} already ranks its children by {props['primary_metric_config']}; record this search"
            " under another run"
        )
    if total and "max_total_runs" not in props:
        new["max_total_runs"] = str(total)
    if new:
        parent.add_properties(new)


def _best_tags(parent: Any, child: Any, metric: str, goal: str, value: float | None) -> None:
    if value is None or not math.isfinite(value):
        return
    tags = parent.get_tags()
    old = tags.get("best_primary_metric")
    try:
        better = old is None or (value > float(old) if goal == MAXIMIZE else value < float(old))
    except ValueError:
        better = True
    if better:
        parent.set_tags(
            {"best_child_run_id": child.id, "best_primary_metric": f"{value:.6g}", "primary_metric": metric}
        )


def _end(child: Any, status: str, started: float | None, ended: float | None, error: dict | None = None) -> None:
    """End a child as the search said, then give it the search's own start and end times."""
    child._finish(status, error)
    times = {k: v for k, v in (("started", started), ("ended", ended)) if v}
    if times:
        child._store.update_run(child.id, **times)


class OptunaCallback:
    """Record each finished trial of an Optuna study as a child run of ``run``.

    The trial's params become the child's hyperparameters, its intermediate
    values (``trial.report``) the series ``metric_name`` by step, and its value
    the last point. A pruned trial ends ``Canceled`` with an ``EarlyTermination``
    error naming the pruner and the step; a failed one ends ``Failed``.
    ``n_trials``, when given, is the planned total shown as progress.
    """

    def __init__(self, run: Any, metric_name: str = "value", n_trials: int | None = None) -> None:
        if not hasattr(run, "child_run"):
            raise TypeError(f"OptunaCallback needs a runwidgets Run as the parent, got {type(run).__name__}")
        self.run, self.metric_name, self.n_trials = run, metric_name, n_trials

    def __call__(self, study: Any, trial: Any) -> None:
        from optuna.study import StudyDirection
        from optuna.trial import TrialState

        if len(study.directions) > 1:
            raise ValueError("OptunaCallback records single-objective studies: this one has several objectives")
        goal = MAXIMIZE if study.direction == StudyDirection.MAXIMIZE else MINIMIZE
        _primary(self.run, self.metric_name, goal, self.n_trials)
        child = self.run.child_run(name=f"trial {trial.number}")
        child.add_properties({
            "hyperparameters": json.dumps({k: _plain(v) for k, v in trial.params.items()}),
            "trial_number": str(trial.number), "study_name": study.study_name,
        })  # fmt: skip
        steps = sorted(trial.intermediate_values)
        for step in steps:
            child.log(self.metric_name, float(trial.intermediate_values[step]), step=int(step))
        if trial.state == TrialState.COMPLETE and trial.value is not None:
            child.log(self.metric_name, float(trial.value), step=int(steps[-1]) + 1 if steps else 0)
        for key, value in trial.user_attrs.items():
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                child.log(key, value)
        started = trial.datetime_start.timestamp() if trial.datetime_start else None
        ended = trial.datetime_complete.timestamp() if trial.datetime_complete else None
        if trial.state == TrialState.PRUNED:
            last = steps[-1] if steps else None
            value = float(trial.intermediate_values[last]) if last is not None else math.nan
            pruner = type(study.pruner).__name__
            message = (f"{pruner} pruned the trial at step {last}: {self.metric_name} {value:.6g}" if last is not None
                       else f"{pruner} pruned the trial before it reported a value")  # fmt: skip
            error = {"code": "EarlyTermination", "message": message, "policy": pruner,
                     "interval": len(steps), "value": value}  # fmt: skip
            _end(child, CANCELED, started, ended, error)
        elif trial.state == TrialState.COMPLETE:
            _end(child, COMPLETED, started, ended)
        else:
            _end(child, FAILED, started, ended, {"code": "TrialFailed", "message": f"trial ended {trial.state.name}"})
        values = [trial.intermediate_values[s] for s in steps] + ([trial.value] if trial.value is not None else [])
        _best_tags(self.run, child, self.metric_name, goal, best_value(values, goal) if values else None)


def log_search(search: Any, run: Any, metric: str | None = None) -> list[Any]:
    """Record a fitted ``GridSearchCV``, ``RandomizedSearchCV`` or halving search: one child per candidate.

    Each child gets the candidate's parameters, its mean and standard deviation of
    the test score, each fold's test score (a series by fold), its fit time and
    its rank. With several scorers, ``metric`` (default: the one ``refit`` names)
    ranks them. Returns the children, in ``cv_results_`` order.
    """
    results = getattr(search, "cv_results_", None)
    if results is None:
        raise ValueError(
            f"log_search needs a fitted search; {type(search).__name__} has no cv_results_ (call fit first)"
        )
    scorers = sorted(k[len("mean_test_") :] for k in results if k.startswith("mean_test_"))
    if metric is None:
        refit = search.refit if isinstance(search.refit, str) else None
        metric = refit or ("score" if "score" in scorers else scorers[0])
    if metric not in scorers:
        raise ValueError(f"metric {metric!r} is not one of the search's scorers: {', '.join(scorers)}")
    primary = f"mean_test_{metric}"
    n = len(results["params"])
    _primary(run, primary, MAXIMIZE, n)  # scikit-learn's scores are higher-is-better
    folds = sorted(int(k[5 : k.index("_")]) for k in results if k.startswith("split") and k.endswith(f"_test_{metric}"))
    children = []
    for i in range(n):
        child = run.child_run(name=f"candidate {i}")
        props = {"hyperparameters": json.dumps({k: _plain(v) for k, v in results["params"][i].items()}),
                 "candidate": str(i), "rank": str(int(results[f"rank_test_{metric}"][i]))}  # fmt: skip
        for extra in ("iter", "n_resources"):  # the halving searches
            if extra in results:
                props[extra] = str(int(results[extra][i]))
        child.add_properties(props)
        for name in scorers:
            child.log(f"mean_test_{name}", float(results[f"mean_test_{name}"][i]))
            child.log(f"std_test_{name}", float(results[f"std_test_{name}"][i]))
        child.log_list(f"split_test_{metric}", [float(results[f"split{k}_test_{metric}"][i]) for k in folds])
        child.log("mean_fit_time", float(results["mean_fit_time"][i]))
        value = float(results[primary][i])
        if math.isfinite(value):
            _end(child, COMPLETED, None, None)
        else:  # error_score=nan: the fit failed on some fold
            _end(child, FAILED, None, None, {"code": "FitFailed", "message": f"{primary} is {value}: a fit failed"})
        _best_tags(run, child, primary, MAXIMIZE, value)
        children.append(child)
    return children


def _plain(v: Any) -> Any:
    """A parameter value as JSON can hold it (an estimator or a numpy number as its text or number)."""
    if hasattr(v, "item") and not isinstance(v, (list, dict)):
        try:
            return v.item()
        except (TypeError, ValueError):
            pass
    return v if isinstance(v, (str, int, float, bool)) or v is None else str(v)
