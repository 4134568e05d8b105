"""The portal in Chromium (Voila): the demo's sweep unfolded, sorted, filtered and compared; the table at
two widths without a wrapped word; a chart downloaded as PNG; an experiment of 10,000 runs paged."""

from __future__ import annotations

import shutil
from typing import cast

import pytest

from runwidgets import Experiment
from runwidgets.dashboard import server
from runwidgets.dashboard.compare import short_id
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


# Text whose colour is too close to what is drawn behind it (WCAG contrast ratio below ``least``); what is
# behind is the element's backgrounds up the tree, translucent ones blended.
FAINT_JS = """([root, least]) => {
  // [r, g, b, alpha] of a computed colour: rgb()/rgba(), or color(srgb ...) as color-mix() gives
  const parse = (c) => {
    const n = (c.match(/[\\d.]+/g) || []).map(Number);
    const rgb = c.startsWith("color(") ? n.slice(0, 3).map((v) => v * 255) : n.slice(0, 3);
    return [...rgb, n.length > 3 ? n[3] : 1];
  };
  const over = (top, under) => top.slice(0, 3).map((v, i) => v * top[3] + under[i] * (1 - top[3]));
  const behind = (el) => {
    const layers = [];
    for (let e = el; e; e = e.parentElement) {
      const c = parse(getComputedStyle(e).backgroundColor);
      if (c[3] > 0) layers.push(c);
      if (c[3] >= 1) break;
    }
    return layers.reduceRight((under, top) => over(top, under), [255, 255, 255]);
  };
  const lum = (rgb) => {
    const f = (v) => ((v /= 255) <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4);
    return 0.2126 * f(rgb[0]) + 0.7152 * f(rgb[1]) + 0.0722 * f(rgb[2]);
  };
  const out = [];
  for (const el of document.querySelectorAll(root + " td, " + root + " th, " + root + " a")) {
    if (!el.textContent.trim() || !el.offsetParent) continue;
    const bg = behind(el);
    const [a, b] = [lum(over(parse(getComputedStyle(el).color), bg)), lum(bg)];
    const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    if (ratio < least) out.push(`${el.textContent.trim().slice(0, 30)}: ${ratio.toFixed(2)}`);
  }
  return out;
}"""


def dark_pages(page, base: str, run_id: str, width: int) -> None:
    """The demo's experiment and a run page in the dark theme: readable, unwrapped, never wider than the window."""
    page.goto(f"{base}/?experiment=digits-sgd&theme=dark", timeout=120_000)
    wait_for(lambda: page.locator(".rw-runs-view tbody tr").count() == 1, 90, what="the dark page")
    assert "theme-dark" in page.evaluate("document.body.className")
    page.locator(".rw-runs-view button.rw-expand").click()
    wait_for(lambda: page.locator("tr.rw-child-row").count() == 6, 30, what="the children, dark")
    assert page.evaluate(FAINT_JS, [".rw-runs-view", 4.5]) == []
    assert page.evaluate(WRAPPED_JS, ".rw-runs-view") == []
    # the page itself never scrolls sideways: a wide table scrolls inside its own box
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    screenshot(page, f"portal-dark-{width}")
    page.locator(f".rw-runs-view tr[data-run-id='{run_id}'] a.rw-id-text").click()
    page.wait_for_url("**/?run=*theme=dark*", timeout=30_000)  # the theme follows the portal's links
    wait_for(lambda: page.locator(".rw-header").count() == 1, 90, what="the run page, dark")
    assert "theme-dark" in page.evaluate("document.body.className")
    wait_for(lambda: page.locator(".rw-chart .bqplot.figure").count() >= 1, 90, what="the run's charts, dark")
    assert page.evaluate(FAINT_JS, [".rw-header", 4.5]) == []
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    screenshot(page, f"portal-run-dark-{width}")
    page.context.close()


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

            # a point's value shows on hover: its run, step and value
            first_accuracy = ws.get_run(ranked[0]).get_metrics()["accuracy"][0]
            chart = charts.filter(has=page.locator(".mainheading", has_text="accuracy")).first
            dots = chart.locator("g.object_grp path.dot")  # invisible, one on each point
            wait_for(lambda: dots.count() == 2 * 4, 30, what="a hover dot on each of 2 x 4 points")
            tip = page.locator(".bqplot_tooltip_div", has_text="value").first
            want = {"run": short_id(ranked[0]), "step": "0", "value": f"{first_accuracy:.6g}"}
            shown: list[dict[str, str]] = []
            for i in range(dots.count()):  # a dot under the legend box shows no tip: the legend is on top
                dots.nth(i).hover(force=True)
                page.wait_for_timeout(300)
                if tip.is_visible():
                    shown.append(dict(line.split("\t", 1) for line in tip.inner_text().strip().splitlines()))
                if want in shown:
                    break
            assert want in shown, shown
            screenshot(page, "portal-compare-hover")

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

            # the dark theme, at the narrowest and the widest width we support
            for width in (600, 1920):
                dark_pages(new_page(b, errors, width=width), base, ranked[0], width)

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
