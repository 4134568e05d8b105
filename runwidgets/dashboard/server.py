"""`runwidgets dashboard`: serve the portal notebook with Voila, for its user only.

By default it listens on 127.0.0.1 and answers only requests addressed to a
loopback name from its own pages (see ``voila_app.py``). ``--ip`` beyond
loopback turns the Host check off and requires a token. Every way of stopping
it (Ctrl-C at any moment, SIGTERM, SIGHUP, its parent dying) stops Voila and
every kernel it started.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from .._process import die_with_parent, exit_on_signal, stop_group
from ..store.base import env_seconds
from ..tracking.portal import forget_dashboard, record_dashboard
from ..tracking.workspace import Workspace
from .voila_app import ENV_OPEN

HERE = Path(__file__).resolve().parent
NOTEBOOK = HERE / "dashboard.ipynb"
TEMPLATES = HERE / "share"  # voila/templates/runwidgets: Voila's lab template without CDN links
CULL_SECONDS = 60.0  # a kernel no page is connected to ends within this ($RUNWIDGETS_DASHBOARD_CULL_SECONDS)


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2):
            return True
    except urllib.error.HTTPError:
        return True  # any answer means the server is up
    except OSError:
        return False


def _loopback(ip: str) -> bool:
    try:
        return ipaddress.ip_address(ip).is_loopback
    except ValueError:
        return ip == "localhost"


THEMES = ("light", "dark")  # JupyterLab's two; a page's ``?theme=`` still overrides


def command(port: int, ip: str, token: str | None, cull_seconds: float, theme: str = "light") -> list[str]:
    interval = max(1.0, cull_seconds / 6)
    cmd = [
        sys.executable, "-m", "runwidgets.dashboard.voila_app", str(NOTEBOOK), "--no-browser",
        f"--port={port}", "--Voila.port_retries=0", f"--Voila.ip={ip}", "--template=runwidgets", f"--theme={theme}",
        "--VoilaConfiguration.file_allowlist=[]",
        "--VoilaConfiguration.multi_kernel_manager_class=runwidgets.dashboard.voila_app.UnwatchedKernelCuller",
        f"--MappingKernelManager.cull_idle_timeout={max(1, int(cull_seconds - interval))}",
        f"--MappingKernelManager.cull_interval={int(interval)}",
    ]  # fmt: skip
    if token:
        cmd.append(f"--token={token}")
    return cmd


def start(
    ws: Workspace,
    port: int = 8866,
    ip: str = "127.0.0.1",
    refresh: float | None = None,
    log=None,
    timeout: float = 60,
    token: str | None = None,
    theme: str = "light",
):
    """Start Voila in its own process group; return (process, base URL) once it answers.

    The workspace is passed explicitly: the served notebook never looks for one
    itself (its working folder is this package's, which may sit in a clone
    holding another ``.runwidgets``). Interrupted at any point, it stops what it started.
    """
    if theme not in THEMES:
        raise ValueError(f"theme must be one of {', '.join(THEMES)}, not {theme!r}")
    open_to_network = not _loopback(ip)
    if open_to_network and not token:
        raise ValueError("a dashboard listening beyond loopback needs a token")
    base = f"http://{'127.0.0.1' if open_to_network else ip}:{port}"  # this machine reaches it on loopback either way
    env = {
        **os.environ,
        **ws._env(),
        "RUNWIDGETS_PORTAL_URL": os.environ.get("RUNWIDGETS_PORTAL_URL") or base,
        "JUPYTER_PATH": os.pathsep.join(p for p in (str(TEMPLATES), os.environ.get("JUPYTER_PATH", "")) if p),
        ENV_OPEN: "1" if open_to_network else "0",
    }
    if refresh:
        env["RUNWIDGETS_DASHBOARD_REFRESH"] = str(refresh)
    cull = env_seconds("RUNWIDGETS_DASHBOARD_CULL_SECONDS", CULL_SECONDS, minimum=2)
    proc = subprocess.Popen(
        command(port, ip, token, cull, theme), env=env, stdin=subprocess.DEVNULL, stdout=log or subprocess.DEVNULL,
        stderr=subprocess.STDOUT, start_new_session=True, preexec_fn=lambda: die_with_parent(signal.SIGTERM),
    )  # fmt: skip
    try:
        deadline = time.time() + timeout
        while not _answers(f"{base}/voila/static/"):
            if proc.poll() is not None:
                raise RuntimeError(f"the dashboard server exited with code {proc.returncode} (is port {port} free?)")
            if time.time() > deadline:
                raise RuntimeError(f"the dashboard server did not answer on {base} within {timeout:.0f} s")
            time.sleep(0.25)
    except BaseException:  # Ctrl-C or a signal during start-up too
        stop(proc)
        raise
    record_dashboard(ws.path, base, proc.pid)  # notebooks' run links now lead here
    _serving[proc.pid] = ws.path
    return proc, base


_serving: dict[int, Path] = {}  # pid -> the workspace folder whose record names it


def stop(proc: subprocess.Popen) -> None:
    """Stop the server and every kernel it started."""
    stop_group(proc, 10.0)
    folder = _serving.pop(proc.pid, None)
    if folder is not None:
        forget_dashboard(folder, proc.pid)


def stop_on_signals() -> None:
    """SIGTERM and SIGHUP end the CLI as Ctrl-C does: through ``finally``, which stops the server."""
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, exit_on_signal)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even when started with SIGINT ignored


def serve(args) -> int:
    stop_on_signals()
    ws = Workspace.from_config(args.workspace, create=False)
    token = args.token
    if not _loopback(args.ip):
        token = token or secrets.token_urlsafe(24)
        print(f"warning: serving on {args.ip}: anyone who can reach it and has the token can read these runs")
    proc = None
    try:
        proc, base = start(ws, args.port, args.ip, token=token, theme=args.theme)
        url = f"{base}/" + (f"?token={token}" if token else "")
        print(f"runwidgets dashboard for {ws.address}: {url}   (Ctrl-C stops it)", flush=True)
        if not args.no_browser:
            import webbrowser

            webbrowser.open(url)
        proc.wait()
    except KeyboardInterrupt:
        print("stopping the dashboard", flush=True)
    finally:
        if proc is not None:
            stop(proc)
    return 0
