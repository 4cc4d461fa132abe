// Security: incidents newest first; an incident's timeline, interactive entity graph and responses (dry-run
// preview with the policy outcome first); the approvers' queue; the audit trail; suppressions.
import { get, post, del, news } from "./api.js";
import { h, clear, table, when, sevClass, actionRow, num } from "./dom.js";
import { entityGraph } from "./graph.js";
import { needs, can } from "./roles.js";

const ACTIONS = { quarantine_vm: ["vm_id"], snapshot_vm: ["vm_id"], disable_user: ["user"], block_ip: ["ip"] };
const key = () => (crypto.randomUUID ? crypto.randomUUID() : `${Date.now()}-${Math.random()}`);
const sev = (s) => h("span", { class: `sev ${sevClass(s)}` }, s);

async function incidents(box, live = false) {
  const r = await (live ? news : get)("/security/anomalies?kind=incident&limit=200");
  if (!r) return;
  const rows = r.anomalies.slice().sort((a, b) => (b.last_ts || b.timestamp) - (a.last_ts || a.timestamp)).map((a) =>
    actionRow({ "data-incident": a.id }, [when(a.last_ts || a.timestamp), sev(a.severity), a.status, a.tactics.join(" → "),
      h("span", {}, a.entities.slice(0, 6).map((e) => h("span", { class: "pill" }, e)), a.entities.length > 6 ? ` +${a.entities.length - 6}` : "")],
    () => { location.hash = `#/security/${encodeURIComponent(a.id)}`; }));
  clear(box, h("h2", {}, `Incidents (${rows.length})`),
    rows.length ? table(["last seen", "severity", "status", "tactics", "entities"], rows, { "data-testid": "incidents" }) : h("p", {}, "No incidents."));
}

async function approvals(box, after, live = false) {
  if (!can("approver")) { clear(box, h("h2", {}, "Approvals"), needs("approver", "Approving a response")); return; }
  const pending = await (live ? news : get)("/security/responses?status=pending_approval");
  if (!pending) return;
  const rows = pending.map((r) => {
    const btn = h("button", { type: "button", "data-approve": r.response_id }, "Approve");
    btn.addEventListener("click", async () => {
      btn.disabled = true;
      try { const res = await post(`/security/responses/${r.response_id}/approve`); btn.replaceWith(h("span", { class: "ok" }, res.status)); if (after) after(); }
      catch (e) { btn.replaceWith(h("span", { class: "bad" }, e.message)); }
    });
    return h("tr", { "data-response": r.response_id }, h("td", {}, r.action), h("td", {}, r.target), h("td", {}, r.requested_by),
      h("td", {}, r.anomaly_id), h("td", {}, when(r.created)), h("td", {}, btn));
  });
  clear(box, h("h2", {}, `Approvals waiting (${rows.length})`),
    rows.length ? table(["action", "target", "requested by", "anomaly", "requested", ""], rows, { "data-testid": "approvals" }) : h("p", {}, "Nothing waits for approval."));
}

async function audit(box, live = false) {
  const trail = await (live ? news : get)("/security/audit?limit=50");
  if (!trail) return;
  const rows = trail.map((r) => h("tr", { "data-audit-event": r.event, "data-response": r.response_id || "" },
    h("td", {}, String(r.seq)), h("td", {}, when(r.ts)), h("td", {}, r.event), h("td", {}, r.response_id || r.suppression_id || ""),
    h("td", {}, r.action || ""), h("td", {}, r.target || ""), h("td", {}, r.requested_by || r.by || r.approved_by || ""), h("td", { class: "hide-narrow" }, r.decision || "")));
  clear(box, h("h2", {}, "Audit trail (newest first)"),
    rows.length ? table(["#", "time", "event", "id", "action", "target", "who", "decision"], rows, { "data-testid": "audit" }) : h("p", {}, "Empty."));
}

async function suppressions(box) {
  const list = await get("/security/suppressions");
  const rows = list.map((s) => {
    const rm = can("responder") ? h("button", { type: "button", class: "secondary", "data-remove": s.id }, "Remove") : "";
    if (rm) rm.addEventListener("click", async () => { rm.disabled = true; try { await del(`/security/suppressions/${encodeURIComponent(s.id)}`); await suppressions(box); } catch (e) { rm.replaceWith(h("span", { class: "bad" }, e.message)); } });
    return h("tr", { "data-suppression": s.id }, h("td", {}, s.id), h("td", {}, s.reason), h("td", {}, (s.rules || []).join(", ")),
      h("td", {}, Object.entries(s.entities || {}).map(([k, v]) => `${k}=${v}`).join(", ")), h("td", { "data-hits": s.suppressed }, String(s.suppressed)), h("td", {}, s.created_by), h("td", {}, rm));
  });
  const form = h("form", { class: "toolbar", "data-testid": "add-suppression" },
    h("label", { for: "sup-id" }, "id"), h("input", { id: "sup-id", required: true, pattern: "[A-Za-z0-9._\\-]{1,64}" }),
    h("label", { for: "sup-entity" }, "entity"), h("input", { id: "sup-entity", required: true, placeholder: "user=backup-svc" }),
    h("label", { for: "sup-reason" }, "reason"), h("input", { id: "sup-reason", required: true }), h("button", { type: "submit" }, "Add"));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const [k, ...v] = form.elements["sup-entity"].value.split("=");
    try {
      await post("/security/suppressions", { id: form.elements["sup-id"].value.trim(), reason: form.elements["sup-reason"].value, rules: ["*"], entities: { [k.trim()]: v.join("=").trim() } });
      await suppressions(box);
    } catch (err) { form.append(h("span", { class: "bad", role: "status" }, err.message)); }
  });
  clear(box, h("h2", {}, "Suppressions"),
    rows.length ? table(["id", "reason", "rules", "entities", "alerts suppressed", "by", ""], rows, { "data-testid": "suppressions" }) : h("p", {}, "None."),
    can("responder") ? form : needs("responder", "Adding or removing a suppression"));
}

async function overview(root) {
  const inc = h("div", { class: "card" }), appr = h("div", { class: "card" }), aud = h("div", { class: "card" }), sup = h("div", { class: "card" });
  const all = () => Promise.all([incidents(inc), approvals(appr, () => audit(aud)), audit(aud), suppressions(sup)]);
  clear(root, h("h1", {}, "Security"), inc, appr, aud, sup);
  await all();
  return { refresh: () => Promise.all([incidents(inc, true), approvals(appr, () => audit(aud), true), audit(aud, true)]) };
}

function respondForm(anomaly, after) {
  const out = h("div", { "data-testid": "respond-result", role: "status" });
  const action = h("select", { id: "resp-action" }, Object.keys(ACTIONS).map((a) => h("option", { value: a }, a)));
  const target = h("input", { id: "resp-target" });
  const comment = h("input", { id: "resp-comment", placeholder: "why" });
  const fill = () => { target.value = (anomaly.targets || {})[ACTIONS[action.value][0]] || ""; };
  action.addEventListener("change", fill); fill();
  const send = async (dry) => {
    const t0 = performance.now();
    const body = { action: action.value, parameters: target.value.trim() ? { [ACTIONS[action.value][0]]: target.value.trim() } : {}, comment: comment.value || null, dry_run: dry };
    try {
      const r = await post(`/security/anomalies/${encodeURIComponent(anomaly.id)}/respond`, body, { headers: { "Idempotency-Key": key() } });
      const policy = r.result && r.result.policy;
      clear(out, h("p", { "data-status": r.status, "data-policy": policy || "" }, dry
        ? `Preview: would run ${r.action} on ${r.target}. Policy: ${policy === "auto" ? "runs at once (auto)" : "needs approval by an approver"}.`
        : `Request ${r.response_id}: ${r.status}${r.status === "pending_approval" ? " (waiting for an approver)" : ""}.`));
      performance.measure(`interaction:respond-${dry ? "preview" : "request"}`, { start: t0, end: performance.now() });
      if (!dry && after) after();
    } catch (e) { clear(out, h("p", { class: "bad", "data-status": "refused" }, `Refused (${e.status}): ${e.message}`)); }
  };
  if (!can("responder")) return needs("responder", "Responding to an incident");
  return h("div", { class: "card", "data-testid": "respond" }, h("h2", {}, "Respond"),
    h("div", { class: "toolbar" }, h("label", { for: "resp-action" }, "action"), action, h("label", { for: "resp-target" }, "target"), target,
      h("label", { for: "resp-comment" }, "comment"), comment),
    h("div", { class: "toolbar" }, h("button", { type: "button", class: "secondary", "data-testid": "preview", onclick: () => send(true) }, "Preview (dry run)"),
      h("button", { type: "button", "data-testid": "send-response", onclick: () => send(false) }, "Send request")), out);
}

async function incidentPage(root, id) {
  const a = await get(`/security/anomalies/${encodeURIComponent(id)}`);
  const rep = await get(`/security/incidents/${encodeURIComponent(a.incident_id || a.id)}`);
  const side = h("div", { class: "card", "data-testid": "node-detail", "aria-live": "polite" }, h("p", { class: "note" }, "Select an entity (click, or Tab then Enter) to see what it touched. Drag to rearrange."));
  const graph = entityGraph(rep.graph, (node, edges) => clear(side, h("h3", {}, node.id), h("p", {}, `type: ${node.type || "?"}`),
    h("ul", {}, [...edges.reduce((m, e) => { const k = `${e.source} → ${e.target}: ${e.label || ""}`; return m.set(k, (m.get(k) || 0) + 1); }, new Map())]
      .map(([k, n]) => h("li", {}, n > 1 ? `${k} (×${n})` : k)))));
  const timeline = rep.timeline.map((s) => h("li", { "data-signal": s.id || "" }, `${when(s.ts)} · ${(s.tactics || []).join(", ") || s.kind} · ${s.name} · ${(s.entities || []).join(", ")}`));
  const appr = h("div", { class: "card" }), aud = h("div", { class: "card" });
  const refresh = (live = false) => Promise.all([approvals(appr, () => audit(aud), live), audit(aud, live)]);
  clear(root, h("p", {}, h("a", { href: "#/security" }, "← Security")),
    h("h1", {}, "Incident ", sev(a.severity)),
    h("p", { "data-testid": "incident-summary" }, `${a.name} · risk ${num(a.score)} · ${a.tactics.join(" → ")} · status ${a.status}`),
    h("div", { class: "graph-wrap" }, h("div", { class: "card" }, h("h2", {}, "Entity graph"), graph), side),
    h("div", { class: "card" }, h("h2", {}, "Timeline"), h("ol", { "data-testid": "timeline" }, timeline)),
    respondForm(a, refresh), appr, aud);
  await refresh();
  return { refresh: () => refresh(true) };
}

export async function render(root, params) {
  return params.length ? incidentPage(root, params[0]) : overview(root);
}
