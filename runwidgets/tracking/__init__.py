"""The writer side: Workspace, Experiment, Run and the flush thread behind run.log()."""

from .experiment import Experiment
from .run import Run
from .workspace import Workspace

__all__ = ["Experiment", "Run", "Workspace"]
