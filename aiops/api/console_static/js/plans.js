// A placement plan: its moves, the objectives' trade-off (Pareto front, chosen plan marked) and approval
// behind a confirmation that lists exactly what will move.
import { post } from "./api.js";
import { h, clear, table, num } from "./dom.js";
import { scatter } from "./chart.js";
import { needs, can } from "./roles.js";

const moveText = (a) => a.op === "create" ? `create ${a.vm_id} on ${a.to}` : `move ${a.vm_id}: ${a.from} → ${a.to}`;

function front(plan) {
  const objs = plan.objectives || [];
  if (objs.length < 2 || !(plan.pareto_front || []).length) return null;
  // plot the two objectives the front trades off most (relative spread); the others are in each point's title
  const spread = (o) => { const v = plan.pareto_front.map((p) => p.objectives[o]); const lo = Math.min(...v), hi = Math.max(...v);
    return (hi - lo) / (Math.abs(hi) + Math.abs(lo) + 1e-12); };
  const [xo, yo] = objs.slice().sort((a, b) => spread(b) - spread(a));
  const pts = plan.pareto_front.map((p) => ({ x: p.objectives[xo], y: p.objectives[yo],
    label: objs.map((o) => `${o} ${num(p.objectives[o], 3)}`).join(", ") }));
  return h("figure", { "data-testid": "pareto" },
    scatter(pts, plan.knee ? plan.knee.index : -1, { xName: xo, yName: yo, label: `Pareto front: ${xo} against ${yo}` }),
    h("figcaption", { class: "note" }, `${pts.length} plan(s) on the front the optimiser found (lower is better on both axes); `,
      "the chosen plan (the knee) is the large red point. ", plan.knee && plan.knee.explanation ? plan.knee.explanation : ""));
}

function confirmApply(plan) {
  return new Promise((resolve) => {
    const moves = plan.actions.map((a) => h("li", {}, moveText(a)));
    const dlg = h("dialog", { "aria-labelledby": "confirm-title", "data-testid": "confirm-apply" },
      h("h2", { id: "confirm-title" }, `Apply plan ${plan.plan_id.slice(0, 8)}…?`),
      h("p", {}, `${plan.actions.length} action(s) will run on the control plane:`),
      h("ul", { "data-testid": "confirm-moves" }, moves),
      plan.hosts && plan.hosts.length ? h("p", {}, `Then ${plan.hosts.join(", ")} will be cordoned (no new VMs).`) : null,
      h("div", { class: "toolbar" },
        h("button", { type: "button", class: "danger", "data-testid": "confirm-yes", onclick: () => { dlg.close(); resolve(true); } }, "Apply these moves"),
        h("button", { type: "button", class: "secondary", onclick: () => { dlg.close(); resolve(false); } }, "Cancel")));
    dlg.addEventListener("cancel", () => resolve(false));
    dlg.addEventListener("close", () => dlg.remove());
    document.body.append(dlg);
    dlg.showModal();
  });
}

export function planView(plan, onApplied) {
  const box = h("div", { class: "card", "data-testid": "plan", "data-plan-id": plan.plan_id });
  const status = h("p", { "data-testid": "plan-status", role: "status" }, `Status: ${plan.status}`);
  const rows = plan.actions.map((a) => h("tr", { "data-vm": a.vm_id }, h("td", {}, a.op), h("td", {}, a.vm_id),
    h("td", {}, a.from || "–"), h("td", {}, a.to), h("td", { class: "hide-narrow" }, a.risk_after !== undefined ? `${num(a.risk_before, 3)} → ${num(a.risk_after, 3)}` : "")));
  const approve = h("button", { type: "button", "data-testid": "approve-plan" }, "Approve and apply…");
  approve.addEventListener("click", async () => {
    if (!(await confirmApply(plan))) return;
    approve.disabled = true;
    try {
      const res = await post(`/placement/plans/${plan.plan_id}/apply`, { approve: true });
      status.textContent = `Status: ${res.status}; ${res.applied.length} applied, ${res.skipped.length} skipped.`;
      status.dataset.applied = String(res.applied.length);
      if (onApplied) onApplied(res);
    } catch (e) { status.textContent = `Apply refused: ${e.message}`; approve.disabled = false; }
  });
  clear(box,
    h("h2", {}, `${plan.kind} plan ${plan.plan_id.slice(0, 8)}…`),
    status,
    plan.stranded && plan.stranded.length ? h("p", { class: "bad" }, `Could not place: ${plan.stranded.join(", ")}`) : null,
    h("h3", {}, `Moves (${plan.actions.length})`),
    plan.actions.length ? table(["op", "VM", "from", "to", "risk (from → to)"], rows, { "data-testid": "plan-moves" }) : h("p", {}, "Nothing to move."),
    front(plan),
    plan.status === "proposed" ? (can("approver") ? approve : needs("approver", "Approving a plan")) : null);
  return box;
}
