// Placement: a VM spec form -> ranked nodes (score, confidence, pros, cons) and the chosen node's factor
// breakdown; batch and rebalancing plans with their moves and Pareto front; stored plans to open and approve.
import { get, post, news } from "./api.js";
import { h, clear, num, table, actionRow, when } from "./dom.js";
import { bars } from "./chart.js";
import { planView } from "./plans.js";
import { needs, can } from "./roles.js";

function field(id, label, attrs) {
  return h("span", {}, h("label", { for: id }, label), h("input", { id, name: id, ...attrs }));
}

function spec(form) {
  const v = (k) => form.elements[k].value;
  const s = { cpu_cores: Number(v("cpu")), memory_gb: Number(v("mem")), disk_gb: Number(v("disk")), gpus: Number(v("gpus")) };
  if (v("tenant").trim()) s.tenant_id = v("tenant").trim();
  return s;
}

function breakdown(rec) {
  const all = Object.entries(rec.factor_scores).map(([k, v]) => ({ label: k, value: v })).sort((a, b) => b.value - a.value);
  const items = all.length > 16 ? [...all.slice(0, 8), ...all.slice(-8)] : all; // its strongest and weakest factors
  return h("div", { class: "card", "data-testid": "breakdown" }, h("h2", {}, `Why ${rec.node_id}: its 8 strongest and 8 weakest factor scores (0–1)`),
    bars(items, { label: `factor scores of ${rec.node_id}`, fmt: (x) => x.toFixed(2) }),
    h("p", { class: "note" }, Object.entries(rec.category_scores).map(([k, v]) => `${k} ${num(v)}`).join(" · ")));
}

function ranked(res, detail) {
  const rows = res.recommendations.map((r) => actionRow({ "data-node": r.node_id, "data-rank": r.rank },
    [String(r.rank), r.node_id, `${r.zone} / rack ${r.rack}`, num(r.placement_score, 3), num(r.confidence, 2),
     h("ul", {}, r.pros.map((x) => h("li", {}, x))), h("ul", {}, r.cons.map((x) => h("li", {}, x)))],
    (e) => { for (const tr of e.currentTarget.parentNode.children) tr.classList.remove("selected");
             e.currentTarget.classList.add("selected"); clear(detail, breakdown(r)); }));
  if (rows.length) rows[0].classList.add("selected");
  return h("div", { class: "card" }, h("h2", {}, "Ranked nodes"),
    h("p", { class: "note" }, `${res.feasible_nodes} of ${res.total_nodes} nodes pass the hard constraints; ${res.nodes_scored} scored in ${num(1000 * res.analysis_time, 0)} ms.`),
    table(["#", "node", "zone / rack", "score", "confidence", "pros", "cons"], rows, { "data-testid": "ranked" }));
}

async function plansList(box, planBox, live = false) {
  const r = await (live ? news : get)("/placement/plans?limit=20");
  if (!r) return;
  const rows = r.plans.map((p) => actionRow({ "data-plan": p.plan_id },
    [p.plan_id.slice(0, 8), p.kind, p.status, String(p.actions), (p.hosts || []).join(", "), when(p.created)],
    async () => clear(planBox, planView(await get(`/placement/plans/${p.plan_id}`), () => plansList(box, planBox)))));
  clear(box, h("h2", {}, "Plans"), rows.length ? table(["plan", "kind", "status", "actions", "hosts", "created"], rows, { "data-testid": "plans" }) : h("p", {}, "No plans yet."));
}

export async function render(root) {
  const result = h("div", { "data-testid": "recommendation" }), detail = h("div"), planBox = h("div"), list = h("div", { class: "card" });
  const form = h("form", { class: "card", "data-testid": "vm-form" }, h("h2", {}, "A VM to place"),
    h("div", { class: "toolbar" }, field("cpu", "vCPUs", { type: "number", min: 0.5, step: 0.5, value: 2, required: true }),
      field("mem", "memory GB", { type: "number", min: 0.5, step: 0.5, value: 4, required: true }),
      field("disk", "disk GB", { type: "number", min: 0, value: 20 }), field("gpus", "GPUs", { type: "number", min: 0, value: 0 }),
      field("tenant", "tenant", { type: "text", placeholder: "default" }),
      h("button", { type: "submit", "data-testid": "recommend" }, "Recommend nodes")));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const t0 = performance.now();
    try {
      const res = await post("/placement/recommendations", { vm_specs: spec(form), max_recommendations: 5 });
      clear(result, ranked(res, detail));
      clear(detail, res.recommendations.length ? breakdown(res.recommendations[0]) : null);
      performance.measure("interaction:recommend", { start: t0, end: performance.now() });
    } catch (err) { clear(result, h("p", { class: "bad", role: "status" }, `No recommendation: ${err.message}`)); clear(detail); }
  });
  const count = h("input", { id: "batch-n", type: "number", min: 1, max: 50, value: 4 });
  const rebal = h("input", { id: "rebal-host", type: "text", placeholder: "host-0003" });
  const run = async (body) => {
    clear(planBox, h("p", { role: "status" }, "Optimising…"));
    try { clear(planBox, planView(await post("/placement/plan", body), () => plansList(list, planBox))); await plansList(list, planBox); }
    catch (err) { clear(planBox, h("p", { class: "bad", role: "status" }, `No plan: ${err.message}`)); }
  };
  const batchBtn = h("button", { type: "button", "data-testid": "plan-batch", onclick: () =>
    run({ vms: Array.from({ length: Number(count.value) }, (_, i) => ({ ...spec(form), vm_id: `console-${Date.now() % 100000}-${i + 1}` })), time_limit_s: 3 }) }, "Plan a batch");
  const rebalBtn = h("button", { type: "button", class: "secondary", onclick: () => rebal.value.trim() && run({ rebalance_hosts: [rebal.value.trim()], time_limit_s: 3 }) }, "Plan a rebalance");
  const plans = h("div", { class: "card" }, h("h2", {}, "Batch and rebalancing plans"),
    can("operator") ? h("div", { class: "toolbar" }, h("label", { for: "batch-n" }, "VMs of this spec"), count, batchBtn,
      h("label", { for: "rebal-host" }, "or rebalance host"), rebal, rebalBtn) : needs("operator", "Planning a batch or a rebalance"));
  clear(root, h("h1", {}, "Placement"), form, result, detail, plans, planBox, list);
  await plansList(list, planBox);
  return { refresh: () => plansList(list, planBox, true) };
}
