"""Automated ML on FLAML, with Azure ML v1's names (also ``runwidgets.train.automl``).

``exp.submit(AutoMLConfig(task="classification", training_data=df, label_column_name="y"))``
runs the search as a submitted run; each iteration is a child run, and
``run.get_output()`` gives the best child and its fitted model.
"""

from .config import AutoMLConfig
from .run import AutoMLRun

__all__ = ["AutoMLConfig", "AutoMLRun"]
