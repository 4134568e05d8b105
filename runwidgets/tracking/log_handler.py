"""A logging.Handler that writes Python log records into a run's log file."""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from .run import Run

from ..store.files import PYTHON_LOG

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class RunLogHandler(logging.Handler):
    """``logging.getLogger().addHandler(run.get_logging_handler())`` records into ``azureml-logs/python_log.txt``."""

    def __init__(self, run: Run, level: int = logging.INFO) -> None:
        super().__init__(level)
        self.setFormatter(logging.Formatter(FORMAT))
        self.run_id = run.id
        self._path = run._log_file(PYTHON_LOG)
        self._file: TextIO | None = None
        self._io_lock = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record)
            with self._io_lock:
                if self._file is None:
                    self._file = open(self._path, "a", encoding="utf-8", buffering=1)
                self._file.write(line + "\n")
        except Exception:
            self.handleError(record)

    def close(self) -> None:
        with self._io_lock:
            if self._file is not None:
                self._file.close()
                self._file = None
        super().close()
