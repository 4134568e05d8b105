"""runwidgets: watch machine-learning runs live in Jupyter.

The Azure ML v1 run API (``Workspace``, ``Experiment``, ``Run``,
``ScriptRunConfig``, ``RunDetails``) over an embedded SQLite store or MLflow.
"""

from . import _aliases
from ._logging import configure as _configure_logging
from .submit import ScriptRunConfig
from .submit.environment import Environment, RunConfiguration
from .tracking import Experiment, Run, Workspace
from .tracking.waiting import RunFailedError


def __getattr__(name: str):
    # RunDetails pulls in ipywidgets and bqplot: import them only for code that shows runs.
    if name == "RunDetails":
        from .widget import RunDetails

        return RunDetails
    raise AttributeError(f"module 'runwidgets' has no attribute {name!r}")


_configure_logging()
_aliases.install()

__version__ = "0.1.0"
VERSION = __version__  # Azure ML's spelling (azureml.core.VERSION)
__all__ = [
    "Environment",
    "Experiment",
    "Run",
    "RunConfiguration",
    "RunDetails",
    "RunFailedError",
    "ScriptRunConfig",
    "VERSION",
    "Workspace",
    "__version__",
]
