"""The compute targets a workspace knows, kept in its folder as ``compute.json``.

Written whole to a temporary name and renamed into place under a file lock, so
two notebooks attaching at once never leave half a file, and a reader never
sees one.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

FILE = "compute.json"
LOCAL = "local"
DASK = "dask"
NAME = re.compile(r"[A-Za-z][A-Za-z0-9-]{1,31}")  # Azure's rule for compute names, a little longer


@dataclass(frozen=True)
class TargetRecord:
    """One compute target: a Dask cluster at ``address``, attached, or started here (``provisioned``)."""

    name: str
    type: str = DASK
    address: str = ""  # the scheduler's address; empty while a provisioned cluster starts
    provisioned: bool = False  # started by ComputeTarget.create: runwidgets owns it and stops it on delete()
    pid: int | None = None  # a provisioned cluster's process, on ``host``
    host: str | None = None
    n_workers: int | None = None
    threads_per_worker: int | None = None
    memory_limit: str | None = None
    created: float = 0.0
    error: str | None = None  # why a provisioned cluster failed to start

    @classmethod
    def from_json(cls, data: dict) -> TargetRecord:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


def check_name(name: object) -> str:
    if not isinstance(name, str) or not NAME.fullmatch(name):
        raise ValueError(
            f"compute target name {name!r} is not valid: 2 to 32 letters, digits or '-', starting with a letter"
        )
    if name == LOCAL:
        raise ValueError("'local' is this machine's own target and cannot be replaced")
    return name


class Registry:
    """Read and change the targets of the workspace folder ``path``."""

    def __init__(self, path: Path) -> None:
        self.file = Path(path) / FILE

    def all(self) -> dict[str, TargetRecord]:
        try:
            data = json.loads(self.file.read_text())
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as e:
            raise ValueError(f"{self.file} is not valid JSON ({e}); fix it or attach the targets again") from None
        return {n: TargetRecord.from_json(t) for n, t in (data.get("targets") or {}).items()}

    def get(self, name: str) -> TargetRecord | None:
        return self.all().get(name)

    @contextmanager
    def _locked(self) -> Iterator[dict[str, TargetRecord]]:
        self.file.parent.mkdir(parents=True, exist_ok=True)
        with open(self.file.with_suffix(".lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            targets = self.all()
            yield targets
            tmp = self.file.with_name(f".{FILE}.{os.getpid()}")
            tmp.write_text(json.dumps({"targets": {n: asdict(t) for n, t in targets.items()}}, indent=2) + "\n")
            os.replace(tmp, self.file)

    def add(self, record: TargetRecord) -> TargetRecord:
        with self._locked() as targets:
            if record.name in targets:
                raise ValueError(f"the workspace already has a compute target {record.name!r}; detach it first")
            targets[record.name] = record = replace(record, created=record.created or time.time())
        return record

    def update(self, name: str, **values: object) -> TargetRecord:
        with self._locked() as targets:
            if name not in targets:
                raise KeyError(name)
            targets[name] = replace(targets[name], **values)  # type: ignore[arg-type]
            return targets[name]

    def remove(self, name: str) -> None:
        with self._locked() as targets:
            targets.pop(name, None)
