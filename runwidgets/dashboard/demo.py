"""`make demo` / `runwidgets demo`: a live sweep watched in the dashboard.

Ctrl-C cancels the sweep, stops the server, and waits until every process
the demo started has ended.
"""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import cast

from ..store.base import TERMINAL
from ..submit.config import ScriptRunConfig
from ..submit.sampling import GridParameterSampling, choice
from ..submit.sweep import HyperDriveConfig, HyperDriveRun, PrimaryMetricGoal
from ..tracking.experiment import Experiment
from ..tracking.workspace import Workspace
from . import server

HERE = Path(__file__).resolve().parent


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False


def _reap() -> None:
    try:
        while os.waitpid(-1, os.WNOHANG)[0]:
            pass
    except ChildProcessError:
        pass


def _pids(ws: Workspace, sweep_id: str) -> set[int]:
    recs = [ws.store.get_run(sweep_id), *ws.store.find_runs(parent_id=sweep_id)]
    return {p for r in recs for p in r.details.pids()}


MARKER = "made-by-runwidgets-demo"  # a file in a workspace the demo created, and so may clear


def demo_workspace(path: Path) -> tuple[Workspace, bool]:
    """The workspace for the demo, and whether the demo owns it.

    A folder the demo made itself (it holds the marker) is cleared for a fresh
    sweep. Any other workspace is used as it is: its runs are kept, and the
    demo's sweep is added beside them. Nothing else is ever deleted.
    """
    if path.exists() and not path.is_dir():
        raise SystemExit(f"{path} is a file; pass --workspace a folder")
    if (path / MARKER).is_file():
        shutil.rmtree(path)
    elif path.exists() and any(path.iterdir()):
        if not (path / "runwidgets.db").is_file():
            raise SystemExit(f"{path} exists and is not a runwidgets workspace; pass --workspace another folder")
        print(f"adding the demo's sweep to the workspace {path}; its runs are kept", flush=True)
        return Workspace(path), False
    ws = Workspace(path)
    (ws.path / MARKER).write_text("runwidgets demo workspace: `runwidgets demo` clears this folder when run again\n")
    return ws, True


def demo_sweep(src: Path, epochs: int | str, pause: float | str) -> HyperDriveConfig:
    """The demo's sweep: six SGD classifiers on scikit-learn's digits, a grid of two hyperparameters."""
    return HyperDriveConfig(
        run_config=ScriptRunConfig(str(src), "train.py", arguments=["--epochs", epochs, "--pause", pause]),
        hyperparameter_sampling=GridParameterSampling(
            {"--alpha": choice(1e-4, 1e-3, 1e-2), "--eta0": choice(0.01, 0.1)}
        ),
        primary_metric_name="accuracy",
        primary_metric_goal=PrimaryMetricGoal.MAXIMIZE,
        max_concurrent_runs=2,
    )


def demo_source() -> Path:
    """A folder holding the demo's training script as train.py (submit() snapshots it)."""
    src = Path(tempfile.mkdtemp(prefix="runwidgets-demo-src-"))
    shutil.copy(HERE / "demo_train.py", src / "train.py")
    return src


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def run_demo(args) -> int:
    for sig in (signal.SIGTERM, signal.SIGHUP):  # a terminated demo cleans up as Ctrl-C does
        signal.signal(sig, _interrupt)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even when started with SIGINT ignored
    ws, owned = demo_workspace(Path(args.workspace or ".runwidgets-demo").resolve())
    src = demo_source()
    sweep = proc = None
    try:
        proc, base = server.start(ws, args.port, theme=args.theme)
        os.environ["RUNWIDGETS_PORTAL_URL"] = base  # links from the sweep's processes lead to this server
        config = demo_sweep(src, args.epochs, args.pause)
        sweep = cast(HyperDriveRun, Experiment(ws, "digits-sgd").submit(config))
        shutil.rmtree(src, ignore_errors=True)
        print(f"\nworkspace  {ws.path}")
        print(f"dashboard  {base}/")
        print(f"the sweep  {sweep.get_portal_url()}\n", flush=True)
        if args.open:
            import webbrowser

            webbrowser.open(sweep.get_portal_url())
        sweep.wait_for_completion(show_output=True, raise_on_error=False)
        if sweep.get_status() not in TERMINAL:
            raise KeyboardInterrupt  # Ctrl-C stopped the wait: stop everything
        best = sweep.get_best_run_by_primary_metric()
        if best is not None:
            print(
                f"best run   {best.get_portal_url()}  (accuracy {best.get_metrics('final_accuracy').get('final_accuracy')})"
            )
        with urllib.request.urlopen(sweep.get_portal_url(), timeout=120) as r:
            print(f"the dashboard answered {r.status} for the sweep's page", flush=True)
        if not args.until_done:
            print(f"\nthe sweep is over; the dashboard stays at {base}/ until Ctrl-C", flush=True)
            proc.wait()
    except KeyboardInterrupt:
        print("\nstopping: canceling the sweep and the dashboard ...", flush=True)
    finally:
        if sweep is not None and sweep.get_status() not in TERMINAL:
            sweep.cancel()
        if proc is not None:
            server.stop(proc)
        shutil.rmtree(src, ignore_errors=True)
        print(f"the demo's runs stay in {ws.path}: runwidgets -w {ws.path} ls", flush=True)
        left = _wait_for_processes(ws, sweep) if sweep is not None else set()
        print("every process the demo started has ended" if not left else f"still running: {sorted(left)}", flush=True)
    return 0


def _wait_for_processes(ws: Workspace, sweep, timeout: float = 30) -> set[int]:
    deadline = time.time() + timeout
    while True:
        _reap()
        pids = _pids(ws, sweep.id)
        left = {p for p in pids if _alive(p)}
        done = sweep.get_status() in TERMINAL
        if (done and not left) or time.time() > deadline:
            break
        time.sleep(0.2)
    for p in left:  # should not happen: the cancel path ends each one
        try:
            os.kill(p, signal.SIGKILL)
        except ProcessLookupError:
            pass
    _reap()
    return {p for p in left if _alive(p)}
