"""The dashboard only its user can reach, serving the workspace named, leaving no kernel behind.

One server for the module, started from a folder whose parent holds another
``.runwidgets`` (the decoy), with the kernel cull time shrunk to a few seconds.
"""

from __future__ import annotations

import http.client
import http.server
import os
import threading
import time
from functools import partial

import psutil
import pytest

from runwidgets import Experiment, Workspace
from runwidgets.dashboard import server

from .harness import browser, chromium_path, free_port, jupyter_env, new_page, screenshot, wait_for

pytestmark = pytest.mark.browser
CULL = 6.0  # seconds: a kernel no page is connected to ends within this


def kernels(proc) -> list[psutil.Process]:
    try:
        return [p for p in psutil.Process(proc.pid).children(recursive=True) if "ipykernel" in " ".join(p.cmdline())]
    except psutil.Error:
        return []


@pytest.fixture(scope="module")
def dashboard(tmp_path_factory):
    chromium_path()
    base = tmp_path_factory.mktemp("guard")
    env = jupyter_env(base / "jupyter")
    old = {k: os.environ.get(k) for k in (*env, "RUNWIDGETS_DASHBOARD_CULL_SECONDS")}
    os.environ.update(env)
    os.environ["RUNWIDGETS_DASHBOARD_CULL_SECONDS"] = str(CULL)
    decoy = Workspace(base / ".runwidgets")
    Experiment(decoy, "decoy-experiment").start_logging().complete()
    mine = Workspace(base / "mine")
    run = Experiment(mine, "mine-experiment").start_logging(display_name="the-run-to-find")
    run.log("loss", 0.5)
    run.complete()
    below = base / "below"
    below.mkdir()
    port = free_port()
    cwd = os.getcwd()
    os.chdir(below)
    try:
        proc, url = server.start(mine, port, log=open(base / "voila.log", "wb"))
    finally:
        os.chdir(cwd)
    yield proc, url, port, run
    server.stop(proc)
    for k, v in old.items():
        os.environ.pop(k, None) if v is None else os.environ.__setitem__(k, v)


def status_of(port: int, headers: dict, path: str = "/") -> int:
    con = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        con.putrequest("GET", path, skip_host=True)
        for k, v in headers.items():
            con.putheader(k, v)
        con.endheaders()
        return con.getresponse().status
    finally:
        con.close()


def test_foreign_host_origin_and_cross_site_loads_are_refused_without_a_kernel(dashboard):
    proc, url, port, _ = dashboard
    wait_for(lambda: not kernels(proc), CULL * 3, what="no kernel before the test")
    host = f"127.0.0.1:{port}"
    assert status_of(port, {"Host": f"evil.example:{port}"}) == 403  # DNS rebinding
    assert status_of(port, {"Host": host, "Origin": "http://evil.example"}) == 403
    img = {"Host": host, "Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "no-cors", "Sec-Fetch-Dest": "image"}
    assert status_of(port, img) == 403
    frame = {"Host": host, "Sec-Fetch-Site": "same-site", "Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "iframe"}
    assert status_of(port, frame) == 403
    time.sleep(1.0)
    assert kernels(proc) == []  # no refused request started one
    for name in ("localhost", "[::1]", "127.0.0.1"):
        assert status_of(port, {"Host": f"{name}:{port}"}, "/voila/static/voila.js") == 200
    link = {"Host": host, "Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "document"}
    assert status_of(port, link) == 200  # a person following a link from elsewhere gets in


def test_another_pages_img_and_fetch_start_no_kernel(dashboard, tmp_path):
    """In Chromium: a page on another port of this machine embeds the dashboard; nothing reaches Voila's kernels."""
    proc, url, port, _ = dashboard
    wait_for(lambda: not kernels(proc), CULL * 3, what="no kernel before the test")
    (tmp_path / "evil.html").write_text(
        f'<img src="{url}/"><iframe src="{url}/"></iframe>'
        f'<script>fetch("{url}/", {{mode: "no-cors"}}).then(() => document.title = "sent")</script>'
    )
    httpd = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    )
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        with browser() as b:
            page = new_page(b, [])
            page.goto(f"http://127.0.0.1:{httpd.server_address[1]}/evil.html")
            wait_for(lambda: page.title() == "sent", 30, what="the fetch to be sent")
            time.sleep(2.0)
            assert kernels(proc) == []
    finally:
        httpd.shutdown()


def test_named_workspace_shown_and_a_closed_pages_kernel_ends(dashboard):
    proc, url, port, run = dashboard
    wait_for(lambda: not kernels(proc), CULL * 3, what="no kernel before the test")
    with browser() as b:
        page = new_page(b, [])
        page.goto(f"{url}/", timeout=120_000)
        rows = page.locator(".rw-runs-view tbody tr")
        wait_for(lambda: rows.count() == 1, 90, what="the named workspace's run")
        text = page.locator("body").text_content()
        assert "the-run-to-find" in text and "decoy" not in text
        screenshot(page, "dashboard-named-workspace")
        assert len(kernels(proc)) == 1
        page.close(run_before_unload=False)  # a crashed tab: Voila's beforeunload clean-up never runs
        # the cull period, with room for a loaded machine (the default period is 60 s)
        wait_for(lambda: not kernels(proc), CULL + 30, interval=0.5, what="the kernel of the closed page to end")
