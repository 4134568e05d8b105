"""Servers and a browser for the Playwright suite (the recipe: CONTRIBUTING.md, "Browser tests")."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "screenshots"
CHROME_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
]  # fmt: skip


def chromium_path() -> str:
    """Debian's Chromium; under CI its absence fails the suite instead of skipping it."""
    for p in ("/usr/bin/chromium", shutil.which("chromium") or ""):
        if p and os.access(p, os.X_OK):
            return p
    msg = "Debian's chromium is not installed (make test installs it: apt-get install chromium)"
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(msg)
    pytest.skip(msg)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def jupyter_env(base: Path) -> dict[str, str]:
    env = dict(os.environ)
    for var, sub in (("JUPYTER_CONFIG_DIR", "config"), ("JUPYTER_DATA_DIR", "data"), ("IPYTHONDIR", "ipython")):
        (base / sub).mkdir(parents=True, exist_ok=True)
        env[var] = str(base / sub)
    settings = base / "config" / "lab" / "user-settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True, exist_ok=True)
    (settings / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False})
    )
    # Render every cell: Lab 4 detaches cells scrolled out of view, which hides their widgets from the test.
    nb_settings = base / "config" / "lab" / "user-settings" / "@jupyterlab" / "notebook-extension"
    nb_settings.mkdir(parents=True, exist_ok=True)
    (nb_settings / "tracker.jupyterlab-settings").write_text(json.dumps({"windowingMode": "none"}))
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


def _ready(url: str, accept_404: bool) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return r.status == 200
    except urllib.error.HTTPError as e:
        return accept_404 and e.code == 404
    except OSError:
        return False


@contextmanager
def server(
    cmd: list[str], ready_url: str, env: dict, cwd: Path, log: Path, accept_404: bool = False, timeout: float = 90
):
    """Start a server bound to 127.0.0.1 and stop it by its own pid (terminate, then kill)."""
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        deadline = time.time() + timeout
        while not _ready(ready_url, accept_404):
            if proc.poll() is not None:
                raise RuntimeError(f"server exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
            if time.time() > deadline:
                raise RuntimeError(f"server not ready at {ready_url}:\n{log.read_text()[-3000:]}")
            time.sleep(0.3)
        yield proc
    finally:
        stop_process(proc)


def stop_process(proc: subprocess.Popen, timeout: float = 10) -> None:
    """Stop one server by its own pid: terminate, then kill what did not exit within ``timeout``."""
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def voila_command(notebook: Path, port: int) -> list[str]:
    """Voila serving ``notebook`` on 127.0.0.1:``port``, tracebacks shown (tests read them in its log)."""
    return [
        sys.executable, "-m", "voila", str(notebook), "--no-browser", f"--port={port}",
        "--Voila.ip=127.0.0.1", "--show_tracebacks=True",
    ]  # fmt: skip


@contextmanager
def browser():
    from playwright.sync_api import sync_playwright

    exe = chromium_path()
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=exe, headless=True, args=CHROME_ARGS)
        try:
            yield b
        finally:
            b.close()


def new_page(b, errors: list[str], width: int = 1400, height: int = 1000):
    ctx = b.new_context(viewport={"width": width, "height": height})
    # Only this machine's loopback: Voila asks a CDN for fonts, which would stall offline.
    ctx.route(lambda url: not url.startswith("http://127.0.0.1"), lambda route: route.abort())
    page = ctx.new_page()
    page.on("pageerror", lambda e: errors.append(f"{e}\n{getattr(e, 'stack', '')}"))
    return page


def screenshot_path(name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS / f"{name}.png"


def screenshot(page, name: str) -> Path:
    path = screenshot_path(name)
    page.screenshot(path=str(path), full_page=False)
    return path


OUR_FUNCTIONS = (
    "drawChildren",
    "drawProgress",
    "drawTables",
    "drawImages",
    "drawLogNames",
    "appendLog",
    "drawProps",
    "drawConn",
    "drawDuration",
    "safeHref",
    "drawFollow",
    "runRow",
    "drawPager",
    "idChip",
)


def our_errors(errors: list[str]) -> list[str]:
    return [e for e in errors if any(f in e for f in OUR_FUNCTIONS)]


POINTS_JS = """([root, title]) => {
  for (const fig of document.querySelectorAll(root + ' .bqplot.figure')) {
    const t = fig.querySelector('.mainheading');
    if (!t || t.textContent !== title) continue;
    const path = fig.querySelector('path.line');
    if (!path) return 0;
    const d = path.getAttribute('d') || '';
    return (d.match(/[ML]/g) || []).length;
  }
  return -1;
}"""


def drawn_points(frame, root: str, title: str) -> int:
    """Points drawn by the line of the chart titled ``title`` under ``root`` (-1: no such chart)."""
    return frame.evaluate(POINTS_JS, [root, title])


def wait_for(fn, timeout: float = 60, interval: float = 0.5, what: str = "condition"):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what} (last: {last!r})")
