// An interactive entity graph: a small force layout, nodes draggable, focusable and selectable
// (click, Enter or Space); onSelect(node, edges) lets the page show what a node touches.
const NS = "http://www.w3.org/2000/svg";
const COLORS = { host: "#4c78a8", ip: "#e45756", user: "#72b7b2", vm: "#54a24b", process: "#b279a2", file: "#9d755d" };
const W = 640, H = 420;

function s(tag, attrs = {}, text) {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  if (text !== undefined) el.textContent = text;
  return el;
}

function layout(nodes, links) {
  const n = nodes.length;
  nodes.forEach((d, i) => { d.x = W / 2 + 150 * Math.cos((2 * Math.PI * i) / n); d.y = H / 2 + 150 * Math.sin((2 * Math.PI * i) / n); });
  const idx = new Map(nodes.map((d, i) => [d.id, i]));
  const pairs = links.map((l) => [idx.get(l.source), idx.get(l.target)]).filter(([a, b]) => a !== undefined && b !== undefined);
  for (let it = 0; it < 200; it++) {
    const t = 1 - it / 200;
    for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) {
      const a = nodes[i], b = nodes[j];
      let dx = a.x - b.x, dy = a.y - b.y, d2 = dx * dx + dy * dy + 0.01;
      const f = (6000 / d2) * t, d = Math.sqrt(d2);
      dx /= d; dy /= d; a.x += dx * f; a.y += dy * f; b.x -= dx * f; b.y -= dy * f;
    }
    for (const [i, j] of pairs) {
      const a = nodes[i], b = nodes[j];
      const dx = b.x - a.x, dy = b.y - a.y, d = Math.sqrt(dx * dx + dy * dy) + 0.01, f = ((d - 110) / d) * 0.1 * t;
      a.x += dx * f; a.y += dy * f; b.x -= dx * f; b.y -= dy * f;
    }
    for (const d of nodes) { d.x = Math.min(W - 30, Math.max(30, d.x)); d.y = Math.min(H - 20, Math.max(20, d.y)); }
  }
}

export function entityGraph(graph, onSelect) {
  const nodes = (graph.nodes || []).map((d) => ({ ...d, id: String(d.id) }));
  const links = (graph.links || graph.edges || []).map((l) => ({ ...l, source: String(l.source), target: String(l.target) }));
  layout(nodes, links);
  const byId = new Map(nodes.map((d) => [d.id, d]));
  const el = s("svg", { viewBox: `0 0 ${W} ${H}`, class: "graph", role: "group", "aria-label": `incident entity graph, ${nodes.length} entities` });
  const lines = links.map((l) => { const ln = s("line", {}); ln.append(s("title", {}, `${l.source} → ${l.target}: ${l.label || ""}`)); el.append(ln); return [ln, l]; });
  const place = () => {
    for (const [ln, l] of lines) {
      const a = byId.get(l.source), b = byId.get(l.target);
      if (!a || !b) continue;
      ln.setAttribute("x1", a.x); ln.setAttribute("y1", a.y); ln.setAttribute("x2", b.x); ln.setAttribute("y2", b.y);
    }
    for (const d of nodes) d.g.setAttribute("transform", `translate(${d.x},${d.y})`);
  };
  let selected = null;
  const select = (d) => {
    if (selected) selected.g.classList.remove("sel");
    selected = d; d.g.classList.add("sel");
    onSelect(d, links.filter((l) => l.source === d.id || l.target === d.id));
  };
  for (const d of nodes) {
    const type = d.type || String(d.id).split(":")[0];
    const g = s("g", { class: "node", tabindex: 0, role: "button", "data-node": d.id, "aria-label": `${type} ${d.id}` });
    g.append(s("circle", { r: 12, fill: COLORS[type] || "#999" }), s("text", { x: 15, y: 4 }, String(d.id).slice(0, 40)));
    d.g = g; el.append(g);
    g.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); select(d); } });
    g.addEventListener("pointerdown", (e) => {
      e.preventDefault(); g.setPointerCapture(e.pointerId);
      const pt = el.createSVGPoint(); let moved = false;
      const move = (ev) => {
        pt.x = ev.clientX; pt.y = ev.clientY;
        const p = pt.matrixTransform(el.getScreenCTM().inverse());
        d.x = p.x; d.y = p.y; moved = true; place();
      };
      const up = () => { g.removeEventListener("pointermove", move); g.removeEventListener("pointerup", up); if (!moved) select(d); g.focus(); };
      g.addEventListener("pointermove", move); g.addEventListener("pointerup", up);
    });
  }
  place();
  return el;
}
