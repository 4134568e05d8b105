"""Hyperparameter sweeps in the shape of Azure ML's HyperDrive.

from runwidgets.hyperdrive import HyperDriveConfig, GridParameterSampling, choice, PrimaryMetricGoal
"""

from ..submit.policy import (
    BanditPolicy,
    EarlyTerminationPolicy,
    MedianStoppingPolicy,
    NoTerminationPolicy,
    TruncationSelectionPolicy,
)
from ..submit.sampling import (
    BayesianParameterSampling,
    GridParameterSampling,
    RandomParameterSampling,
    choice,
    lognormal,
    loguniform,
    normal,
    qloguniform,
    quniform,
    randint,
    uniform,
)
from ..submit.sweep import HyperDriveConfig, HyperDriveRun, PrimaryMetricGoal

__all__ = [
    "BayesianParameterSampling",
    "BanditPolicy",
    "EarlyTerminationPolicy",
    "MedianStoppingPolicy",
    "NoTerminationPolicy",
    "TruncationSelectionPolicy",
    "GridParameterSampling",
    "HyperDriveConfig",
    "HyperDriveRun",
    "PrimaryMetricGoal",
    "RandomParameterSampling",
    "choice",
    "lognormal",
    "loguniform",
    "normal",
    "qloguniform",
    "quniform",
    "randint",
    "uniform",
]
