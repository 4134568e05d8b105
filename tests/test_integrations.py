"""Searches run by Optuna and scikit-learn, recorded as sweeps and shown in the cockpit."""

import json

import numpy as np
import pytest
from studies import median_pruned_study

from runwidgets import RunDetails
from runwidgets.integrations import OptunaCallback, log_search

optuna = pytest.importorskip("optuna")


def test_optuna_study_with_a_median_pruner(exp):
    parent = exp.start_logging()
    study = median_pruned_study(parent)
    kids = parent.get_children()
    assert len(kids) == 20
    by_number = {int(k.get_properties()["trial_number"]): k for k in kids}
    pruned = [t for t in study.trials if t.state == optuna.trial.TrialState.PRUNED]
    assert pruned, "the pruner stopped no trial: the test's curves need changing"
    for t in study.trials:
        k = by_number[t.number]
        assert json.loads(k.get_properties()["hyperparameters"]) == t.params
        series = k.get_metrics()["accuracy"]
        series = series if isinstance(series, list) else [series]
        assert series[: len(t.intermediate_values)] == [t.intermediate_values[s] for s in sorted(t.intermediate_values)]
        if t.state == optuna.trial.TrialState.PRUNED:
            err = k.get_details()["error"]
            assert k.get_status() == "Canceled" and err["code"] == "EarlyTermination"
            assert "MedianPruner pruned the trial at step" in err["message"]
        else:
            assert k.get_status() == "Completed" and series[-1] == t.value
    best = parent.get_tags()["best_child_run_id"]
    assert by_number[study.best_trial.number].id == best
    from runwidgets.submit.sweep import HyperDriveRun

    sweep = HyperDriveRun(exp, parent.id)
    assert sweep.get_best_run_by_primary_metric().id == best  # the one ranking rule
    view = RunDetails(parent)
    try:
        _ = view.widget
        assert view.panels.children["best"] == best
        assert view.panels.children["progress"]["stopped"] == len(pruned)
        curves = view._curves
        assert len(curves.stops.x) == len(pruned) and np.asarray(curves.cutoff.y).size == 0  # no cutoff stated
        assert list(view._parallel.names.text) == ["lr (log)", "layers", "accuracy"]
    finally:
        parent.complete()
        view.close()
    with pytest.raises(ValueError, match="already ranks"):
        OptunaCallback(parent, metric_name="loss")(optuna.create_study(direction="minimize"), study.trials[0])


def test_grid_search_cv_of_twelve_candidates(exp):
    from sklearn.datasets import load_iris
    from sklearn.model_selection import GridSearchCV
    from sklearn.svm import SVC

    X, y = load_iris(return_X_y=True)
    grid = {
        "C": np.logspace(-2, 1, 4),
        "kernel": np.array(["linear", "rbf", "poly"]),
    }  # numpy values, as grids often are
    search = GridSearchCV(SVC(), grid, cv=4).fit(X, y)
    parent = exp.start_logging()
    kids = log_search(search, run=parent)
    assert len(kids) == 12
    results = search.cv_results_
    for i, k in enumerate(kids):
        m = k.get_metrics()
        assert m["mean_test_score"] == pytest.approx(results["mean_test_score"][i])
        assert m["split_test_score"] == pytest.approx([results[f"split{f}_test_score"][i] for f in range(4)])
        assert json.loads(k.get_properties()["hyperparameters"]) == results["params"][i]
        assert k.get_properties()["rank"] == str(results["rank_test_score"][i]) and k.get_status() == "Completed"
    best = parent.get_tags()["best_child_run_id"]
    assert kids[int(np.argmin(results["rank_test_score"]))].id == best  # rank 1 marked best
    view = RunDetails(parent)
    try:
        _ = view.widget
        assert view.panels.children["best"] == best and view.panels.children["metric"] == "mean_test_score"
        assert view._parallel.drawn == 12 and list(view._parallel.names.text) == [
            "C (log)",
            "kernel",
            "mean_test_score",
        ]
    finally:
        parent.complete()
        view.close()


def test_halving_and_multi_metric_searches(exp):
    from sklearn.datasets import load_iris
    from sklearn.experimental import enable_halving_search_cv  # noqa: F401
    from sklearn.model_selection import HalvingGridSearchCV, RandomizedSearchCV
    from sklearn.tree import DecisionTreeClassifier

    X, y = load_iris(return_X_y=True)
    halving = HalvingGridSearchCV(DecisionTreeClassifier(random_state=0), {"max_depth": [1, 2, 3, 4]}, cv=3,
                                  min_resources=30, random_state=0).fit(X, y)  # fmt: skip
    parent = exp.start_logging()
    kids = log_search(halving, run=parent)
    assert len(kids) == len(halving.cv_results_["params"]) and "iter" in kids[-1].get_properties()
    parent.complete()
    multi = RandomizedSearchCV(DecisionTreeClassifier(random_state=0), {"max_depth": [1, 2, 3, 4, 5]}, n_iter=4,
                               scoring=["accuracy", "f1_macro"], refit="f1_macro", cv=3, random_state=0).fit(X, y)  # fmt: skip
    other = exp.start_logging()
    kids = log_search(multi, run=other)
    assert json.loads(other.get_properties()["primary_metric_config"])["name"] == "mean_test_f1_macro"
    assert "mean_test_accuracy" in kids[0].get_metrics() and "split_test_f1_macro" in kids[0].get_metrics()
    other.complete()
    with pytest.raises(ValueError, match="fitted"):
        log_search(RandomizedSearchCV(DecisionTreeClassifier(), {"max_depth": [1]}), run=exp.start_logging())
