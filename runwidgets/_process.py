"""Stopping process trees and turning signals into exits: shared by the supervisor, sweeps and the dashboard."""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess

import psutil


def stop_group(proc: subprocess.Popen, grace: float) -> None:
    """Terminate ``proc``'s process group and every process below it, wait ``grace`` seconds, then kill what is left.

    The descendants are collected first: a child in a session of its own (a
    Jupyter kernel) is not in the group, and once its parent is gone it can no
    longer be found by ancestry.
    """
    try:
        tree = psutil.Process(proc.pid).children(recursive=True)
    except psutil.Error:
        tree = []
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=wait)
            break
        except subprocess.TimeoutExpired:
            continue
    _, alive = psutil.wait_procs(tree, timeout=grace)
    for p in alive:
        try:
            p.kill()
        except psutil.Error:
            pass
    psutil.wait_procs(alive, timeout=5.0)


def die_with_parent(sig: int = signal.SIGKILL) -> None:
    """In a child (as ``preexec_fn``): get ``sig`` when the parent dies, so nothing outlives it unwatched."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, sig)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def exit_on_signal(signum, frame) -> None:
    """A signal handler that exits normally, so ``finally`` blocks and atexit run."""
    raise SystemExit(128 + signum)


def alive(pid: int | None) -> bool:
    """True while process ``pid`` exists on this machine and is not a zombie."""
    if not pid:
        return False
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False
