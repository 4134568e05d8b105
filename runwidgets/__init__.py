"""runwidgets: watch machine-learning runs live in Jupyter.

The Azure ML v1 run API (``Workspace``, ``Experiment``, ``Run``,
``ScriptRunConfig``, ``RunDetails``) over an embedded SQLite store or MLflow.
"""

from ._logging import configure as _configure_logging
from .submit import ScriptRunConfig
from .tracking import Experiment, Run, Workspace
from .tracking.waiting import RunFailedError

_configure_logging()

__version__ = "0.1.0"
__all__ = ["Experiment", "Run", "RunFailedError", "ScriptRunConfig", "Workspace", "__version__"]
