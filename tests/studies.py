"""The Optuna study the integration and browser tests record: 20 trials, a MedianPruner that stops some."""

from __future__ import annotations

import math


def median_pruned_study(parent, n_trials: int = 20):
    """Run the study with ``OptunaCallback`` recording each trial as a child of ``parent``; the study."""
    import optuna

    from runwidgets.integrations import OptunaCallback

    optuna.logging.set_verbosity(optuna.logging.WARNING)

    def objective(trial):
        lr = trial.suggest_float("lr", 1e-4, 1e-1, log=True)
        layers = trial.suggest_categorical("layers", [1, 2, 3])
        acc = 0.0
        for epoch in range(8):
            acc = (1 - abs(math.log10(lr) + 2) / 3) * (epoch + 1) / 8 + 0.01 * layers
            trial.report(acc, epoch)
            if trial.should_prune():
                raise optuna.TrialPruned()
        return acc

    study = optuna.create_study(
        direction="maximize",
        sampler=optuna.samplers.TPESampler(seed=3),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=2),
    )
    callback = OptunaCallback(parent, metric_name="accuracy", n_trials=n_trials)
    study.optimize(objective, n_trials=n_trials, callbacks=[callback])
    return study
