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

    // -- child runs
    const kidsSection = h("details", "rw-section rw-children-section");
    kidsSection.open = true;
    const kidsSummary = h("summary");
    const kidsTable = h("table", "rw-table rw-children");
    const pager = h("div", "rw-pager");
    const prev = h("button", null, "‹ prev");
    const next = h("button", null, "next ›");
    const pageLabel = h("span", "rw-muted");
    pager.append(prev, pageLabel, next);
    kidsSection.append(kidsSummary, kidsTable, pager);

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

    el.append(kidsSection, imgSection, logSection);

    function drawChildren() {
      const data = model.get("children") || {};
      const rows = data.rows || [];
      kidsSection.style.display = rows.length ? "" : "none";
      if (!rows.length) return;
      const size = data.page_size || 25;
      const pages = Math.max(1, Math.ceil(rows.length / size));
      page = Math.min(page, pages - 1);
      kidsSummary.textContent = `Child runs (${rows.length})${data.metric ? ` by ${data.metric}` : ""}`;
      const head = h("tr");
      for (const c of ["", "run", "status", "started", "duration", "parameters", data.metric || "metric"])
        head.append(h("th", null, c));
      const thead = h("thead");
      thead.append(head);
      const body = h("tbody");
      for (const { id, name, status, started, ended, params, value, stopped } of rows.slice(
        page * size,
        (page + 1) * size,
      )) {
        const tr = h("tr", id === data.best ? "rw-best" : "");
        tr.dataset.runId = id;
        tr.title = `open ${id}`;
        const star = h("td", "rw-star", id === data.best ? "★" : "");
        if (id === data.best) star.title = "best so far";
        const badge = h("span", statusClass(status), status);
        const st = h("td");
        st.append(badge);
        if (stopped) {
          // an early-terminated child: the policy's reason (policy, interval, value, cutoff) on hover
          const why = h("span", "rw-muted rw-stopped", " early stop");
          why.title = stopped;
          st.append(why);
        }
        tr.append(
          star,
          h("td", null, name),
          st,
          h("td", null, fmtTime(started)),
          h("td", null, fmtSpan(started, ended)),
          h("td", null, params),
          h("td", "rw-num", fmtValue(value)),
        );
        body.append(tr);
      }
      kidsTable.replaceChildren(thead, body);
      pageLabel.textContent = `page ${page + 1} of ${pages}`;
      prev.disabled = page === 0;
      next.disabled = page >= pages - 1;
      pager.style.display = pages > 1 ? "" : "none";
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
        const tr = event.target instanceof Element ? event.target.closest("tr[data-run-id]") : null;
        if (!(tr instanceof HTMLElement)) return;
        model.send({ type: MSG.OPEN_CHILD, run_id: tr.dataset.runId });
      },
      { signal },
    );

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
      follow.textContent = stick ? "following" : "scrolled up: not following";
    }

    function drawLogNames() {
      const names = model.get("log_names") || [];
      logSection.style.display = names.length ? "" : "none";
      const keep = selectedLog;
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
    logSelect.addEventListener("change", () => selectLog(logSelect.value), { signal });
    logPre.addEventListener(
      "scroll",
      () => {
        follow.textContent = atBottom() ? "following" : "scrolled up: not following";
      },
      { signal },
    );

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
    model.on("change:log_names", drawLogNames);
    model.on("msg:custom", onMessage);
    drawChildren();
    drawImages();
    drawLogNames();
    return () => {
      controller.abort();
      while (urls.length) URL.revokeObjectURL(urls.pop());
    };
  },
};
