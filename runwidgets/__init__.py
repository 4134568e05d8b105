"""runwidgets: watch machine-learning runs live in Jupyter.

The Azure ML v1 run API (``Workspace``, ``Experiment``, ``Run``,
``ScriptRunConfig``, ``RunDetails``) over an embedded SQLite store or MLflow.
"""

from ._logging import configure as _configure_logging
from .tracking import Experiment, Run, Workspace

_configure_logging()

__version__ = "0.1.0"
__all__ = ["Experiment", "Run", "Workspace", "__version__"]
