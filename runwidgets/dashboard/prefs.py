"""What a user picked in the runs table, remembered per experiment in the workspace folder.

``<workspace>/dashboard-columns.json``: ``{experiment: {"columns": ["metrics.accuracy", ...],
"sort": "metrics.accuracy", "descending": true}}``. Written whole and renamed into place, so a crash
leaves the old choice; a folder we cannot write keeps the choice for this session only.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..store.query import CREATED, Column

FILE = "dashboard-columns.json"
log = logging.getLogger("runwidgets")
_lock = threading.Lock()


@dataclass
class TableChoice:
    columns: list[str] = field(default_factory=list)  # column keys, in the user's order
    sort: str = CREATED.key
    descending: bool = True

    @property
    def order_by(self) -> Column:
        try:
            return Column.parse(self.sort)
        except ValueError:
            return CREATED


class Prefs:
    def __init__(self, folder: Path) -> None:
        self.path = Path(folder) / FILE
        self._memory: dict[str, dict] = {}

    def _read(self) -> dict[str, dict]:
        try:
            data = json.loads(self.path.read_text())
        except FileNotFoundError:
            return dict(self._memory)
        except (OSError, ValueError) as e:
            log.warning("runwidgets: ignoring %s (%s): the runs table starts from its defaults", self.path, e)
            return dict(self._memory)
        return {**(data if isinstance(data, dict) else {}), **self._memory}

    def get(self, experiment: str) -> TableChoice | None:
        raw = self._read().get(experiment)
        if not isinstance(raw, dict):
            return None
        cols = [c for c in raw.get("columns", []) if isinstance(c, str)]
        return TableChoice(cols, str(raw.get("sort", CREATED.key)), bool(raw.get("descending", True)))

    def put(self, experiment: str, choice: TableChoice) -> None:
        with _lock:
            data = self._read()
            data[experiment] = asdict(choice)
            tmp = self.path.with_name(f".{FILE}.{os.getpid()}")
            try:
                tmp.write_text(json.dumps(data, indent=1))
                os.replace(tmp, self.path)
                self._memory.pop(experiment, None)
            except OSError as e:  # a read-only workspace: remembered while this page lives
                log.debug("runwidgets: cannot save the table's columns in %s: %s", self.path, e)
                tmp.unlink(missing_ok=True)
                self._memory[experiment] = asdict(choice)
