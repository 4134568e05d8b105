"""The package logger: lines to the terminal, like mlflow's, unless the user configures logging.

In a Jupyter kernel, notices (INFO) go to stdout: JupyterLab paints stderr
red, and "workspace X" above every widget is not an error. Warnings stay on stderr.
"""

import logging
import os
import sys


def _in_kernel() -> bool:
    return "ipykernel" in sys.modules and type(sys.stdout).__name__ == "OutStream"


class _Handler(logging.StreamHandler):
    """Picks the stream at each record: the kernel replaces sys.stdout/sys.stderr after import."""

    def __init__(self) -> None:
        super().__init__()

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:  # StreamHandler.__init__ sets it; the stream is chosen per record
        pass

    def emit(self, record: logging.LogRecord) -> None:
        out = sys.stdout if record.levelno < logging.WARNING and _in_kernel() else sys.stderr
        try:
            out.write(self.format(record) + self.terminator)
            out.flush()
        except Exception:
            self.handleError(record)


def configure() -> None:
    logger = logging.getLogger("runwidgets")
    if logger.handlers:
        return
    handler = _Handler()
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger.addHandler(handler)
    logger.setLevel(os.environ.get("RUNWIDGETS_LOGGING_LEVEL", "INFO").upper())
    logger.propagate = False
