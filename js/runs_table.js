// The dashboard's runs table: one page of runs from the store, children folded under their parent,
// sorting by any column header, a checkbox per run to compare. Python reads the pages; this view asks
// for them by setting `sort`, `page` and `expanded`, and sends back what is ticked in `selected`.
import { copyButton, fmtSpan, fmtValue, h, idChip, shortId, statusClass } from "./common.js";

const FIXED = [
  { key: "attributes.name", label: "run" },
  { key: "attributes.status", label: "status" },
  { key: "attributes.started", label: "started" },
  { key: "attributes.duration", label: "duration", num: true },
];

/** "2026-11-23 14:05": sortable, short, and the same width on every row. */
function fmtWhen(t) {
  if (!t) return "";
  const d = new Date(t * 1000);
  const p = (/** @type {number} */ n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}`;
}

export default {
  /** @param {{ model: any, el: HTMLElement }} props */
  render({ model, el }) {
    el.classList.add("rw", "rw-runs-view");
    const controller = new AbortController();
    const signal = controller.signal;
    const scroller = h("div", "rw-runs-scroll");
    const table = h("table", "rw-table rw-runs");
    scroller.append(table);
    const empty = h("p", "rw-muted rw-runs-empty", "No runs match.");
    const pager = h("div", "rw-pager");
    el.append(scroller, empty, pager);

    function save(name, value) {
      model.set(name, value);
      model.save_changes();
    }

    function header() {
      const sort = model.get("sort") || {};
      const tr = h("tr");
      const all = h("th", "rw-tick");
      tr.append(all);
      const columns = [...FIXED, ...(model.get("columns") || [])];
      for (const c of columns) {
        // numbers line up on the right under a right-aligned header: metrics and durations
        const th = h("th", `rw-sortable${c.kind === "metrics" || c.num ? " rw-num" : ""}`);
        th.dataset.key = c.key;
        th.title = c.title || `sort by ${c.label}`;
        const arrow = sort.key === c.key ? (sort.descending ? " ▼" : " ▲") : "";
        th.append(h("span", null, c.label), h("span", "rw-sort-arrow", arrow));
        if (sort.key === c.key) th.setAttribute("aria-sort", sort.descending ? "descending" : "ascending");
        tr.append(th);
      }
      const thead = h("thead");
      thead.append(tr);
      return thead;
    }

    /** @param {any} row @param {number} depth */
    function runRow(row, depth, selected, expanded) {
      const tr = h("tr", depth ? "rw-child-row" : null);
      tr.dataset.runId = row.id;
      const tick = h("td", "rw-tick");
      const box = h("input");
      box.type = "checkbox";
      box.checked = selected.has(row.id);
      box.title = "tick to compare";
      box.dataset.runId = row.id;
      tick.append(box);
      const name = h("td", "rw-run-cell");
      const wrap = h("div", "rw-run-name");
      wrap.style.paddingLeft = `${depth * 18}px`;
      if (row.children) {
        const open = Object.hasOwn(expanded, row.id);
        const toggle = h("button", "rw-expand", `${open ? "▾" : "▸"} ${row.children}`);
        toggle.type = "button";
        toggle.dataset.runId = row.id;
        toggle.title = `${open ? "fold" : "list"} its ${row.children} child runs`;
        toggle.setAttribute("aria-expanded", String(open));
        wrap.append(toggle);
      }
      const a = h("a", "rw-link rw-run-link", row.name);
      a.href = `?run=${encodeURIComponent(row.id)}`;
      a.title = row.name;
      wrap.append(a);
      if (row.name !== row.id) wrap.append(idChip(row.id));
      else {
        // a run named by its id: the id's ends, the whole on hover, and copyable
        a.textContent = shortId(row.id);
        a.classList.add("rw-id-text");
        wrap.append(copyButton(row.id, a));
      }
      if (row.parent) wrap.append(h("span", "rw-muted rw-parent", `in ${row.parent}`));
      if (row.experiment_shown) wrap.append(h("span", "rw-muted rw-parent", row.experiment));
      name.append(wrap);
      const st = h("td");
      st.append(h("span", statusClass(row.status), row.status));
      tr.append(
        tick,
        name,
        st,
        h("td", "rw-when", fmtWhen(row.started)),
        h("td", "rw-num", fmtSpan(row.started, row.ended)),
      );
      for (const c of model.get("columns") || []) {
        const v = row.values?.[c.key];
        const td = h("td", c.kind === "metrics" ? "rw-num" : typeof v === "number" ? "rw-mono" : null, fmtValue(v));
        if (v === undefined && row.best?.[c.key] !== undefined) {
          td.textContent = `best ${fmtValue(row.best[c.key])}`;
          td.classList.add("rw-muted");
          td.title = "the best value among its child runs";
        }
        tr.append(td);
      }
      return tr;
    }

    function draw() {
      const rows = model.get("rows") || [];
      const selected = new Set(model.get("selected") || []);
      const expanded = model.get("expanded") || {};
      const kids = model.get("child_rows") || {};
      const width = 5 + (model.get("columns") || []).length;
      const body = h("tbody");
      for (const row of rows) {
        body.append(runRow(row, 0, selected, expanded));
        const open = kids[row.id];
        if (!Object.hasOwn(expanded, row.id) || !open) continue;
        for (const kid of open.rows) body.append(runRow(kid, 1, selected, expanded));
        if (open.rows.length < (open.total ?? 0) || open.has_more) {
          const tr = h("tr", "rw-child-row rw-more-row");
          const td = h("td");
          td.colSpan = width;
          const more = h("button", "rw-more", `show more (${open.rows.length} of ${open.total ?? "more"})`);
          more.type = "button";
          more.dataset.parent = row.id;
          td.append(more);
          tr.append(td);
          body.append(tr);
        }
      }
      table.replaceChildren(header(), body);
      empty.style.display = rows.length ? "none" : "";
      drawPager(rows.length);
    }

    function drawPager(shown) {
      const page = model.get("page") || 0;
      const size = model.get("page_size") || 50;
      const total = model.get("total");
      const more = model.get("has_more");
      pager.replaceChildren();
      if (!shown && !page) return;
      const prev = h("button", "rw-page-prev", "‹ previous");
      prev.type = "button";
      prev.disabled = page === 0;
      const next = h("button", "rw-page-next", "next ›");
      next.type = "button";
      next.disabled = !more;
      const first = page * size + 1;
      const of = total === null || total === undefined ? "" : ` of ${total.toLocaleString()}`;
      const where = h(
        "span",
        "rw-muted rw-page-where",
        `runs ${first.toLocaleString()}–${(first + shown - 1).toLocaleString()}${of}`,
      );
      pager.append(prev, where, next);
    }

    el.addEventListener(
      "click",
      (event) => {
        const target = /** @type {HTMLElement} */ (event.target);
        const th = target.closest("th.rw-sortable");
        if (th instanceof HTMLElement && th.dataset.key) {
          const sort = model.get("sort") || {};
          const key = th.dataset.key;
          // a new column sorts best-first for metrics, newest-first for times; a second click reverses
          const descending = sort.key === key ? !sort.descending : key !== "attributes.name";
          save("sort", { key, descending });
          save("page", 0);
          return;
        }
        const toggle = target.closest("button.rw-expand");
        if (toggle instanceof HTMLElement && toggle.dataset.runId) {
          const expanded = { ...(model.get("expanded") || {}) };
          if (Object.hasOwn(expanded, toggle.dataset.runId)) delete expanded[toggle.dataset.runId];
          else expanded[toggle.dataset.runId] = 1;
          save("expanded", expanded);
          return;
        }
        const more = target.closest("button.rw-more");
        if (more instanceof HTMLElement && more.dataset.parent) {
          const expanded = { ...(model.get("expanded") || {}) };
          expanded[more.dataset.parent] = (expanded[more.dataset.parent] || 1) + 1;
          save("expanded", expanded);
          return;
        }
        if (target.closest("button.rw-page-prev")) save("page", Math.max(0, (model.get("page") || 0) - 1));
        else if (target.closest("button.rw-page-next")) save("page", (model.get("page") || 0) + 1);
      },
      { signal },
    );

    table.addEventListener(
      "change",
      (event) => {
        const box = event.target;
        if (!(box instanceof HTMLInputElement) || !box.dataset.runId) return;
        const selected = new Set(model.get("selected") || []);
        if (box.checked) selected.add(box.dataset.runId);
        else selected.delete(box.dataset.runId);
        save("selected", [...selected]);
      },
      { signal },
    );

    for (const name of ["rows", "columns", "selected", "sort", "child_rows", "expanded", "total", "has_more", "page"]) {
      model.on(`change:${name}`, draw);
    }
    draw();
    const timer = setInterval(draw, 15000); // running durations move on
    return () => {
      controller.abort();
      clearInterval(timer);
    };
  },
};
