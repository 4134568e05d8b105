"""RunDetails in a real browser: a JupyterLab cell, the Lab sidecar (main area and the narrow
right sidebar) and Voila, in light and dark themes. Screenshots go to test-artifacts/screenshots."""

from __future__ import annotations

import math
import shutil
import sys
import time
from pathlib import Path

import pytest

from runwidgets import Experiment, ScriptRunConfig, Workspace
from runwidgets.hyperdrive import BanditPolicy, GridParameterSampling, HyperDriveConfig, choice

from ..nbtools import make_notebook
from .harness import (
    browser,
    chromium_path,
    drawn_points,
    free_port,
    jupyter_env,
    new_page,
    our_errors,
    screenshot,
    screenshot_path,
    server,
    voila_command,
    wait_for,
)

pytestmark = pytest.mark.browser
HERE = Path(__file__).parent
XSS_NAME = '<img src=x onerror="window.__rw_xss=1">'


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    chromium_path()  # fail (CI) or skip early, before any server starts
    base = tmp_path_factory.mktemp("browser")
    src = base / "src"
    src.mkdir()
    for f in ("live_script.py", "sweep_script.py"):
        shutil.copy(HERE / f, src / f)
    ws = Workspace(base / "ws")
    sweep = Experiment(ws, "sweep").submit(
        HyperDriveConfig(
            ScriptRunConfig(str(src), "sweep_script.py"),
            GridParameterSampling({"--alpha": choice(*[round(0.1 * i, 1) for i in range(12)])}),
            "score",
            "MAXIMIZE",
            max_concurrent_runs=4,
            policy=BanditPolicy(slack_factor=0.15, delay_evaluation=2),
        )
    )
    sweep.wait_for_completion()
    return {"base": base, "src": src, "ws": ws, "sweep": sweep}


def start_live(scene, name: str):
    stop = scene["base"] / f"stop-{name}"
    run = Experiment(scene["ws"], "live").submit(
        ScriptRunConfig(str(scene["src"]), "live_script.py", environment_variables={"STOP_FILE": str(stop)})
    )
    return run, stop


def cells(ws: Path, live_id: str, sweep_id: str, sidecars: bool) -> list[str]:
    head = (
        "from runwidgets import Workspace, Run, RunDetails\n"
        f"ws = Workspace({str(ws)!r})\n"
        f"from runwidgets import Experiment\nlive = Run(Experiment(ws, 'live'), {live_id!r})\n"
        f"sweep = Run(Experiment(ws, 'sweep'), {sweep_id!r})\n"
        "RunDetails(live, refresh_interval=1).show()"
    )
    out = [head, "RunDetails(sweep, refresh_interval=1).show()"]
    if sidecars:
        out += [
            "RunDetails(live, refresh_interval=1).show(sidebar=True, title='live run')",
            "RunDetails(live, refresh_interval=1).show(sidebar=True, anchor='right', title='narrow')",
        ]
    return out


def check_view(page, root: str, errors: list[str], grows: bool = True) -> None:
    """The checks every place a view lives in must pass."""
    wait_for(lambda: page.locator(f"{root} .rw-header-view").count() > 0, 90, what=f"a run view in {root}")
    if grows:
        first = wait_for(lambda: max(drawn_points(page, root, "loss"), 0), 60, what=f"a loss line in {root}")
        wait_for(lambda: drawn_points(page, root, "loss") > first + 3, 60, what=f"the loss line to grow in {root}")
    log = page.locator(f"{root} .rw-log").first
    wait_for(lambda: "epoch" in (log.text_content() or ""), 60, what="the script's prints in the log")
    assert "<script>window.__rw_xss=2</script>" in log.text_content()  # shown as text
    assert page.evaluate("() => window.__rw_xss") is None
    assert our_errors(errors) == []


def check_xss_title(page, root: str) -> None:
    titles = page.locator(f"{root} .bqplot .mainheading").all_text_contents()
    assert XSS_NAME in titles  # a chart titled with the text itself, not an <img>
    assert page.locator(f"{root} img[src='x']").count() == 0


TICKS_JS = """(root) => Array.from(document.querySelectorAll(root + ' .rw-chart .bqplot .axis'))
  .map(a => Array.from(a.querySelectorAll('.tick text')).map(t => t.textContent))
  .filter(t => t.length > 1)"""


def round_ticks(page, root: str) -> list[list[str]]:
    """The tick labels of every chart axis under ``root``: each axis steps by 1, 2, 2.5 or 5 x 10^k."""
    axes = page.evaluate(TICKS_JS, root)
    assert len(axes) >= 4, f"too few axes with ticks: {axes}"
    for labels in axes:
        values = [float(t.replace("\u2212", "-")) for t in labels if t]
        steps = {round(b - a, 9) for a, b in zip(values, values[1:])}
        assert len(steps) == 1 or max(steps) - min(steps) < 1e-6 * max(abs(x) for x in steps), labels
        step = abs(steps.pop())
        assert step > 0, labels
        mantissa = step / 10 ** math.floor(math.log10(step))
        assert any(math.isclose(mantissa, m, rel_tol=1e-6) for m in (1, 2, 2.5, 5, 10)), labels
    return axes


def check_cockpit(page, root: str, name: str) -> None:
    """The 12-child sweep's cockpit: every child's curve, the policy's stops, parallel coordinates, progress."""
    curves = page.locator(f"{root} .rw-curves").first
    wait_for(lambda: curves.locator("path.line").count() >= 2, 60, what="the cockpit's curves")
    wait_for(
        lambda: (
            "12 of 12" in " ".join(page.locator(f"{root} .rw-progress-text").all_text_contents())
            or "stopped early" in " ".join(page.locator(f"{root} .rw-progress-text").all_text_contents())
        ),
        60,
        what="the sweep's progress line",
    )
    assert "stopped early" in curves.text_content() and "the cutoff they missed" in curves.text_content()
    curves.locator("input[type=checkbox]").first.check()  # all 12 curves
    wait_for(lambda: "12 runs" in curves.text_content(), 30, what="all 12 curves")
    curves.scroll_into_view_if_needed()
    curves.screenshot(path=str(screenshot_path(f"{name}-cockpit-curves")))
    parallel = page.locator(f"{root} .rw-parallel").first
    wait_for(lambda: parallel.locator("path.line").count() >= 1, 30, what="parallel coordinates")
    assert "--alpha" in parallel.text_content() and "score" in parallel.text_content()
    parallel.screenshot(path=str(screenshot_path(f"{name}-parallel-coordinates")))
    # tick two children: their curves overlay on one chart
    ticks = page.locator(f"{root} .rw-children input[type=checkbox]")
    ticks.nth(0).check()
    ticks.nth(1).check()
    wait_for(lambda: page.locator(f"{root} .bqplot .mainheading", has_text="of the ticked runs").count() >= 1, 30,
             what="the ticked runs' chart")  # fmt: skip
    round_ticks(page, root)
    page.locator(f"{root} .rw-progress-text").first.scroll_into_view_if_needed()
    screenshot(page, f"{name}-cockpit")


def test_lab_cell_and_sidecars(scene):
    live, stop = start_live(scene, "lab")
    base = scene["base"] / "lab"
    base.mkdir()
    nb = make_notebook(cells(scene["ws"].path, live.id, scene["sweep"].id, sidecars=True))
    import nbformat

    nbformat.write(nb, base / "live.ipynb")
    env = jupyter_env(base / "jupyter")
    port = free_port()
    cmd = [
        sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}", "--ServerApp.ip=127.0.0.1",
        "--IdentityProvider.token=", "--ServerApp.password=", f"--ServerApp.root_dir={base}",
        "--LabApp.expose_app_in_browser=True", "--allow-root",
    ]  # fmt: skip
    errors: list[str] = []
    with server(cmd, f"http://127.0.0.1:{port}/api", env, base, base / "lab.log"), browser() as b:
        page = new_page(b, errors)
        page.goto(f"http://127.0.0.1:{port}/lab/tree/live.ipynb?reset", timeout=90_000)
        wait_for(
            lambda: page.evaluate(
                "() => { const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;"
                " const k = w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel;"
                " return !!k && k.connectionStatus === 'connected' && k.status === 'idle'; }"
            ),
            90,
            what="an idle kernel",
        )
        page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
        cell, side, narrow = (
            ".jp-Notebook",
            "#jp-main-dock-panel .jupyterlab-sidecar",
            "#jp-right-stack .jupyterlab-sidecar",
        )
        check_view(page, cell, errors)
        check_view(page, side, errors)
        check_view(page, narrow, errors, grows=False)  # the narrow sidebar: rendered and usable
        wait_for(lambda: drawn_points(page, narrow, "loss") > 0, 60, what="a chart in the narrow sidebar")
        check_xss_title(page, cell)
        rows = page.locator(f"{cell} .rw-children tbody tr")
        try:
            wait_for(lambda: rows.count() == 12, 60, what="12 child rows")
        except AssertionError:
            screenshot(page, "lab-failure")
            info = page.evaluate(
                "() => [document.querySelectorAll('.rw-children tbody tr').length,"
                " document.querySelectorAll('.rw-panels-view').length,"
                " Array.from(document.querySelectorAll('.rw-title')).map(e => e.textContent)]"
            )
            raise AssertionError(f"child rows: {info}; page errors: {errors[-3:]}") from None
        assert page.locator(f"{cell} .rw-children .rw-best").count() == 1
        screenshot(page, "lab-cell-and-sidecar-light")
        check_cockpit(page, cell, "lab")
        heat = page.locator(f"{cell} .rw-heat").first
        assert "<b>bird</b>" in heat.text_content() and heat.locator("b").count() == 0  # text, not markup
        heat.screenshot(path=str(screenshot_path("lab-confusion-matrix")))
        stop.touch()
        wait_for(
            lambda: page.locator(f"{cell} .rw-header-view .rw-badge", has_text="Completed").count() == 2,
            60,
            what="the live run to show Completed",
        )
        wait_for(
            lambda: page.locator(f"{side} .rw-badge", has_text="Completed").count() >= 1, 30, what="sidecar Completed"
        )
        page.evaluate("() => window.jupyterapp.commands.execute('apputils:change-theme', {theme: 'JupyterLab Dark'})")
        wait_for(lambda: page.evaluate("() => document.body.dataset.jpThemeLight") == "false", 30, what="dark theme")
        time.sleep(1.0)
        screenshot(page, "lab-cell-and-sidecar-dark")
        # the text colour follows the theme: light text on the dark theme
        color = page.evaluate("() => getComputedStyle(document.querySelector('.jp-Notebook .rw-title')).color")
        r, g, bl = [int(x) for x in color[color.index("(") + 1 : color.index(")")].split(",")[:3]]
        assert r + g + bl > 3 * 150, color
        assert page.evaluate("() => window.__rw_xss") is None
        assert our_errors(errors) == []
    assert live.get_status() == "Completed"


def test_voila(scene):
    live, stop = start_live(scene, "voila")
    base = scene["base"] / "voila"
    base.mkdir()
    import nbformat

    nbformat.write(
        make_notebook(cells(scene["ws"].path, live.id, scene["sweep"].id, sidecars=False)), base / "app.ipynb"
    )
    env = jupyter_env(base / "jupyter")
    port = free_port()
    cmd = voila_command(base / "app.ipynb", port)
    errors: list[str] = []
    with (
        server(cmd, f"http://127.0.0.1:{port}/voila/static/", env, base, base / "voila.log", accept_404=True),
        browser() as b,
    ):
        page = new_page(b, errors)
        page.goto(f"http://127.0.0.1:{port}/", timeout=120_000)
        check_view(page, "body", errors)
        check_xss_title(page, "body")
        rows = page.locator(".rw-children tbody tr")
        wait_for(lambda: rows.count() == 12, 60, what="12 child rows")
        screenshot(page, "voila-light")
        check_cockpit(page, "body", "voila")
        stop.touch()
        wait_for(
            lambda: page.locator(".rw-header-view .rw-badge", has_text="Completed").count() == 2, 60, what="Completed"
        )
        assert our_errors(errors) == []
        # the same page in Voila's dark theme (chosen on its command line)
        dark_port = free_port()
        dark_cmd = [*voila_command(base / "app.ipynb", dark_port), "--theme=dark"]
        with server(
            dark_cmd, f"http://127.0.0.1:{dark_port}/voila/static/", env, base, base / "voila-dark.log", accept_404=True
        ):
            dark = new_page(b, errors)
            dark.goto(f"http://127.0.0.1:{dark_port}/", timeout=120_000)
            wait_for(lambda: dark.locator(".rw-header-view").count() == 2, 90, what="the dark page's views")
            wait_for(lambda: drawn_points(dark, "body", "loss") > 0, 60, what="a chart on the dark page")
            time.sleep(1.0)
            screenshot(dark, "voila-dark")
            bg = dark.evaluate("() => getComputedStyle(document.querySelector('.rw-log')).backgroundColor")
            assert sum(int(x) for x in bg[bg.index("(") + 1 : bg.index(")")].split(",")[:3]) < 3 * 100, bg
        assert our_errors(errors) == []
