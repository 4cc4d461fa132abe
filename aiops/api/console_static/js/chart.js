// Small SVG charts (no library): a line chart, horizontal bars and a scatter with one point marked.
const NS = "http://www.w3.org/2000/svg";

function s(tag, attrs = {}, text) {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  if (text !== undefined) el.textContent = text;
  return el;
}

function svg(w, h, label) {
  return s("svg", { viewBox: `0 0 ${w} ${h}`, width: "100%", role: "img", "aria-label": label, class: "chart",
                    preserveAspectRatio: "xMidYMid meet" });
}

const extent = (vals, lo, hi) => {
  const xs = vals.filter((v) => Number.isFinite(v));
  let a = lo ?? Math.min(...xs), b = hi ?? Math.max(...xs);
  if (!xs.length) { a = 0; b = 1; }
  if (a === b) { a -= 0.5; b += 0.5; }
  return [a, b];
};

// points: [{x, y}] sorted by x; opts: {w, h, label, yMin, yMax, fmtY, fmtX}
export function lineChart(points, opts = {}) {
  const w = opts.w || 480, h = opts.h || 160, pl = 40, pb = 20, pt = 8, pr = 8;
  const el = svg(w, h, opts.label || "chart");
  const [x0, x1] = extent(points.map((p) => p.x));
  const [y0, y1] = extent(points.map((p) => p.y), opts.yMin, opts.yMax);
  const X = (x) => pl + ((x - x0) / (x1 - x0)) * (w - pl - pr);
  const Y = (y) => h - pb - ((y - y0) / (y1 - y0)) * (h - pb - pt);
  el.append(s("line", { x1: pl, y1: h - pb, x2: w - pr, y2: h - pb, class: "axis" }),
            s("line", { x1: pl, y1: pt, x2: pl, y2: h - pb, class: "axis" }));
  const fy = opts.fmtY || ((v) => v.toFixed(2));
  el.append(s("text", { x: 2, y: pt + 8 }, fy(y1)), s("text", { x: 2, y: h - pb }, fy(y0)));
  if (opts.fmtX && points.length) {
    el.append(s("text", { x: pl, y: h - 4 }, opts.fmtX(x0)), s("text", { x: w - pr, y: h - 4, "text-anchor": "end" }, opts.fmtX(x1)));
  }
  const ok = points.filter((p) => Number.isFinite(p.y));
  if (ok.length) {
    el.append(s("path", { class: "line", d: ok.map((p, i) => `${i ? "L" : "M"}${X(p.x).toFixed(1)},${Y(p.y).toFixed(1)}`).join("") }));
    const last = ok[ok.length - 1];
    el.append(s("circle", { cx: X(last.x), cy: Y(last.y), r: 3, fill: "#0b57d0" }));
  } else {
    el.append(s("text", { x: w / 2, y: h / 2, "text-anchor": "middle" }, "no data yet"));
  }
  return el;
}

// items: [{label, value}] drawn as bars from a zero line (negative values to the left)
export function bars(items, opts = {}) {
  const w = opts.w || 480, row = 22, labelW = opts.labelW || 210, h = Math.max(row * items.length + 6, 30);
  const el = svg(w, h, opts.label || "bars");
  const m = Math.max(1e-9, ...items.map((i) => Math.abs(i.value)));
  const anyNeg = items.some((i) => i.value < 0);
  const zero = anyNeg ? labelW + (w - labelW - 50) / 2 : labelW;
  const scale = (anyNeg ? (w - labelW - 50) / 2 : w - labelW - 50) / m;
  items.forEach((it, i) => {
    const y = 3 + i * row, bw = Math.abs(it.value) * scale;
    el.append(s("text", { x: labelW - 6, y: y + 14, "text-anchor": "end" }, it.label.length > 34 ? it.label.slice(0, 33) + "…" : it.label));
    el.append(s("rect", { x: it.value < 0 ? zero - bw : zero, y, width: Math.max(bw, 1), height: row - 6,
                           class: `bar ${it.value < 0 ? "neg" : "pos"}` }));
    el.append(s("text", { x: (it.value < 0 ? zero : zero + bw) + 4, y: y + 14 }, (opts.fmt || ((v) => v.toFixed(3)))(it.value)));
  });
  return el;
}

// points: [{x, y, label}], marked: index of the chosen point; axis names in opts.xName / opts.yName
export function scatter(points, marked, opts = {}) {
  const w = opts.w || 480, h = opts.h || 260, pl = 48, pb = 34, pt = 10, pr = 10;
  const el = svg(w, h, opts.label || "scatter");
  const [x0, x1] = extent(points.map((p) => p.x));
  const [y0, y1] = extent(points.map((p) => p.y));
  const X = (x) => pl + ((x - x0) / (x1 - x0)) * (w - pl - pr);
  const Y = (y) => h - pb - ((y - y0) / (y1 - y0)) * (h - pb - pt);
  el.append(s("line", { x1: pl, y1: h - pb, x2: w - pr, y2: h - pb, class: "axis" }),
            s("line", { x1: pl, y1: pt, x2: pl, y2: h - pb, class: "axis" }),
            s("text", { x: w / 2, y: h - 4, "text-anchor": "middle" }, opts.xName || "x"),
            s("text", { x: 12, y: h / 2, transform: `rotate(-90 12 ${h / 2})`, "text-anchor": "middle" }, opts.yName || "y"));
  points.forEach((p, i) => {
    const c = s("circle", { cx: X(p.x), cy: Y(p.y), r: i === marked ? 7 : 4, fill: i === marked ? "#b3001b" : "#0b57d0",
                             "data-chosen": i === marked ? "true" : "false" });
    c.append(s("title", {}, p.label || `${p.x}, ${p.y}`));
    el.append(c);
  });
  return el;
}
