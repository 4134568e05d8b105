"""The portal in Chromium (Voila): the demo's sweep unfolded, sorted, filtered and compared; the table at
two widths without a wrapped word; a chart downloaded as PNG; an experiment of 10,000 runs paged."""

from __future__ import annotations

import shutil
from typing import cast

import pytest

from runwidgets import Experiment
from runwidgets.dashboard import server
from runwidgets.dashboard.demo import demo_source, demo_sweep
from runwidgets.submit.sweep import HyperDriveRun
from tests.many_runs import seed_runs

from .harness import browser, chromium_path, free_port, jupyter_env, new_page, our_errors, screenshot, wait_for

pytestmark = pytest.mark.browser

# Every text node of the table on one line: a cell that wraps (inside a word or between words) has a
# text node drawn as more than one box.
WRAPPED_JS = """(root) => {
  const out = [];
  const walker = document.createTreeWalker(document.querySelector(root), NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    if (!n.textContent.trim() || !n.parentElement.offsetParent) continue;
    const range = document.createRange();
    range.selectNodeContents(n);
    const lines = new Set([...range.getClientRects()].map((r) => Math.round(r.top)));
    if (lines.size > 1) out.push(n.textContent);
  }
  return out;
}"""


def header(page, key: str):
    return page.locator(f".rw-runs-view th[data-key='{key}']")


def test_the_portal_on_the_demo_workspace(ws, tmp_path, monkeypatch):
    chromium_path()
    for k, v in jupyter_env(tmp_path / "jupyter").items():
        monkeypatch.setenv(k, v)
    src = demo_source()
    sweep = cast(HyperDriveRun, Experiment(ws, "digits-sgd").submit(demo_sweep(src, 4, 0)))
    shutil.rmtree(src, ignore_errors=True)
    sweep.wait_for_completion(raise_on_error=False)
    kids = sweep.get_children()
    assert len(kids) == 6
    acc = {k.id: k.get_metrics()["accuracy"][-1] for k in kids}
    ranked = sorted(acc, key=lambda i: -acc[i])
    seed_runs(ws.store, "big", 10_000)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    errors: list[str] = []
    proc, _ = server.start(ws, port, log=open(tmp_path / "voila.log", "wb"))
    try:
        assert ws.portal_hint() is None and ws.portal_url == base  # notebooks' run links lead here now
        with browser() as b:
            page = new_page(b, errors, width=1400)
            page.goto(f"{base}/?experiment=digits-sgd", timeout=120_000)
            rows = page.locator(".rw-runs-view tbody tr")
            wait_for(lambda: rows.count() == 1, 90, what="the sweep's row")
            expand = page.locator(".rw-runs-view button.rw-expand")
            assert expand.text_content() == "▸ 6"
            expand.click()
            children = page.locator(".rw-runs-view tbody tr.rw-child-row")
            wait_for(lambda: children.count() == 6, 30, what="the sweep's six children")

            # sorting by accuracy puts the best child first
            header(page, "metrics.accuracy").click()
            wait_for(lambda: children.first.get_attribute("data-run-id") == ranked[0], 30, what="best first")
            assert [children.nth(i).get_attribute("data-run-id") for i in range(6)] == ranked
            assert "▼" in header(page, "metrics.accuracy").text_content()
            full = page.locator(f".rw-runs-view tr[data-run-id='{ranked[0]}'] .rw-id-text")
            assert full.get_attribute("title") == ranked[0] and "…" in full.text_content()  # shortened, whole on hover
            screenshot(page, "portal-sweep-1400")
            assert page.evaluate(WRAPPED_JS, ".rw-runs-view") == []

            page.set_viewport_size({"width": 800, "height": 1000})
            page.wait_for_timeout(500)
            assert page.evaluate(WRAPPED_JS, ".rw-runs-view") == []
            screenshot(page, "portal-sweep-800")
            page.set_viewport_size({"width": 1400, "height": 1000})

            # tick the two best children and compare them
            for rid in ranked[:2]:
                page.locator(f".rw-runs-view input[data-run-id='{rid}']").check()
            compare = page.locator("button", has_text="Compare 2 ticked runs")
            wait_for(lambda: compare.is_enabled(), 30, what="the compare button")
            compare.click()
            charts = page.locator(".rw-compare .rw-curves")
            wait_for(lambda: charts.count() >= 1, 60, what="the compare charts")
            legend = page.locator(".rw-compare .rw-curves").first.locator(".legendtext")
            wait_for(lambda: legend.count() == 2, 30, what="two runs in the legend")
            table = page.locator(".rw-compare-table")
            assert (
                table.locator("tr.rw-diff", has_text="param --alpha").count()
                + table.locator("tr.rw-diff", has_text="param --eta0").count()
                >= 1
            )  # two grid points differ in at least one hyperparameter
            page.locator(".rw-compare").scroll_into_view_if_needed()
            screenshot(page, "portal-compare")

            # a chart downloads as PNG
            with page.expect_download() as download:
                charts.first.locator("button", has_text="PNG").click()
            saved = tmp_path / "chart.png"
            download.value.save_as(saved)
            assert download.value.suggested_filename.endswith(".png")
            assert saved.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and saved.stat().st_size > 2000

            # a filter by value lists the children that pass, flat, each naming its sweep
            cut = (acc[ranked[1]] + acc[ranked[2]]) / 2
            page.locator(".widget-text", has_text="filter").locator("input").fill(f"accuracy > {cut:.6f}")
            page.keyboard.press("Enter")
            wait_for(lambda: rows.count() == 2, 30, what="the filtered rows")
            assert sorted(rows.nth(i).get_attribute("data-run-id") for i in range(2)) == sorted(ranked[:2])
            assert f"in {ws.store.get_run(sweep.id).name}" in rows.first.text_content()
            screenshot(page, "portal-filtered")

            # 10,000 runs: a page of 50 at a time
            big = new_page(b, errors, width=1400)
            big.goto(f"{base}/?experiment=big", timeout=120_000)
            big_rows = big.locator(".rw-runs-view tbody tr")
            wait_for(lambda: big_rows.count() == 50, 90, what="the first page of 10,000 runs")
            where = big.locator(".rw-page-where")
            assert where.text_content() == "runs 1–50 of 10,000"
            big.locator("button.rw-page-next").click()
            wait_for(lambda: where.text_content() == "runs 51–100 of 10,000", 30, what="the second page")
            header(big, "metrics.accuracy").click()
            wait_for(lambda: "run 09999" in big_rows.first.text_content(), 30, what="the best of 10,000 first")
            assert where.text_content() == "runs 1–50 of 10,000"  # a new sort starts at the first page
            screenshot(big, "portal-10000")
            assert our_errors(errors) == []
    finally:
        server.stop(proc)
    assert ws.portal_hint() is not None  # the dashboard stopped: links say how to start it
