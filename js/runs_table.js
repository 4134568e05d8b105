// The dashboard's runs table: one row per run, a link to its page, a checkbox to compare.
import { fmtSpan, fmtValue, h, statusClass } from "./common.js";

export default {
  /** @param {{ model: any, el: HTMLElement }} props */
  render({ model, el }) {
    el.classList.add("rw", "rw-runs-view");
    const controller = new AbortController();
    const table = h("table", "rw-table rw-runs");
    const empty = h("p", "rw-muted", "No runs match.");
    el.append(table, empty);

    function draw() {
      const rows = model.get("rows") || [];
      const metrics = model.get("metrics") || [];
      const selected = new Set(model.get("selected") || []);
      const head = h("tr");
      for (const c of ["", "run", "status", "started", "duration", ...metrics, "tags"]) head.append(h("th", null, c));
      const thead = h("thead");
      thead.append(head);
      const body = h("tbody");
      for (const row of rows) {
        const tr = h("tr");
        tr.dataset.runId = row.id;
        const box = h("input");
        box.type = "checkbox";
        box.checked = selected.has(row.id);
        box.title = "select to compare";
        box.dataset.runId = row.id;
        const cb = h("td");
        cb.append(box);
        const name = h("td");
        const a = h("a", "rw-link rw-run-link", row.name);
        a.href = `?run=${encodeURIComponent(row.id)}`;
        name.append(a);
        if (row.name !== row.id) name.append(h("div", "rw-id", row.id));
        const st = h("td");
        st.append(h("span", statusClass(row.status), row.status));
        tr.append(
          cb,
          name,
          st,
          h("td", null, row.started ? new Date(row.started * 1000).toLocaleString() : ""),
          h("td", null, fmtSpan(row.started, row.ended)),
        );
        for (const m of metrics) tr.append(h("td", "rw-num", fmtValue(row.metrics?.[m])));
        tr.append(
          h(
            "td",
            null,
            Object.entries(row.tags || {})
              .map(([k, v]) => (v ? `${k}=${v}` : k))
              .join(", "),
          ),
        );
        body.append(tr);
      }
      table.replaceChildren(thead, body);
      empty.style.display = rows.length ? "none" : "";
    }

    table.addEventListener(
      "change",
      (event) => {
        const box = event.target;
        if (!(box instanceof HTMLInputElement) || !box.dataset.runId) return;
        const selected = new Set(model.get("selected") || []);
        if (box.checked) selected.add(box.dataset.runId);
        else selected.delete(box.dataset.runId);
        model.set("selected", [...selected]);
        model.save_changes();
      },
      { signal: controller.signal },
    );

    model.on("change:rows", draw);
    model.on("change:metrics", draw);
    model.on("change:selected", draw);
    draw();
    const timer = setInterval(draw, 15000); // running durations move on
    return () => {
      controller.abort();
      clearInterval(timer);
    };
  },
};
