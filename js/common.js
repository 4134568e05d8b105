// Helpers shared by every runwidgets view, imported as an ES module. anywidget loads a view as
// one blob, which cannot import a sibling: js/build.py writes each view with these helpers after
// it into runwidgets/static/ (no bundler at run time; the view's line numbers stay its own).
// Every string from the store goes into the page through h() (textContent), never as HTML.

/**
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag @param {string=} cls @param {unknown=} text
 * @returns {HTMLElementTagNameMap[K]}
 */
export function h(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined && text !== null) e.textContent = String(text);
  return e;
}

/** Only http(s) links are followed; anything else (javascript:, data:) is dropped. */
export function safeHref(url) {
  try {
    const u = new URL(String(url), window.location.href);
    return u.protocol === "http:" || u.protocol === "https:" ? u.href : null;
  } catch {
    return null;
  }
}

/** Seconds from start to end (or to now, when still running): "3s", "2m 5s", "1h 4m". */
export function fmtSpan(start, end, now = Date.now() / 1000) {
  if (!start) return "";
  const exact = Math.max(0, (end || now) - start);
  if (exact < 10) return `${exact.toFixed(1)}s`; // an AutoML iteration or a quick child: 0.4s, not 0s
  const s = Math.floor(exact);
  if (s >= 3600) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
  return s >= 60 ? `${Math.floor(s / 60)}m ${s % 60}s` : `${s}s`;
}

/** A metric value for a table cell: numbers to about 5 significant digits, text as it is. */
export function fmtValue(v) {
  if (v === null || v === undefined) return "";
  if (typeof v !== "number") return String(v);
  return Math.abs(v) >= 1e5 || (Math.abs(v) < 1e-3 && v !== 0) ? v.toExponential(3) : String(+v.toPrecision(5));
}

/** Custom message types between a view and its Python side (runwidgets/widget/messages.py). */
export const MSG = Object.freeze({
  LOG_APPEND: "log_append",
  LOG_RESET: "log_reset",
  SPLICE: "splice",
  LOG_SYNC: "log_sync",
  OPEN_CHILD: "open_child",
  TICK_CHILDREN: "tick_children",
  RESYNC: "resync",
});

/**
 * Apply a poll's splices. Each entry names a chart by its index in the view's `charts` trait
 * (the model ids of its line, note and y scales) and carries what changed: the line's tail from
 * `s` (two buffers, x then y rows, for a line the page should have at length `n`), the note's
 * text `t`, the y range `b` (on the log scale when `g`), the axes' round ticks `xt` and `yt`. Applied with set_state, as if the
 * kernel had sent the whole state, so nothing is echoed back. A page whose copy of a line does
 * not have the expected length asks for that line whole instead.
 * @param {any} model the anywidget model @param {any} msg @param {DataView[]} buffers
 */
export async function applySplices(model, msg, buffers) {
  const manager = model.widget_manager;
  const registry = model.get("charts") || [];
  let b = 0;
  for (const entry of msg.charts || []) {
    const ids = registry[entry.i];
    const spliced = entry.s !== undefined;
    const [bx, by] = spliced ? [buffers[b], buffers[b + 1]] : [null, null];
    if (spliced) b += 2;
    if (!ids) continue;
    if (entry.t !== undefined) (await manager.get_model(ids.note)).set_state({ value: entry.t });
    if (entry.b) (await manager.get_model(entry.g ? ids.log : ids.lin)).set_state({ min: entry.b[0], max: entry.b[1] });
    if (entry.xt) (await manager.get_model(ids.xa)).set_state({ tick_values: entry.xt });
    if (entry.yt) (await manager.get_model(ids.ya)).set_state({ tick_values: entry.yt });
    if (!spliced) continue;
    const lines = await manager.get_model(ids.lines);
    const x = lines.get("x");
    const y = lines.get("y");
    const rows = Array.isArray(y) ? y.length : 1;
    const copy = (dv) => new Float64Array(dv.buffer.slice(dv.byteOffset, dv.byteOffset + dv.byteLength));
    const tx = copy(bx);
    const ty = copy(by);
    if (!(x instanceof Float64Array) || x.length !== entry.n || ty.length !== rows * tx.length) {
      model.send({ type: MSG.RESYNC, model: ids.lines });
      continue;
    }
    const join = (old, tail) => {
      const out = new Float64Array(entry.s + tail.length);
      out.set(old.subarray(0, entry.s));
      out.set(tail, entry.s);
      /** @type {any} */ (out).type = old.type; // bqplot's deserializer tags its arrays
      return out;
    };
    const ny = rows > 1 ? y.map((row, r) => join(row, ty.subarray(r * tx.length, (r + 1) * tx.length))) : join(y, ty);
    lines.set_state({ x: join(x, tx), y: ny });
  }
}

/** A status as a CSS class suffix: "CancelRequested" -> "rw-status-CancelRequested". */
export function statusClass(status) {
  return `rw-badge rw-status-${String(status || "").replace(/[^A-Za-z]/g, "")}`;
}

/** A long run id by its ends: "digits…4469". */
export function shortId(id) {
  const text = String(id || "");
  return text.length > 14 ? `${text.slice(0, 6)}…${text.slice(-5)}` : text;
}

/** A button that copies `text`; with no clipboard (an insecure origin) it selects `label` for Ctrl-C. */
export function copyButton(text, label) {
  const copy = h("button", "rw-copy", "copy");
  copy.type = "button";
  copy.title = `copy ${text}`;
  copy.dataset.copy = text;
  copy.addEventListener("click", async (event) => {
    event.stopPropagation();
    event.preventDefault();
    try {
      await navigator.clipboard.writeText(text);
      copy.textContent = "copied";
    } catch {
      label.textContent = text;
      const range = document.createRange();
      range.selectNodeContents(label);
      window.getSelection()?.removeAllRanges();
      window.getSelection()?.addRange(range);
      copy.textContent = "Ctrl-C";
    }
    setTimeout(() => {
      copy.textContent = "copy";
    }, 1500);
  });
  return copy;
}

/** A run id too long for a cell: its ends, with the whole id on hover and a button that copies it. */
export function idChip(id) {
  const text = String(id || "");
  const chip = h("span", "rw-id");
  const label = h("span", "rw-id-text", shortId(text));
  label.title = text;
  chip.append(label, copyButton(text, label));
  return chip;
}
