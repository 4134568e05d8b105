"""The dashboard (Voila) in Chromium: runs listed and filtered, a run page reached from get_portal_url()."""

from __future__ import annotations

import pytest

from runwidgets import Experiment
from runwidgets.dashboard import server

from .harness import (
    browser,
    chromium_path,
    drawn_points,
    free_port,
    jupyter_env,
    new_page,
    our_errors,
    screenshot,
    wait_for,
)

pytestmark = pytest.mark.browser


def test_dashboard_lists_filters_and_opens_runs(ws, tmp_path, monkeypatch):
    chromium_path()
    for k, v in jupyter_env(tmp_path / "jupyter").items():
        monkeypatch.setenv(k, v)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    monkeypatch.setenv("RUNWIDGETS_PORTAL_URL", base)
    exp = Experiment(ws, "exp-a")
    alpha = exp.start_logging(display_name="alpha")
    alpha.tag("team", "x")
    for i in range(20):
        alpha.log("loss", 1.0 / (i + 1), step=i)
    alpha.complete()
    beta = exp.start_logging(display_name="beta")
    beta.tag("team", "y")
    beta.log("loss", 0.5)
    beta.fail("diverged")
    gamma = exp.start_logging(display_name="gamma")
    gamma.cancel()
    errors: list[str] = []
    proc, _ = server.start(ws, port, log=open(tmp_path / "voila.log", "wb"))
    try:
        with browser() as b:
            page = new_page(b, errors)
            page.goto(f"{base}/", timeout=120_000)
            rows = page.locator(".rw-runs-view tbody tr")
            wait_for(lambda: rows.count() == 3, 90, what="three runs listed")
            assert (
                page.locator(".rw-runs-view a.rw-run-link", has_text="alpha").get_attribute("href")
                == f"?run={alpha.id}"
            )
            screenshot(page, "dashboard-home-light")
            page.locator(".widget-dropdown", has_text="status").locator("select").select_option("Failed")
            wait_for(lambda: rows.count() == 1 and "beta" in rows.first.text_content(), 30, what="the status filter")
            page.locator(".widget-dropdown", has_text="status").locator("select").select_option("All")
            page.locator(".widget-text", has_text="filter").locator("input").fill("tags.team = x")
            page.keyboard.press("Enter")
            wait_for(lambda: rows.count() == 1 and "alpha" in rows.first.text_content(), 30, what="the tag filter")

            run_page = new_page(b, errors)
            run_page.goto(alpha.get_portal_url(), timeout=120_000)
            run_id = run_page.locator(".rw-header-view .rw-id-text")
            wait_for(
                lambda: run_id.count() and run_id.first.get_attribute("title") == alpha.id, 90, what="the run page"
            )
            assert run_page.locator(".rw-header-view .rw-badge").first.text_content() == "Completed"
            wait_for(lambda: drawn_points(run_page, "body", "loss") == 20, 60, what="the loss chart")
            screenshot(run_page, "dashboard-run-light")
            assert run_page.locator(".rw-header-view .rw-title").text_content() == "alpha"  # each thing once
            assert run_page.locator(".rw-header-view .rw-experiment").text_content() == "experiment exp-a"
            assert run_page.locator(".rw-header-view .rw-target").text_content() == "on local"
            assert run_page.locator("text=experiment exp-a").count() == 1
            link = run_page.locator(".rw-header-view a.rw-link").first
            assert link.get_attribute("href") == alpha.get_portal_url()
            with run_page.context.expect_page() as opened:
                link.click()
            target = opened.value
            target_id = target.locator(".rw-header-view .rw-id-text")
            wait_for(lambda: target_id.count() > 0, 90, what="the linked page")
            assert target_id.first.get_attribute("title") == alpha.id
            assert our_errors(errors) == []
    finally:
        server.stop(proc)
