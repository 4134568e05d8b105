"""A run's files on local disk, shared by both stores: ``<root>/runs/<run_id>/<name>``.

Every path is checked here, once: a run id is one folder name, a file name
stays inside its run's folder (no absolute paths, no ``..``, no symlink that
leads out), and a file appears only when it is whole (written to a partial
name, then renamed), so a failed copy never leaves a truncated file listed.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO

# A run's log files, under the names Azure ML's docs use.
LOG_DIR = "azureml-logs"
LOG_DIRS = (LOG_DIR, "logs")  # "logs/": where runs of runwidgets 0.1 kept them, still read
DRIVER_LOG = f"{LOG_DIR}/70_driver_log.txt"  # stdout and stderr of a submitted script
SUPERVISOR_LOG = f"{LOG_DIR}/60_control_log.txt"  # what the supervisor (or a sweep's driver) did
DISPATCH_LOG = f"{LOG_DIR}/55_dispatch_log.txt"  # handing a run to a cluster, and watching its worker
BUILD_LOG = f"{LOG_DIR}/20_image_build_log.txt"  # building the run's Python environment
PYTHON_LOG = f"{LOG_DIR}/python_log.txt"  # records from a run's logging handler


def is_log(name: str) -> bool:
    return name.split("/", 1)[0] in LOG_DIRS


RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,254}")
PARTIAL = ".partial-"  # prefix of a file being written


def check_run_id(run_id: Any) -> str:
    """A run id that names exactly one folder: letters, digits, '_', '-', '.'; no '..'."""
    if not isinstance(run_id, str) or not RUN_ID.fullmatch(run_id) or ".." in run_id:
        raise ValueError(
            f"run id {run_id!r} is not valid: use 1 to 255 letters, digits, '_', '-' or '.',"
            " starting with a letter or digit"
        )
    return run_id


def check_name(name: Any, what: str = "file name") -> str:
    """A path inside a run's folder: relative, no '..', forward slashes."""
    if not isinstance(name, str) or not name.strip():
        raise TypeError(f"{what} must be a non-empty str, got {name!r}")
    if "\x00" in name:
        raise ValueError(f"{what} {name!r} contains a NUL character")
    norm = name.replace("\\", "/")
    p = PurePosixPath(norm)
    if p.is_absolute() or (len(norm) > 1 and norm[1] == ":"):
        raise ValueError(f"{what} {name!r} is absolute; give a path inside the run, such as 'outputs/model.pkl'")
    if ".." in p.parts:
        raise ValueError(f"{what} {name!r} leaves the run's folder ('..'); give a path inside the run")
    parts = [s for s in p.parts if s not in ("", ".")]
    if not parts:
        raise ValueError(f"{what} {name!r} names no file")
    if any(s.startswith(PARTIAL) for s in parts):
        raise ValueError(f"{what} {name!r}: names starting with {PARTIAL!r} are reserved")
    return "/".join(parts)


class RunFiles:
    """The folder of every run under ``root``; the one place that turns a run id and a name into a path."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def run_dir(self, run_id: str) -> Path:
        return self.root / "runs" / check_run_id(run_id)

    def has_runs(self) -> bool:
        """True when some run has a folder here (evidence that a database once listed runs)."""
        try:
            return any(os.scandir(self.root / "runs"))
        except OSError:
            return False

    def path(self, run_id: str, name: str) -> Path:
        """Where ``name`` lives; refuses names (and symlinks on the way) that lead out of the run's folder."""
        base = self.run_dir(run_id)
        path = base.joinpath(*check_name(name).split("/"))
        real_base = os.path.realpath(base)
        real = os.path.realpath(path)
        if real != real_base and not real.startswith(real_base + os.sep):
            raise ValueError(f"file name {name!r} of run {run_id} leads out of the run's folder (a symlink)")
        return path

    def put(self, run_id: str, name: str, source: str | os.PathLike | BinaryIO) -> Path:
        """Copy a file (a path or a binary stream) in as ``name``, whole or not at all."""
        dest = self.path(run_id, name)
        dest.parent.mkdir(parents=True, exist_ok=True)
        self.path(run_id, name)  # the folders just made are ours; check again in case one was a link
        fd, tmp = tempfile.mkstemp(prefix=PARTIAL, dir=dest.parent)
        try:
            with os.fdopen(fd, "wb") as f:
                if hasattr(source, "read"):
                    shutil.copyfileobj(source, f)  # type: ignore[arg-type]  # a binary stream
                else:
                    with open(source, "rb") as src:  # type: ignore[arg-type]  # a path
                        shutil.copyfileobj(src, f)
            os.chmod(tmp, 0o644)
            os.replace(tmp, dest)  # replaces a symlink at dest rather than writing through it
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise
        return dest

    def list(self, run_id: str) -> list[str]:
        base = self.run_dir(run_id)
        if not base.is_dir():
            return []
        out = []
        for folder, dirs, files in os.walk(base):  # does not follow symlinked folders
            rel = Path(folder).relative_to(base)
            for f in files:
                p = Path(folder) / f
                if f.startswith(PARTIAL) or p.is_symlink() or not p.is_file():
                    continue
                out.append((rel / f).as_posix())
            dirs[:] = [d for d in dirs if not (Path(folder) / d).is_symlink()]
        return sorted(out)

    def _existing(self, run_id: str, name: str) -> Path:
        src = self.path(run_id, name)
        if src.is_symlink() or not src.is_file():
            raise FileNotFoundError(f"run {run_id} has no file {name!r}")
        return src

    def get(self, run_id: str, name: str, dest: str | os.PathLike) -> str:
        src = self._existing(run_id, name)
        Path(dest).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dest)
        return str(dest)

    def read(self, run_id: str, name: str, limit: int | None = None) -> bytes:
        with open(self._existing(run_id, name), "rb") as f:
            return f.read(limit if limit is not None else -1)

    def log_path(self, run_id: str, name: str) -> str:
        """Where the log file ``name`` (``azureml-logs/70_driver_log.txt``) is written; its folder exists."""
        p = self.path(run_id, name)
        p.parent.mkdir(parents=True, exist_ok=True)
        return str(p)
