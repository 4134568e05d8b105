"""The package logger: INFO lines to stderr, like mlflow's, unless the user configures logging."""

import logging
import os


def configure() -> None:
    logger = logging.getLogger("runwidgets")
    if logger.handlers:
        return
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger.addHandler(handler)
    logger.setLevel(os.environ.get("RUNWIDGETS_LOGGING_LEVEL", "INFO").upper())
    logger.propagate = False
