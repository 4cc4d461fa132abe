// Models: the deployed failure model, earlier versions from the registry, retraining jobs.
import { api } from "./api.js";
import { h, clear, num, when, table } from "./dom.js";

function deployed(m) {
  return h("div", { class: "card", "data-testid": "deployed-model", "data-version": m.version }, h("h2", {}, "Deployed failure model"),
    h("dl", { class: "kv" }, h("dt", {}, "type"), h("dd", {}, m.type), h("dt", {}, "version"), h("dd", {}, m.version),
      h("dt", {}, "supervised"), h("dd", {}, m.supervised ? "yes" : "no (label-free health score)"),
      h("dt", {}, "trained"), h("dd", {}, when(m.last_trained)),
      h("dt", {}, "held-out metrics"), h("dd", {}, ["precision", "recall", "f1_score", "accuracy"].map((k) => `${k} ${num(m[k], 3)}`).join(" · ")),
      h("dt", {}, "training rows"), h("dd", {}, m.training_data_size ?? "–")),
    m.description ? h("p", { class: "note" }, m.description) : null);
}

export async function render(root) {
  const dep = h("div"), vers = h("div", { class: "card" }), jobs = h("div", { class: "card" });
  const load = async (live = false) => {
    const got = await Promise.all(["/models/failure-prediction", "/models/failure-prediction/versions",
                                   "/models/failure-prediction/retraining"].map((p) => api(p)));
    if (live && !got.some((g) => g.changed)) return;
    const [m, v, r] = got.map((g) => g.data);
    clear(dep, deployed(m));
    const rows = v.versions.map((x) => h("tr", { "data-version": x.version }, h("td", {}, x.version, x.production ? " (production)" : ""),
      h("td", {}, x.model_type || "–"), h("td", {}, when(x.created_at)),
      h("td", {}, Object.entries(x.metrics || {}).slice(0, 6).map(([k, val]) => `${k} ${num(val, 3)}`).join(" · ") || x.error || "–")));
    clear(vers, h("h2", {}, `Registry versions of ${v.name}`),
      rows.length ? table(["version", "type", "registered", "metrics"], rows, { "data-testid": "versions" }) : h("p", {}, "No version registered yet: the label-free health score is served."));
    clear(jobs, h("h2", {}, "Retraining"), r.available
      ? h("dl", { class: "kv", "data-testid": "retraining" }, h("dt", {}, "decision"), h("dd", {}, r.decision || "–"),
        h("dt", {}, "next due"), h("dd", {}, when(r.next_due_ts)), h("dt", {}, "last job"), h("dd", {}, `${r.last_job_id || "none"} ${r.last_job_status || ""}`),
        h("dt", {}, "outcome"), h("dd", {}, r.last_outcome || "–"), h("dt", {}, "jobs submitted"), h("dd", {}, String(r.jobs_submitted)),
        h("dt", {}, "jobs API"), h("dd", {}, r.jobs_error ? `unavailable: ${r.jobs_error}` : (r.jobs_api || "–")))
      : h("p", { "data-testid": "retraining" }, "No retraining scheduler runs in this engine."));
  };
  clear(root, h("h1", {}, "Models"), dep, vers, jobs);
  await load();
  return { refresh: () => load(true) };
}
