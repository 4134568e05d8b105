// The header of a run view: name, status badge, live duration, experiment, where it ran, the run's
// page (or how to start the dashboard that serves it), error banner, connection state, properties.
// Each thing once: the id only when the run has a name of its own.
import { fmtSpan, h, idChip, safeHref, statusClass } from "./common.js";

export default {
  /** @param {{ model: any, el: HTMLElement }} props */
  render({ model, el }) {
    el.classList.add("rw", "rw-header-view");
    const conn = h("div", "rw-conn");
    const head = h("div", "rw-header");
    const title = h("span", "rw-title");
    const badge = h("span", "rw-badge");
    const duration = h("span", "rw-muted rw-duration");
    const experiment = h("span", "rw-muted rw-experiment");
    const target = h("span", "rw-muted rw-target");
    const runId = h("span");
    const link = h("a", "rw-link rw-page-link", "Open run page ↗");
    link.target = "_blank";
    link.rel = "noopener noreferrer";
    const hint = h("span", "rw-muted rw-page-hint");
    head.append(title, badge, duration, experiment, target, runId, link, hint);
    const banner = h("div", "rw-banner");
    const props = h("details", "rw-section");
    const summary = h("summary", null, "Properties");
    const table = h("table", "rw-table rw-props");
    props.append(summary, table);
    el.append(conn, head, banner, props);

    let offset = 0; // server clock minus browser clock, seconds

    function drawDuration() {
      const run = model.get("run") || {};
      if (!run.started) {
        duration.textContent = run.status ? "not started" : "";
        return;
      }
      duration.textContent = fmtSpan(run.started, run.ended, Date.now() / 1000 + offset);
    }

    function draw() {
      const run = model.get("run") || {};
      if (run.server_time) offset = run.server_time - Date.now() / 1000;
      const named = run.name && run.name !== run.id;
      title.textContent = named ? run.name : run.id || "";
      runId.replaceChildren(...(named ? [idChip(run.id)] : []));
      badge.textContent = run.status || "";
      badge.className = statusClass(run.status);
      experiment.textContent = run.experiment ? `experiment ${run.experiment}` : "";
      target.textContent = run.target ? `on ${run.target}` : "";
      const href = safeHref(run.portal_url);
      if (href && !run.portal_hint) {
        link.href = href;
        link.style.display = "";
      } else {
        link.removeAttribute("href");
        link.style.display = "none";
      }
      hint.replaceChildren();
      if (href && run.portal_hint) {
        // the page needs a dashboard that is not running: say how to start it, copyable
        hint.append("Run page: start the dashboard with ", h("code", "rw-command", run.portal_hint));
      }
      banner.replaceChildren();
      const err = run.error;
      if (err && (err.message || err.code)) {
        banner.append(h("strong", null, err.code ? `${err.code}: ` : "Error: "), h("span", null, err.message || ""));
        if (err.traceback) banner.append(h("pre", null, err.traceback));
        banner.style.display = "";
      } else {
        banner.style.display = "none";
      }
      drawDuration();
    }

    function drawProps() {
      const rows = model.get("props") || [];
      const body = h("tbody");
      let group = null;
      for (const { section, key, value } of rows) {
        if (section !== group) {
          group = section;
          const tr = h("tr", "rw-group");
          const td = h("td", null, section);
          td.colSpan = 2;
          tr.append(td);
          body.append(tr);
        }
        const tr = h("tr");
        tr.append(h("td", null, key), h("td", null, value));
        body.append(tr);
      }
      table.replaceChildren(body);
      summary.textContent = `Properties (${rows.length})`;
    }

    function drawConn() {
      const text = model.get("connection");
      conn.textContent = text || "";
      conn.style.display = text ? "" : "none";
    }

    model.on("change:run", draw);
    model.on("change:props", drawProps);
    model.on("change:connection", drawConn);
    draw();
    drawProps();
    drawConn();
    const timer = setInterval(drawDuration, 1000);
    return () => clearInterval(timer);
  },
};
