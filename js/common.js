// Helpers shared by every runwidgets view. views.py puts this file in front of each
// view's module (anywidget loads a module as one blob, so a view cannot import a sibling).
// Every string from the store goes into the page through h() (textContent), never as HTML.

/** @param {string} tag @param {string=} cls @param {unknown=} text */
function h(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined && text !== null) e.textContent = String(text);
  return e;
}

/** Only http(s) links are followed; anything else (javascript:, data:) is dropped. */
function safeHref(url) {
  try {
    const u = new URL(String(url), window.location.href);
    return u.protocol === "http:" || u.protocol === "https:" ? u.href : null;
  } catch {
    return null;
  }
}

/** Seconds from start to end (or to now, when still running): "3s", "2m 5s", "1h 4m". */
function fmtSpan(start, end, now = Date.now() / 1000) {
  if (!start) return "";
  const s = Math.max(0, Math.floor((end || now) - start));
  if (s >= 3600) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
  return s >= 60 ? `${Math.floor(s / 60)}m ${s % 60}s` : `${s}s`;
}

/** A metric value for a table cell: numbers to about 5 significant digits, text as it is. */
function fmtValue(v) {
  if (v === null || v === undefined) return "";
  if (typeof v !== "number") return String(v);
  return Math.abs(v) >= 1e5 || (Math.abs(v) < 1e-3 && v !== 0) ? v.toExponential(3) : String(+v.toPrecision(5));
}

/** A status as a CSS class suffix: "CancelRequested" -> "rw-status-CancelRequested". */
function statusClass(status) {
  return `rw-badge rw-status-${String(status || "").replace(/[^A-Za-z]/g, "")}`;
}
