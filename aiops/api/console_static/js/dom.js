// Tiny DOM helpers: every value is set as text or an attribute, never parsed as HTML (entity names are data).
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

export function clear(el, ...children) { el.replaceChildren(); return append(el, children); }

export const pct = (p) => (p === null || p === undefined ? "–" : `${(100 * p).toFixed(1)} %`);
export const num = (x, d = 2) => (x === null || x === undefined || Number.isNaN(x) ? "–" : Number(x).toFixed(d));

export function duration(s) {
  if (s === null || s === undefined) return "–";
  if (s < 90) return `${Math.round(s)} s`;
  if (s < 5400) return `${Math.round(s / 60)} min`;
  if (s < 172800) return `${(s / 3600).toFixed(1)} h`;
  return `${(s / 86400).toFixed(1)} d`;
}

export function when(ts) {
  if (!ts) return "–";
  return new Date(ts * 1000).toISOString().replace("T", " ").slice(0, 19) + " UTC";
}

export function sevClass(sev) { return ["low", "medium", "high", "critical"].includes(sev) ? sev : "none"; }

export function table(headers, rows, opts = {}) {
  const head = h("thead", {}, h("tr", {}, headers.map((x) => h("th", { scope: "col" }, x))));
  const body = h("tbody", {}, rows);
  return h("table", opts, head, body);
}

// A row that acts as a button: click or Enter/Space.
export function actionRow(attrs, cells, onActivate) {
  const tr = h("tr", { tabindex: 0, ...attrs }, cells.map((c) => h("td", {}, c)));
  tr.addEventListener("click", onActivate);
  tr.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); onActivate(e); } });
  return tr;
}
