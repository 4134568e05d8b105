"""AutoMLConfig: Azure ML v1's names, FLAML's search.

``exp.submit(AutoMLConfig(...))`` records an AutoML parent run and starts
``python -m runwidgets.automl.driver`` under the same supervisor as a
submitted script (logs, heartbeat, cancel, it outlives the kernel). The
training data travels in the run's snapshot, so the run can be reproduced and
any iteration's model rebuilt later.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import metrics as M

if TYPE_CHECKING:
    from ..tracking.experiment import Experiment

SETTINGS = "automl_settings.json"
TRAINING = "training_data.pkl"
VALIDATION = "validation_data.pkl"
FLAML_LOG = "outputs/flaml_trials.jsonl"  # FLAML's own record of every trial, kept with the parent

# Azure's model names -> FLAML's learners, per task (what Azure users write in allowed_models)
MODELS: dict[str, dict[str, str]] = {
    M.CLASSIFICATION: {
        "LightGBM": "lgbm", "XGBoostClassifier": "xgboost", "RandomForest": "rf", "ExtremeRandomTrees": "extra_tree",
        "LogisticRegression": "lrl2", "KNN": "kneighbor", "SGD": "sgd", "LinearSVM": "svc",
        "CatBoost": "catboost", "HistGradientBoosting": "histgb",
    },
    M.REGRESSION: {
        "LightGBM": "lgbm", "XGBoostRegressor": "xgboost", "RandomForest": "rf", "ExtremeRandomTrees": "extra_tree",
        "ElasticNet": "enet", "LassoLars": "lassolars", "KNN": "kneighbor", "SGD": "sgd", "CatBoost": "catboost",
        "HistGradientBoosting": "histgb",
    },
}  # fmt: skip
DEFAULT_MODELS = {  # tried when allowed_models is not given: what installs with runwidgets[automl]
    M.CLASSIFICATION: ["LightGBM", "XGBoostClassifier", "RandomForest", "ExtremeRandomTrees", "LogisticRegression"],
    M.REGRESSION: ["LightGBM", "XGBoostRegressor", "RandomForest", "ExtremeRandomTrees", "ElasticNet"],
}
# Azure settings that change nothing here: where logs go, explanations, ONNX, ensembles (FLAML picks one model)
IGNORED = ("path", "debug_log", "model_explainability", "enable_onnx_compatible_models", "enable_stack_ensemble",
           "enable_voting_ensemble", "enable_dnn")  # fmt: skip
ALGORITHM = {learner: name for models in MODELS.values() for name, learner in models.items()}
ALGORITHM["lrl1"] = "LogisticRegression"


class AutoMLConfig:
    """An automated ML search: Azure v1's ``AutoMLConfig``, run on FLAML (``pip install 'runwidgets[automl]'``).

    ``task`` is "classification" or "regression". ``training_data`` is a pandas
    DataFrame or a CSV path holding ``label_column_name``. Iterations stop at
    ``iterations`` or ``experiment_timeout_minutes``, whichever comes first.
    ``max_concurrent_iterations`` is how many cores each iteration may use
    (iterations run one after another here). Iterations take the allowed
    models in turn (FLAML's round-robin learner selection), each tuned by
    FLAML's cost-frugal search, so a short search still tries every model.
    """

    def __init__(
        self,
        task: str,
        primary_metric: str | None = None,
        training_data: Any = None,
        label_column_name: str | None = None,
        validation_data: Any = None,
        n_cross_validations: int | None = None,
        iterations: int = 1000,
        experiment_timeout_minutes: float | None = None,
        max_concurrent_iterations: int = 1,
        allowed_models: list[str] | None = None,
        blocked_models: list[str] | None = None,
        enable_early_stopping: bool = True,
        compute_target: Any = None,
        featurization: str = "auto",
        verbosity: int = 20,
        random_seed: int | None = None,
        **kwargs: Any,
    ) -> None:
        for name in IGNORED:
            kwargs.pop(name, None)
        if kwargs:
            raise TypeError(f"AutoMLConfig got {sorted(kwargs)}, which runwidgets does not support")
        if task == "forecasting":
            raise ValueError(
                "task='forecasting' is not supported yet: runwidgets runs AutoML on FLAML for classification"
                " and regression"
            )
        if task not in (M.CLASSIFICATION, M.REGRESSION):
            raise ValueError(f"task must be 'classification' or 'regression', got {task!r}")
        primary_metric = primary_metric or M.PRIMARY[task][0]
        if primary_metric not in M.GOALS[task]:
            raise ValueError(
                f"primary_metric {primary_metric!r} is not a {task} metric; use one of {', '.join(M.PRIMARY[task])}"
            )
        target = getattr(compute_target, "name", compute_target)
        if target is not None and not isinstance(target, str):
            raise TypeError(f"compute_target must be a target's name or a ComputeTarget, got {type(target).__name__}")
        self.compute_target = target or "local"  # the search runs there (on a cluster: on one worker)
        if training_data is None or not label_column_name:
            raise ValueError("AutoMLConfig needs training_data= (a DataFrame or CSV path) and label_column_name=")
        self.training_data = _frame(training_data, "training_data")
        if label_column_name not in self.training_data.columns:
            raise ValueError(
                f"label_column_name {label_column_name!r} is not a column of training_data"
                f" (columns: {', '.join(map(str, self.training_data.columns[:20]))})"
            )
        if self.training_data[label_column_name].isna().any():
            raise ValueError(f"the label column {label_column_name!r} has missing values; drop those rows first")
        if len(self.training_data) < 10:
            raise ValueError(f"training_data has {len(self.training_data)} rows; AutoML needs at least 10")
        self.validation_data = None if validation_data is None else _frame(validation_data, "validation_data")
        if self.validation_data is not None and label_column_name not in self.validation_data.columns:
            raise ValueError(f"validation_data has no column {label_column_name!r}")
        if n_cross_validations is not None:
            if not isinstance(n_cross_validations, int) or isinstance(n_cross_validations, bool):
                raise TypeError(f"n_cross_validations must be a whole number, got {n_cross_validations!r}")
            if n_cross_validations < 2:
                raise ValueError(f"n_cross_validations must be at least 2, got {n_cross_validations}")
            if self.validation_data is not None:
                raise ValueError("pass validation_data or n_cross_validations, not both")
        if not isinstance(iterations, int) or isinstance(iterations, bool) or iterations < 1:
            raise ValueError(f"iterations must be a whole number >= 1, got {iterations!r}")
        if experiment_timeout_minutes is not None and not (
            isinstance(experiment_timeout_minutes, (int, float)) and 0 < experiment_timeout_minutes < math.inf
        ):
            raise ValueError(
                f"experiment_timeout_minutes must be a positive number, got {experiment_timeout_minutes!r}"
            )
        if not isinstance(max_concurrent_iterations, int) or max_concurrent_iterations < 1:
            raise ValueError(
                f"max_concurrent_iterations must be a whole number >= 1, got {max_concurrent_iterations!r}"
            )
        self.task = task
        self.primary_metric = primary_metric
        self.label_column_name = label_column_name
        self.n_cross_validations = n_cross_validations
        self.iterations = iterations
        self.experiment_timeout_minutes = experiment_timeout_minutes
        self.max_concurrent_iterations = max_concurrent_iterations
        self.enable_early_stopping = bool(enable_early_stopping)
        self.random_seed = random_seed
        self.learners = _learners(task, allowed_models, blocked_models)

    def settings(self) -> dict[str, Any]:
        """What the driver needs, as JSON."""
        return {
            "task": self.task,
            "primary_metric": self.primary_metric,
            "label_column_name": self.label_column_name,
            "n_cross_validations": self.n_cross_validations,
            "iterations": self.iterations,
            "experiment_timeout_minutes": self.experiment_timeout_minutes,
            "max_concurrent_iterations": self.max_concurrent_iterations,
            "enable_early_stopping": self.enable_early_stopping,
            "random_seed": self.random_seed,
            "learners": self.learners,
            "validation": self.validation_data is not None,
        }

    def _submit(self, experiment: Experiment, tags: dict | None = None, show_output: bool = False, **kw: Any):
        from ..store.base import AUTOML_RUN
        from ..submit.config import ScriptRunConfig, submit_script

        if kw:
            raise TypeError(f"submit() got unexpected arguments {sorted(kw)}")
        _need_flaml()
        stage = Path(tempfile.mkdtemp(prefix="runwidgets-automl-"))
        try:
            (stage / SETTINGS).write_text(json.dumps(self.settings(), indent=1))
            self.training_data.to_pickle(stage / TRAINING)
            if self.validation_data is not None:
                self.validation_data.to_pickle(stage / VALIDATION)
            config = ScriptRunConfig(
                str(stage), command=[sys.executable, "-u", "-m", "runwidgets.automl.driver"],
                compute_target=self.compute_target,
            )  # fmt: skip
            goal = M.GOALS[self.task][self.primary_metric]
            properties = {
                "primary_metric_config": json.dumps({"name": self.primary_metric, "goal": goal}),
                "max_total_runs": str(self.iterations),
                "task": self.task,
                "iterations": str(self.iterations),
                "label_column_name": self.label_column_name,
            }
            if self.experiment_timeout_minutes:
                properties["experiment_timeout_minutes"] = str(self.experiment_timeout_minutes)
            started = submit_script(experiment, config, tags=tags, properties=properties, kind=AUTOML_RUN)
        finally:
            shutil.rmtree(stage, ignore_errors=True)
        from .run import AutoMLRun

        run = AutoMLRun(experiment, started.id)
        if show_output:
            run.wait_for_completion(show_output=True)
        return run

    def __repr__(self) -> str:
        rows = len(self.training_data)
        return (
            f"AutoMLConfig(task={self.task!r}, primary_metric={self.primary_metric!r}, {rows} training rows,"
            f" iterations={self.iterations}, models={[ALGORITHM.get(m, m) for m in self.learners]})"
        )


def _need_flaml() -> None:
    try:
        import flaml  # noqa: F401
    except ImportError:
        raise ImportError("AutoML runs on FLAML: pip install 'runwidgets[automl]'") from None


def _frame(data: Any, what: str):
    import pandas as pd

    if isinstance(data, pd.DataFrame):
        return data.reset_index(drop=True)
    if isinstance(data, (str, os.PathLike)):
        path = Path(data).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"{what}: no file at {path}")
        return pd.read_csv(path)
    if hasattr(data, "to_pandas_dataframe"):  # an Azure TabularDataset-like object
        return data.to_pandas_dataframe()
    raise TypeError(f"{what} must be a pandas DataFrame or a CSV path, got {type(data).__name__}")


def _learners(task: str, allowed: list[str] | None, blocked: list[str] | None) -> list[str]:
    known = MODELS[task]
    for what, names in (("allowed_models", allowed), ("blocked_models", blocked)):
        unknown = [n for n in names or [] if n not in known]
        if unknown:
            raise ValueError(f"{what}: {unknown} are not {task} models here; use {', '.join(known)}")
    names = list(allowed) if allowed else list(DEFAULT_MODELS[task])
    names = [n for n in names if n not in (blocked or [])]
    if not names:
        raise ValueError("allowed_models and blocked_models leave no model to try")
    learners = []
    for n in names:
        learner = known[n]
        if learner == "catboost":
            try:
                import catboost  # noqa: F401
            except ImportError:
                raise ImportError("CatBoost is not installed: pip install catboost") from None
        if learner not in learners:
            learners.append(learner)
    return learners
