"""Virtual environments for runs, built once per package list and cached.

An environment lives in ``$RUNWIDGETS_ENV_CACHE`` (default
``~/.cache/runwidgets/envs``) under the key of its package list. It is built
beside its final place and renamed into it when whole, under a file lock, so
that a sweep's children asking for one environment at once build it once and a
failed build leaves nothing half-made behind.

The environment layers over the one that submitted the run: its own packages
come first on ``sys.path``, and the submitting environment's site-packages
come after them (a ``.pth`` file). So runwidgets itself, and whatever the spec
does not name, are importable in the script, while a package the spec pins to
another version is installed into the environment and wins.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import site
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO

from ..store.details import EnvironmentSpec

DONE = ".runwidgets-complete"


class BuildFailed(RuntimeError):
    """Building an environment failed; the message says which step, the build log says why."""


class BuildCanceled(RuntimeError):
    pass


def cache_root() -> Path:
    root = os.environ.get("RUNWIDGETS_ENV_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "runwidgets", "envs"
    )
    return Path(root)


def env_dir(spec: EnvironmentSpec) -> Path:
    return cache_root() / f"{_slug(spec.name)}-{spec.key()}"


def interpreter(spec: EnvironmentSpec) -> str:
    """The Python a run in this environment is started with (known before the environment exists)."""
    if spec.user_managed:
        return spec.interpreter or sys.executable
    return str(env_dir(spec) / "bin" / "python")


def ensure(spec: EnvironmentSpec, log: IO[str], canceled: Callable[[], bool] = lambda: False) -> str:
    """Build the environment unless it exists; return its Python. Says what it does in ``log``."""
    if spec.user_managed:
        log.write(f"user-managed environment {spec.name!r}: running {interpreter(spec)} as it is\n")
        return interpreter(spec)
    target = env_dir(spec)
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.parent / f"{target.name}.lock", "w") as lock:
        waiting = False
        while True:  # another run may be building it: wait (a cancel still stops this one), then reuse it
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if not waiting:
                    log.write(f"another run is building environment {spec.name!r}; waiting for it\n")
                    log.flush()
                    waiting = True
                if canceled():
                    raise BuildCanceled("canceled while waiting for another run to build the environment") from None
                time.sleep(0.25)
        if (target / DONE).exists():
            log.write(f"reusing environment {spec.name!r} ({spec.key()}) at {target}\n")
            return interpreter(spec)
        _build(spec, target, log, canceled)
    return interpreter(spec)


def _build(spec: EnvironmentSpec, target: Path, log: IO[str], canceled: Callable[[], bool]) -> None:
    started = time.time()
    work = target.parent / f".{target.name}.building-{os.getpid()}"
    shutil.rmtree(work, ignore_errors=True)
    shutil.rmtree(target, ignore_errors=True)  # an unfinished one (no completion mark)
    this = f"{sys.version_info.major}.{sys.version_info.minor}"
    log.write(f"building environment {spec.name!r} ({spec.key()}) with Python {this} at {target}\n")
    if spec.python_version and not this.startswith(spec.python_version.split("=")[-1][: len(this)]):
        log.write(f"note: python={spec.python_version} was asked for; environments here use this machine's {this}\n")
    try:
        _step(
            [sys.executable, "-m", "venv", *([] if spec.requirements else ["--without-pip"]), str(work)],
            log,
            canceled,
            "creating the virtual environment",
        )
        _layer_over_this_environment(work)
        if spec.requirements:
            log.write(f"installing {len(spec.requirements)} requirement(s): {' '.join(spec.requirements)}\n")
            options = [part for o in spec.pip_options for part in o.split()]
            _step(
                [str(work / "bin" / "python"), "-m", "pip", "install", "--disable-pip-version-check",
                 "--no-input", "--progress-bar", "off", *options, *spec.requirements],
                log,
                canceled,
                "installing the requirements with pip",
            )  # fmt: skip
        (work / DONE).write_text(f"{time.time()}\n")
        os.replace(work, target)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    log.write(f"environment {spec.name!r} built in {time.time() - started:.1f} s\n")


def _layer_over_this_environment(work: Path) -> None:
    """Put this environment's site-packages after the new environment's own (see the module's docstring)."""
    ours = [p for p in site.getsitepackages() if os.path.isdir(p)]
    pure = next(work.glob("lib/python*/site-packages"))
    lines = "".join(f"import site; site.addsitedir({p!r})\n" for p in ours)
    (pure / "_runwidgets_base_environment.pth").write_text(lines)


def _step(argv: list[str], log: IO[str], canceled: Callable[[], bool], what: str) -> None:
    log.write(f"$ {' '.join(argv)}\n")
    log.flush()
    proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    while proc.poll() is None:
        if canceled():
            proc.terminate()
            proc.wait()
            raise BuildCanceled(f"canceled while {what}")
        time.sleep(0.25)
    if proc.returncode:
        raise BuildFailed(f"{what} failed (exit code {proc.returncode}); see the run's build log")


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)[:60] or "env"
