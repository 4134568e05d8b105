// Child runs (paged), image thumbnails and the log tail of a run view.
import { applySplices, fmtSpan, fmtValue, h, MSG, statusClass } from "./common.js";

const MAX_LOG_CHARS = 400000; // the browser keeps about the last few thousand lines

function fmtTime(t) {
  return t ? new Date(t * 1000).toLocaleTimeString() : "";
}

export default {
  /** Once per model and page (however many views): chart lines grow by splices. */
  initialize({ model }) {
    const onSplice = (msg, buffers) => {
      if (msg && msg.type === MSG.SPLICE)
        applySplices(model, msg, buffers).catch((e) => console.warn("runwidgets:", e));
    };
    model.on("msg:custom", onSplice);
    return () => model.off("msg:custom", onSplice);
  },

  /** @param {{ model: any, el: HTMLElement }} props */
  render({ model, el }) {
    el.classList.add("rw", "rw-panels-view");
    const controller = new AbortController();
    const signal = controller.signal;
    const urls = [];
    let page = 0;
    let selectedLog = null;
    let userPicked = false; // a log chosen in the dropdown stays chosen

    // -- child runs
    const kidsSection = h("details", "rw-section rw-children-section");
    kidsSection.open = true;
    const kidsSummary = h("summary");
    const progress = h("div", "rw-progress");
    const ticked = new Set();
    let sortBy = null; // a column's header, or null: the kernel's order (best first; iterations in order)
    let sortDown = false;
    const kidsTable = h("table", "rw-table rw-children");
    const pager = h("div", "rw-pager");
    const prev = h("button", null, "‹ prev");
    const next = h("button", null, "next ›");
    const pageLabel = h("span", "rw-muted");
    pager.append(prev, pageLabel, next);
    kidsSection.append(kidsSummary, progress, kidsTable, pager);

    // -- tables and heatmaps
    const tabSection = h("details", "rw-section");
    tabSection.open = true;
    const tabSummary = h("summary", null, "Tables");
    const tabBox = h("div", "rw-tables");
    tabSection.append(tabSummary, tabBox);
    const normalized = new Set(); // heatmaps shown as shares of each row

    // -- images
    const imgSection = h("details", "rw-section");
    imgSection.open = true;
    const imgSummary = h("summary", null, "Images");
    const imgGrid = h("div", "rw-images");
    imgSection.append(imgSummary, imgGrid);

    // -- logs
    const logSection = h("details", "rw-section");
    logSection.open = true;
    const logSummary = h("summary", null, "Logs");
    const logBar = h("div", "rw-logbar");
    const logSelect = h("select");
    logSelect.setAttribute("aria-label", "log file");
    const follow = h("span", "rw-muted");
    logBar.append(logSelect, follow);
    const logPre = h("pre", "rw-log");
    logSection.append(logSummary, logBar, logPre);

    el.append(kidsSection, tabSection, imgSection, logSection);

    function drawChildren() {
      const data = model.get("children") || {};
      const rows = data.rows || [];
      kidsSection.style.display = rows.length ? "" : "none";
      if (!rows.length) return;
      const size = data.page_size || 25;
      const pages = Math.max(1, Math.ceil(rows.length / size));
      page = Math.min(page, pages - 1);
      kidsSummary.textContent = `Child runs (${rows.length})${data.metric ? ` by ${data.metric}` : ""}`;
      drawProgress(data.progress);
      const automl = data.layout === "automl";
      const metric = data.metric || "metric";
      // [header, sort key, cell]; a click on a header sorts by it (again: the other way)
      const columns = automl
        ? [
            ["iteration", (r) => r.iteration, (r) => h("td", "rw-num", r.iteration ?? "")],
            ["pipeline", (r) => r.pipeline, (r) => h("td", null, r.pipeline)],
            ["status", (r) => r.status, statusCell],
            ["duration", duration, (r) => h("td", null, fmtSpan(r.started, r.ended))],
            [metric, (r) => r.value, (r) => h("td", "rw-num", fmtValue(r.value))],
            ["best", (r) => r.best_so_far, (r) => h("td", "rw-num", fmtValue(r.best_so_far))],
          ]
        : [
            ["run", (r) => r.name, (r) => h("td", null, r.name)],
            ["status", (r) => r.status, statusCell],
            ["started", (r) => r.started, (r) => h("td", null, fmtTime(r.started))],
            ["duration", duration, (r) => h("td", null, fmtSpan(r.started, r.ended))],
            ["parameters", (r) => r.params, (r) => h("td", null, r.params)],
            [metric, (r) => r.value, (r) => h("td", "rw-num", fmtValue(r.value))],
          ];
      const head = h("tr");
      const tickHead = h("th", null, "");
      tickHead.title = "tick runs to compare their metrics on one chart";
      head.append(tickHead, h("th", null, ""));
      for (const [label] of columns) {
        const th = h("th", "rw-sortable", label + (sortBy === label ? (sortDown ? " ▼" : " ▲") : ""));
        th.dataset.sort = label;
        th.title = `sort by ${label}`;
        head.append(th);
      }
      const thead = h("thead");
      thead.append(head);
      const body = h("tbody");
      const sortCol = columns.find(([label]) => label === sortBy);
      const ordered = sortCol ? [...rows].sort((a, b) => compare(sortCol[1](a), sortCol[1](b), sortDown)) : rows;
      for (const row of ordered.slice(page * size, (page + 1) * size)) {
        const { id, name } = row;
        const tr = h("tr", id === data.best ? "rw-best" : "");
        tr.dataset.runId = id;
        tr.title = `open ${id}`;
        const tickCell = h("td", "rw-tick");
        const tick = h("input");
        tick.type = "checkbox";
        tick.checked = ticked.has(id);
        tick.dataset.tick = id;
        tick.setAttribute("aria-label", `compare ${name}`);
        tickCell.append(tick);
        const star = h("td", "rw-star", id === data.best ? "★" : "");
        if (id === data.best) star.title = "best so far";
        tr.append(tickCell, star, ...columns.map(([, , cell]) => cell(row)));
        body.append(tr);
      }
      kidsTable.replaceChildren(thead, body);
      pageLabel.textContent = `page ${page + 1} of ${pages}`;
      prev.disabled = page === 0;
      next.disabled = page >= pages - 1;
      pager.style.display = pages > 1 ? "" : "none";
    }
    function statusCell({ status, stopped }) {
      const st = h("td");
      st.append(h("span", statusClass(status), status));
      if (stopped) {
        // an early-terminated child: the policy's reason (policy, interval, value, cutoff) on hover
        const why = h("span", "rw-muted rw-stopped", " early stop");
        why.title = stopped;
        st.append(why);
      }
      return st;
    }

    function duration(r) {
      return r.started ? (r.ended || Date.now() / 1000) - r.started : null;
    }

    /** Missing values last, whichever the direction. */
    function compare(a, b, down) {
      if (a === null || a === undefined || a === "") return b === null || b === undefined || b === "" ? 0 : 1;
      if (b === null || b === undefined || b === "") return -1;
      const c = typeof a === "number" && typeof b === "number" ? a - b : String(a).localeCompare(String(b));
      return down ? -c : c;
    }

    /** done / running / queued / stopped / failed out of the total, as a bar and a line of text. */
    function drawProgress(p) {
      progress.style.display = p?.total ? "" : "none";
      if (!p?.total) return;
      const bar = h("div", "rw-progress-bar");
      for (const [key, label] of [
        ["done", "done"],
        ["stopped", "stopped early"],
        ["failed", "failed or canceled"],
        ["running", "running"],
        ["queued", "queued"],
      ]) {
        if (!p[key]) continue;
        const seg = h("span", `rw-seg rw-seg-${key}`);
        seg.style.flexGrow = String(p[key]);
        seg.title = `${p[key]} ${label}`;
        bar.append(seg);
      }
      const parts = [`${p.done} of ${p.total} done`];
      if (p.running) parts.push(`${p.running} running`);
      if (p.queued) parts.push(`${p.queued} queued`);
      if (p.stopped) parts.push(`${p.stopped} stopped early`);
      if (p.failed) parts.push(`${p.failed} failed or canceled`);
      if (p.left_seconds !== null && p.left_seconds !== undefined) {
        const left = Math.max(0, p.left_seconds - (Date.now() / 1000 - (p.at || Date.now() / 1000)));
        parts.push(`about ${fmtSpan(0.001, left + 0.001)} left at this pace`);
      }
      progress.replaceChildren(bar, h("div", "rw-muted rw-progress-text", parts.join(" · ")));
    }

    prev.addEventListener(
      "click",
      () => {
        page -= 1;
        drawChildren();
      },
      { signal },
    );
    next.addEventListener(
      "click",
      () => {
        page += 1;
        drawChildren();
      },
      { signal },
    );
    kidsTable.addEventListener(
      "click",
      (event) => {
        const box = event.target;
        if (box instanceof HTMLInputElement && box.dataset.tick) {
          if (box.checked) ticked.add(box.dataset.tick);
          else ticked.delete(box.dataset.tick);
          model.send({ type: MSG.TICK_CHILDREN, run_ids: [...ticked] });
          return; // a tick compares; it does not open the run
        }
        if (event.target instanceof Element && event.target.closest(".rw-tick")) return;
        const th = event.target instanceof Element ? event.target.closest("th[data-sort]") : null;
        if (th instanceof HTMLElement) {
          sortDown = sortBy === th.dataset.sort ? !sortDown : false;
          sortBy = th.dataset.sort || null;
          drawChildren();
          return;
        }
        const tr = event.target instanceof Element ? event.target.closest("tr[data-run-id]") : null;
        if (!(tr instanceof HTMLElement)) return;
        model.send({ type: MSG.OPEN_CHILD, run_id: tr.dataset.runId });
      },
      { signal },
    );

    /** A table metric as a table; a square one (a confusion matrix) as a heatmap: cells shaded by value,
     * raw counts or shares of each true class. */
    function drawTables() {
      const tables = model.get("tables") || [];
      tabSection.style.display = tables.length ? "" : "none";
      tabBox.replaceChildren();
      for (const t of tables) {
        const fig = h("figure", t.heat ? "rw-heat" : "rw-table-metric");
        const cap = h("figcaption", null, t.name);
        fig.append(cap);
        const norm = t.heat && normalized.has(t.name);
        if (t.heat) {
          const toggle = h("button", "rw-heat-toggle", norm ? "show counts" : "normalize rows");
          toggle.addEventListener("click", () => {
            if (normalized.has(t.name)) normalized.delete(t.name);
            else normalized.add(t.name);
            drawTables();
          });
          cap.append(" ", toggle);
        }
        const table = h("table", "rw-table");
        const head = h("tr");
        if (t.row_labels)
          head.append(h("th", "rw-corner", t.row_title && t.col_title ? `${t.row_title} \\ ${t.col_title}` : ""));
        for (const c of t.columns) head.append(h("th", null, c));
        const thead = h("thead");
        thead.append(head);
        const body = h("tbody");
        const rows = t.rows || [];
        const shown = rows.map((r) => {
          if (!norm) return r;
          const sum = r.reduce((a, b) => a + (typeof b === "number" ? b : 0), 0);
          return r.map((v) => (sum ? v / sum : 0));
        });
        let max = 0;
        if (t.heat) for (const r of shown) for (const v of r) max = Math.max(max, typeof v === "number" ? v : 0);
        shown.forEach((r, i) => {
          const tr = h("tr");
          if (t.row_labels) tr.append(h("th", null, t.row_labels[i]));
          for (const v of r) {
            const td = h("td", "rw-num", norm ? fmtValue(+v.toFixed(3)) : fmtValue(v));
            if (t.heat && max > 0 && typeof v === "number") {
              const share = v / max;
              td.style.background = `color-mix(in srgb, var(--rw-accent) ${Math.round(share * 85)}%, transparent)`;
              if (share > 0.55) td.classList.add("rw-heat-strong");
            }
            tr.append(td);
          }
          body.append(tr);
        });
        table.append(thead, body);
        fig.append(table);
        if (t.total > rows.length) fig.append(h("div", "rw-muted", `first ${rows.length} of ${t.total} rows`));
        tabBox.append(fig);
      }
    }

    function drawImages() {
      const images = model.get("images") || [];
      imgSection.style.display = images.length ? "" : "none";
      while (urls.length) URL.revokeObjectURL(urls.pop());
      imgGrid.replaceChildren();
      for (const img of images) {
        const fig = h("figure");
        const allowed = /^image\/(png|jpeg|gif|webp|bmp)$/.test(img.mime || "");
        if (img.data?.byteLength && allowed) {
          const blob = new Blob([img.data], { type: img.mime });
          const url = URL.createObjectURL(blob);
          urls.push(url);
          const im = h("img");
          im.src = url;
          im.alt = img.name;
          fig.append(im);
        }
        fig.append(h("figcaption", null, img.count > 1 ? `${img.name} (latest of ${img.count})` : img.name));
        imgGrid.append(fig);
      }
    }

    function atBottom() {
      return logPre.scrollTop + logPre.clientHeight >= logPre.scrollHeight - 4;
    }

    function appendLog(text) {
      const stick = atBottom();
      let all = logPre.textContent + text;
      if (all.length > MAX_LOG_CHARS) {
        all = all.slice(all.length - MAX_LOG_CHARS);
        all = all.slice(all.indexOf("\n") + 1);
      }
      logPre.textContent = all;
      if (stick) logPre.scrollTop = logPre.scrollHeight;
      drawFollow();
    }

    // "following" means new lines will scroll into view: only while the run may still write them
    function drawFollow() {
      if (!model.get("live")) follow.textContent = "the run has ended";
      else follow.textContent = atBottom() ? "following" : "scrolled up: not following";
    }

    function drawLogNames() {
      const names = model.get("log_names") || [];
      logSection.style.display = names.length ? "" : "none";
      // the driver log once it appears, unless the user picked another (the control log comes first)
      const keep = userPicked ? selectedLog : null;
      logSelect.replaceChildren(
        ...names.map((n) => {
          const o = h("option", null, n);
          o.value = n;
          return o;
        }),
      );
      if (!names.length) return;
      const preferred = names.find((n) => n.endsWith("driver_log.txt")) || names[0];
      const want = keep && names.includes(keep) ? keep : preferred;
      logSelect.value = want;
      if (want !== selectedLog) selectLog(want);
    }

    function selectLog(name) {
      selectedLog = name;
      logPre.textContent = "";
      model.send({ type: MSG.LOG_SYNC, name });
    }
    logSelect.addEventListener(
      "change",
      () => {
        userPicked = true;
        selectLog(logSelect.value);
      },
      { signal },
    );
    logPre.addEventListener("scroll", drawFollow, { signal });

    function onMessage(msg) {
      if (!msg || msg.name !== selectedLog) return;
      if (msg.type === MSG.LOG_RESET) {
        logPre.textContent = "";
        appendLog(msg.text || "");
        logPre.scrollTop = logPre.scrollHeight;
      } else if (msg.type === MSG.LOG_APPEND) {
        appendLog(msg.text || "");
      }
    }

    model.on("change:children", drawChildren);
    model.on("change:images", drawImages);
    model.on("change:tables", drawTables);
    model.on("change:log_names", drawLogNames);
    model.on("change:live", drawFollow);
    model.on("msg:custom", onMessage);
    drawChildren();
    drawTables();
    drawImages();
    drawLogNames();
    return () => {
      controller.abort();
      while (urls.length) URL.revokeObjectURL(urls.pop());
    };
  },
};
