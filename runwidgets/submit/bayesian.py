"""Bayesian search for a sweep's driver, on Optuna (TPE), by ask and tell.

The driver asks for a parameter set when it starts a child and tells the
child's value (its best report of the primary metric, the ranking rule) when
the child ends; a child that ended without one is told as failed, so that
the sampler learns to avoid it. Earlier sweeps (``resume_from``) seed the
study with their children as finished trials.
"""

from __future__ import annotations

import math
from typing import Any

from ..ranking import MAXIMIZE


class BayesianSearch:
    def __init__(self, space: dict[str, list], goal: str, seed: int | None = None) -> None:
        try:
            import optuna
        except ImportError:
            raise ImportError("BayesianParameterSampling runs on Optuna: pip install 'runwidgets[optuna]'") from None
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self.optuna = optuna
        self.space = space
        self.distributions = {name: _distribution(optuna, spec) for name, spec in space.items()}
        self.study = optuna.create_study(
            direction="maximize" if goal == MAXIMIZE else "minimize",
            sampler=optuna.samplers.TPESampler(seed=seed, n_startup_trials=min(10, max(2, len(space) * 2))),
        )
        self.trials: dict[str, Any] = {}  # child run id -> its trial

    def ask(self) -> tuple[Any, dict[str, Any]]:
        trial = self.study.ask(self.distributions)
        return trial, {name: self._value(name, trial.params[name]) for name in self.space}

    def started(self, child_id: str, trial: Any) -> None:
        self.trials[child_id] = trial

    def tell(self, child_id: str, value: float | None) -> None:
        trial = self.trials.pop(child_id, None)
        if trial is None:
            return
        if value is None or not math.isfinite(value):
            self.study.tell(trial, state=self.optuna.trial.TrialState.FAIL)
        else:
            self.study.tell(trial, value)

    def seed_with(self, params: dict[str, Any], value: float | None) -> bool:
        """Add a finished child of an earlier sweep as a trial; False when it does not fit this space."""
        if value is None or not math.isfinite(value) or set(params) != set(self.space):
            return False
        internal = {}
        for name, v in params.items():
            dist = self.distributions[name]
            if isinstance(dist, self.optuna.distributions.CategoricalDistribution):
                if v not in dist.choices:
                    return False
            elif not (isinstance(v, (int, float)) and dist.low <= v <= dist.high):
                return False
            internal[name] = v
        self.study.add_trial(
            self.optuna.trial.create_trial(params=internal, distributions=self.distributions, value=value)
        )
        return True

    def _value(self, name: str, raw: Any) -> Any:
        spec = self.space[name]
        if spec[0] == "quniform":
            return round(raw / spec[3]) * spec[3]
        return raw


def _distribution(optuna: Any, spec: list) -> Any:
    kind = spec[0]
    if kind == "choice":
        return optuna.distributions.CategoricalDistribution(spec[1])
    if kind in ("uniform", "quniform"):
        return optuna.distributions.FloatDistribution(spec[1], spec[2])
    raise ValueError(f"Bayesian search cannot use a {kind} parameter")
