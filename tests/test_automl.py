"""AutoML on FLAML with Azure v1's names: real searches on scikit-learn's data, as submitted runs."""

import json

import numpy as np
import pytest
from waiting import wait_until

pytest.importorskip("flaml")
from runwidgets.train.automl import AutoMLConfig  # noqa: E402 - Azure's spelling of the module
from sklearn.datasets import load_breast_cancer, load_diabetes  # noqa: E402


@pytest.fixture(scope="module")
def cancer():
    d = load_breast_cancer(as_frame=True).frame.sample(frac=1.0, random_state=0).reset_index(drop=True)
    return d.iloc[:450], d.iloc[450:]


def test_alias_is_the_module():
    import runwidgets.train.automl

    import runwidgets.automl

    assert runwidgets.train.automl is runwidgets.automl


def test_classification_on_breast_cancer(exp, cancer):
    train, test = cancer
    config = AutoMLConfig(
        task="classification",
        primary_metric="AUC_weighted",
        training_data=train,
        label_column_name="target",
        n_cross_validations=3,
        iterations=8,
        experiment_timeout_minutes=2,
        allowed_models=["LightGBM", "LogisticRegression", "RandomForest"],
        random_seed=1,
    )
    run = exp.submit(config, show_output=True)
    assert run.get_status() == "Completed" and run.type == "automl"
    kids = run.get_children()
    assert 2 <= len(kids) <= 8
    props = [k.get_properties() for k in kids]
    assert len({p["run_algorithm"] for p in props}) >= 2  # at least two algorithms tried
    values = {}
    for k, p in zip(kids, props):
        m = k.get_metrics()
        assert k.get_status() == "Completed" and "AUC_weighted" in m  # every iteration has its primary metric
        for name in ("accuracy", "f1_score_macro", "log_loss"):
            assert name in m
        assert 0 <= m["accuracy"] <= 1 and m["log_loss"] > 0
        assert json.loads(p["hyperparameters"]) and float(p["score"]) == pytest.approx(m["AUC_weighted"], rel=1e-5)
        assert k.get_details()["endTimeUtc"] and m["duration_seconds"] >= 0
        values[k.id] = m["AUC_weighted"]
    best, model = run.get_output()
    assert values[best.id] == max(values.values())
    assert run.get_tags()["best_child_run_id"] == best.id
    assert "outputs/model.pkl" in best.get_file_names()
    X, y = test.drop(columns=["target"]), test["target"].to_numpy()
    assert (model.predict(X) == y).mean() > 0.85  # held-out data
    proba = model.predict_proba(X)
    assert proba.shape == (len(X), 2) and np.allclose(proba.sum(axis=1), 1.0)
    by_accuracy, _ = run.get_output(metric="accuracy")
    assert by_accuracy.get_metrics()["accuracy"] == max(k.get_metrics()["accuracy"] for k in kids)
    first = min(kids, key=lambda k: int(k.get_properties()["iteration"]))
    again, refit = run.get_output(iteration=0)  # not the best: refit from FLAML's log, then kept
    assert again.id == first.id and (refit.predict(X) == y).mean() > 0.8
    assert "outputs/model.pkl" in again.get_file_names()
    from runwidgets import RunDetails

    view = RunDetails(run)
    try:
        _ = view.widget
        table = view.panels.children
        assert table["layout"] == "automl" and table["best"] == best.id
        assert {r["pipeline"] for r in table["rows"]} == {p["run_algorithm"] for p in props}
        assert sorted(r["iteration"] for r in table["rows"]) == list(range(len(kids)))
        assert table["progress"]["total"] == len(kids)  # ended: its iterations are the whole
        chart = view._child_chart
        assert list(chart.metric_picker.options)[0] == "AUC_weighted" and "accuracy" in chart.metric_picker.options
        chart.metric_picker.value = "log_loss"  # another metric, its best so far going down
        assert chart.lines.y.tolist()[-1] == min(k.get_metrics()["log_loss"] for k in kids)
    finally:
        view.close()


def test_regression_on_diabetes(exp):
    d = load_diabetes(as_frame=True).frame.sample(frac=1.0, random_state=0).reset_index(drop=True)
    train, test = d.iloc[:360], d.iloc[360:]
    run = exp.submit(
        AutoMLConfig(
            task="regression",
            primary_metric="normalized_root_mean_squared_error",
            training_data=train,
            validation_data=test.iloc[:40],
            label_column_name="target",
            iterations=15,
            allowed_models=["ElasticNet", "XGBoostRegressor", "LightGBM"],
        )
    )
    run.wait_for_completion()
    kids = run.get_children()
    errors = {k.id: k.get_metrics()["normalized_root_mean_squared_error"] for k in kids}
    assert len({k.get_properties()["run_algorithm"] for k in kids}) >= 2
    best, model = run.get_output()
    assert errors[best.id] == min(errors.values())  # minimized
    pred = model.predict(test.iloc[40:].drop(columns=["target"]))
    from sklearn.metrics import r2_score

    assert r2_score(test.iloc[40:]["target"], pred) > 0.2
    assert "r2_score" in best.get_metrics() and "spearman_correlation" in best.get_metrics()


def test_cancel_mid_search_keeps_the_iterations_done(exp, cancer):
    train, _ = cancer
    run = exp.submit(
        AutoMLConfig(
            task="classification",
            training_data=train,
            label_column_name="target",
            n_cross_validations=5,
            iterations=400,
            experiment_timeout_minutes=5,
            allowed_models=["RandomForest", "ExtremeRandomTrees"],
        )
    )
    assert wait_until(lambda: len(run.get_children()) >= 3, timeout=120)
    run.cancel()
    run.wait_for_completion(raise_on_error=False)
    assert run.get_status() == "Canceled"
    kids = run.get_children()
    done = [k for k in kids if k.get_status() == "Completed"]
    assert 3 <= len(done) < 400 and all("accuracy" in k.get_metrics() for k in done)  # the iterations done stay
    cut = [k for k in kids if k not in done]  # at most the one being recorded as the cancel came: ended with it
    assert len(cut) <= 1 and all(k.get_status() == "Canceled" for k in cut)
    assert len(run.get_children()) == len(kids)  # nothing after the cancel


def test_bad_configs_are_refused(cancer):
    train, _ = cancer
    base = {"task": "classification", "training_data": train, "label_column_name": "target"}
    with pytest.raises(ValueError, match="not a classification metric"):
        AutoMLConfig(**{**base, "primary_metric": "r2_score"})
    with pytest.raises(ValueError, match="label_column_name 'nope'"):
        AutoMLConfig(**{**base, "label_column_name": "nope"})
    with pytest.raises(ValueError, match="allowed_models"):
        AutoMLConfig(**{**base, "allowed_models": ["DeepNet"]})
    with pytest.raises(ValueError, match="leave no model"):
        AutoMLConfig(**{**base, "allowed_models": ["LightGBM"], "blocked_models": ["LightGBM"]})
    with pytest.raises(ValueError, match="forecasting"):
        AutoMLConfig(**{**base, "task": "forecasting"})
    with pytest.raises(ValueError, match="not both"):
        AutoMLConfig(**base, validation_data=train, n_cross_validations=3)
    with pytest.raises(TypeError, match="does not support"):
        AutoMLConfig(**base, experiment_exit_score=0.9)
    with pytest.raises(FileNotFoundError):
        AutoMLConfig(**{**base, "training_data": "/nonexistent.csv"})
    AutoMLConfig(**base, enable_stack_ensemble=True, model_explainability=True)  # Azure's, nothing to do here


def test_labels_and_columns_from_the_wild(exp):
    """Text labels (one with markup), unicode column names and a categorical column, three classes."""
    import pandas as pd
    from sklearn.datasets import load_iris

    df = load_iris(as_frame=True).frame.rename(columns={"sepal length (cm)": "länge ☃", "petal width (cm)": "宽度"})
    df["target"] = np.array(["setosa", "versi<b>color</b>", "virginica"])[df["target"]]
    df["colour"] = pd.Categorical(np.where(df.index % 2, "rot", "grün"))
    df = df.sample(frac=1, random_state=0).reset_index(drop=True)
    run = exp.submit(
        AutoMLConfig(task="classification", training_data=df.iloc[:120], label_column_name="target",
                     n_cross_validations=3, iterations=4, allowed_models=["LightGBM", "LogisticRegression"])
    )  # fmt: skip
    run.wait_for_completion()
    best, model = run.get_output()
    m = best.get_metrics()
    assert 0.8 < m["accuracy"] <= 1 and 0 <= m["norm_macro_recall"] <= 1 and "AUC_weighted" in m
    test = df.iloc[120:]
    pred = model.predict(test.drop(columns=["target"]))
    assert set(pred) <= {"setosa", "versi<b>color</b>", "virginica"} and (pred == test["target"]).mean() > 0.8
