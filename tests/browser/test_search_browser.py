"""Searches in a real browser (Voila + Chromium): an AutoML run watched live from the notebook that
submitted it, and an Optuna study in the sweep cockpit. Screenshots go to test-artifacts/screenshots."""

from __future__ import annotations

import pytest

from runwidgets import Experiment, Workspace

from ..nbtools import make_notebook
from .harness import (
    browser,
    chromium_path,
    free_port,
    jupyter_env,
    new_page,
    our_errors,
    screenshot_path,
    server,
    voila_command,
)
from .harness import wait_for as wait_for_page

pytestmark = pytest.mark.browser
optuna = pytest.importorskip("optuna")
pytest.importorskip("flaml")

ITERATIONS = 30


def record_study(ws: Workspace) -> str:
    """A finished 20-trial Optuna study with a MedianPruner, recorded as a sweep; returns the parent's id."""
    from studies import median_pruned_study

    parent = Experiment(ws, "optuna").start_logging(display_name="optuna study")
    median_pruned_study(parent)
    parent.complete()
    return parent.id


def notebook_cells(ws_path: str, study_id: str) -> list[str]:
    return [
        "from runwidgets import Experiment, Run, RunDetails, Workspace\n"
        f"ws = Workspace({ws_path!r})\n"
        f"RunDetails(Run(Experiment(ws, 'optuna'), {study_id!r}), refresh_interval=1).show()",
        # the notebook a user writes: submit the search, then watch it
        "import pandas as pd\n"
        "from sklearn.datasets import make_classification\n"
        "from runwidgets.automl import AutoMLConfig\n"
        "X, y = make_classification(n_samples=20000, n_features=30, n_informative=12, random_state=0)\n"
        "data = pd.DataFrame(X, columns=[f'f{i}' for i in range(30)]).assign(target=y)\n"
        "config = AutoMLConfig(task='classification', primary_metric='AUC_weighted', training_data=data,\n"
        "                      label_column_name='target', n_cross_validations=3, iterations=" + str(ITERATIONS) + ",\n"
        "                      experiment_timeout_minutes=3, random_seed=1,\n"
        "                      allowed_models=['LightGBM', 'LogisticRegression', 'RandomForest', 'ExtremeRandomTrees'])\n"
        "automl_run = Experiment(ws, 'automl').submit(config)\n"
        "RunDetails(automl_run, refresh_interval=1).show()",
    ]


def headers(view) -> list[str]:
    return [t.replace(" ▲", "").replace(" ▼", "") for t in view.locator(".rw-children thead th").all_text_contents()]


def test_automl_live_and_optuna_cockpit(tmp_path):
    chromium_path()
    ws = Workspace(tmp_path / "ws")
    study_id = record_study(ws)
    base = tmp_path / "voila"
    base.mkdir()
    import nbformat

    nbformat.write(make_notebook(notebook_cells(str(ws.path), study_id)), base / "app.ipynb")
    env = jupyter_env(base / "jupyter")
    port = free_port()
    cmd = voila_command(base / "app.ipynb", port)
    errors: list[str] = []
    try:
        with (
            server(cmd, f"http://127.0.0.1:{port}/voila/static/", env, base, base / "voila.log", accept_404=True),
            browser() as b,
        ):
            page = new_page(b, errors, height=1400)
            page.goto(f"http://127.0.0.1:{port}/", timeout=120_000)
            wait_for_page(lambda: page.locator(".rw-root").count() >= 2, 120, what="both views")
            study, automl = page.locator(".rw-root").nth(0), page.locator(".rw-root").nth(1)
            check_automl_live(page, automl)
            check_optuna_cockpit(study)
            check_automl_done(page, automl)
            assert our_errors(errors) == []
    finally:
        for run in Experiment(ws, "automl").get_runs():
            if run.get_status() in ("NotStarted", "Queued", "Starting", "Preparing", "Running"):
                run.cancel()
                run.wait_for_completion()


def check_automl_live(page, view) -> None:
    """Iterations arrive while the search runs: the table, the metric chart, and progress against iterations."""
    rows = view.locator(".rw-children tbody tr")
    badge = view.locator(".rw-header-view .rw-badge").first
    seen_live = wait_for_page(
        lambda: rows.count() >= 2 and "Running" in (badge.text_content() or "") and rows.count(),
        150,
        interval=0.25,
        what="two iterations while the search runs",
    )
    assert headers(view)[2:] == ["iteration", "pipeline", "status", "duration", "AUC_weighted", "best"]
    progress = view.locator(".rw-progress-text").first.text_content() or ""
    assert f"of {ITERATIONS} done" in progress, progress
    view.locator(".rw-children").first.scroll_into_view_if_needed()
    view.screenshot(path=str(screenshot_path("voila-automl-live")))
    assert seen_live < ITERATIONS


def check_optuna_cockpit(view) -> None:
    """The finished study: every trial a child, pruned ones marked on the curves, parameters in parallel."""
    rows = view.locator(".rw-children tbody tr")
    wait_for_page(lambda: rows.count() == 20, 60, what="20 trial rows")
    assert view.locator(".rw-children .rw-best").count() == 1
    assert view.locator(".rw-children .rw-stopped").count() >= 1  # pruned trials say so
    curves = view.locator(".rw-curves").first
    wait_for_page(lambda: curves.locator("path.line").count() >= 2, 60, what="the study's curves")
    assert "stopped early" in (curves.text_content() or "")  # pruned trials, crossed
    parallel = view.locator(".rw-parallel").first
    wait_for_page(lambda: parallel.locator("path.line").count() >= 1, 60, what="parallel coordinates")
    text = parallel.text_content() or ""
    assert "lr" in text and "layers" in text and "accuracy" in text
    progress = view.locator(".rw-progress-text").first.text_content() or ""
    assert "of 20 done" in progress and "stopped early" in progress, progress
    view.scroll_into_view_if_needed()
    view.screenshot(path=str(screenshot_path("voila-optuna-cockpit")))


def cells(view, column: int) -> list[str]:
    return view.locator(f".rw-children tbody td:nth-child({column})").all_text_contents()


def check_automl_done(page, view) -> None:
    """The finished search: every iteration listed once (25 a page), the best starred, sorting, another
    metric picked, and a row opened as its own run."""
    badge = view.locator(".rw-header-view .rw-badge").first
    wait_for_page(lambda: "Completed" in (badge.text_content() or ""), 240, what="the search to complete")
    summary = view.locator(".rw-children-section summary").first
    wait_for_page(lambda: f"({ITERATIONS})" in (summary.text_content() or ""), 30, what=f"{ITERATIONS} iterations")
    rows = view.locator(".rw-children tbody tr")
    assert rows.count() == 25 and "page 1 of 2" in (view.locator(".rw-pager").text_content() or "")
    iterations, pipelines, scores = cells(view, 3), cells(view, 4), cells(view, 7)
    best_score = float(view.locator(".rw-children tbody tr.rw-best td:nth-child(7)").all_text_contents()[0] or "nan")
    view.locator(".rw-pager button", has_text="next").click()
    wait_for_page(lambda: rows.count() == ITERATIONS - 25, 10, what="the second page")
    iterations += cells(view, 3)
    pipelines += cells(view, 4)
    scores += cells(view, 7)
    assert sorted(int(t) for t in iterations) == list(range(ITERATIONS))
    assert len(set(pipelines)) >= 2
    assert best_score == max(float(t) for t in scores if t)
    view.locator(".rw-pager button", has_text="prev").click()
    # sort by the metric, best first: the starred row comes to the top
    header = view.locator(".rw-children th", has_text="AUC_weighted")
    header.click()
    header.click()
    assert "rw-best" in (rows.first.get_attribute("class") or "")
    assert view.locator(".rw-children tr.rw-best").count() == 1
    # another metric per iteration
    view.locator(".rw-chart select").first.select_option("accuracy")
    wait_for_page(
        lambda: view.locator(".bqplot .mainheading", has_text="accuracy per child run").count() == 1,
        30,
        what="the accuracy chart",
    )
    log = view.locator(".rw-log").first  # the driver's log, where Azure's iteration table is printed
    wait_for_page(lambda: "ITERATION" in (log.text_content() or ""), 30, what="the iteration table in the log")
    assert "monospace" in log.evaluate("e => getComputedStyle(e).fontFamily")  # its columns line up
    view.scroll_into_view_if_needed()
    view.screenshot(path=str(screenshot_path("voila-automl-done")))
    opened = rows.nth(1).get_attribute("data-run-id")
    rows.nth(1).locator("td:nth-child(4)").click()  # opens that iteration's run below
    inner = view.locator(".rw-root")
    wait_for_page(lambda: inner.count() == 1, 60, what="the iteration's own view")
    wait_for_page(lambda: opened in (inner.first.text_content() or ""), 30, what="the opened iteration's id")
