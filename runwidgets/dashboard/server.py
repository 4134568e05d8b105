"""`runwidgets dashboard`: serve the portal notebook with Voila on 127.0.0.1."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from .._process import stop_group
from ..tracking.workspace import Workspace

HERE = Path(__file__).resolve().parent
NOTEBOOK = HERE / "dashboard.ipynb"
TEMPLATES = HERE / "share"  # voila/templates/runwidgets: Voila's lab template without CDN links


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2):
            return True
    except urllib.error.HTTPError:
        return True  # any answer means the server is up
    except OSError:
        return False


def start(
    ws: Workspace, port: int = 8866, ip: str = "127.0.0.1", refresh: float | None = None, log=None, timeout: float = 60
):
    """Start Voila in its own process group; return (process, base URL) once it answers."""
    base = f"http://{ip}:{port}"
    env = {
        **os.environ,
        **ws._env(),
        "RUNWIDGETS_PORTAL_URL": os.environ.get("RUNWIDGETS_PORTAL_URL") or base,
        "JUPYTER_PATH": os.pathsep.join(p for p in (str(TEMPLATES), os.environ.get("JUPYTER_PATH", "")) if p),
    }
    if refresh:
        env["RUNWIDGETS_DASHBOARD_REFRESH"] = str(refresh)
    cmd = [
        sys.executable, "-m", "voila", str(NOTEBOOK), "--no-browser", f"--port={port}", f"--Voila.ip={ip}",
        "--template=runwidgets", "--VoilaConfiguration.file_allowlist=[]",
    ]  # fmt: skip
    proc = subprocess.Popen(
        cmd, env=env, stdin=subprocess.DEVNULL, stdout=log or subprocess.DEVNULL, stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    deadline = time.time() + timeout
    while not _answers(f"{base}/voila/static/"):
        if proc.poll() is not None:
            raise RuntimeError(f"the dashboard server exited with code {proc.returncode} (is port {port} free?)")
        if time.time() > deadline:
            stop(proc)
            raise RuntimeError(f"the dashboard server did not answer on {base} within {timeout:.0f} s")
        time.sleep(0.25)
    return proc, base


def stop(proc: subprocess.Popen) -> None:
    """Stop the server and its kernels (its process group)."""
    stop_group(proc, 10.0)


def serve(args) -> int:
    ws = Workspace(args.workspace) if args.workspace else Workspace.from_config()
    if args.ip != "127.0.0.1":
        print(f"warning: serving on {args.ip}: anyone who can reach it can read these runs", file=sys.stderr)
    proc, base = start(ws, args.port, args.ip)
    print(f"runwidgets dashboard for {ws.location}: {base}/   (Ctrl-C stops it)", flush=True)
    if not args.no_browser:
        import webbrowser

        webbrowser.open(f"{base}/")
    try:
        proc.wait()
    except KeyboardInterrupt:
        print("stopping the dashboard", file=sys.stderr)
    finally:
        stop(proc)
    return 0
