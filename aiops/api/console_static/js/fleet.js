// Fleet: hosts as tiles coloured by risk, grouped by zone and rack, with search and filters; a host's page
// with its prediction, risk trend, factors, recent features, VMs and an evacuation plan request.
import { get, post, news } from "./api.js";
import { h, clear, pct, duration, num, sevClass, table, when } from "./dom.js";
import { lineChart, bars } from "./chart.js";
import { planView } from "./plans.js";
import { needs, can } from "./roles.js";

const SEVS = ["critical", "high", "medium", "low"];

function tile(host) {
  const p = host.prediction;
  const sev = p ? sevClass(p.severity) : "none";
  const label = `${host.host_id}, ${p ? `risk ${pct(p.failure_probability)}, ${p.severity}` : "no prediction yet"}, ${host.vms.length} VMs${host.cordoned ? ", cordoned" : ""}`;
  return h("a", { href: `#/fleet/${encodeURIComponent(host.host_id)}`, class: `tile ${sev}${host.cordoned ? " cordoned" : ""}`,
                  "data-host": host.host_id, "data-severity": sev, "aria-label": label, title: label },
    h("b", {}, host.host_id), p ? pct(p.failure_probability) : "no prediction", h("br"), `${host.vms.length} VMs${host.cordoned ? " · cordoned" : ""}`);
}

function grouped(hosts) {
  const zones = new Map();
  for (const x of hosts) {
    if (!zones.has(x.zone)) zones.set(x.zone, new Map());
    const racks = zones.get(x.zone);
    if (!racks.has(x.rack)) racks.set(x.rack, []);
    racks.get(x.rack).push(x);
  }
  return [...zones].map(([zone, racks]) => h("section", { class: "zone card", "aria-label": `zone ${zone}` },
    h("h2", {}, `Zone ${zone}`),
    [...racks].map(([rack, hs]) => h("div", { class: "rack", role: "list", "aria-label": `rack ${rack}` },
      h("span", { class: "rack-name" }, `rack ${rack}`), hs.map((x) => h("span", { role: "listitem" }, tile(x)))))));
}

async function fleetList(root) {
  let hosts = [];
  const q = h("input", { id: "fleet-search", type: "search", placeholder: "host, zone or rack", "aria-label": "Search hosts" });
  const sev = h("select", { id: "fleet-sev", "aria-label": "Minimum severity" },
    h("option", { value: "" }, "any risk"), SEVS.map((s) => h("option", { value: s }, `${s} and above`)));
  const summary = h("p", { "data-testid": "fleet-summary", role: "status" });
  const groups = h("div", { "data-testid": "fleet-groups" });
  const draw = () => {
    const term = q.value.trim().toLowerCase();
    const min = sev.value ? SEVS.indexOf(sev.value) : SEVS.length;
    const shown = hosts.filter((x) => (!term || `${x.host_id} ${x.zone} ${x.rack}`.toLowerCase().includes(term))
      && (!sev.value || (x.prediction && SEVS.indexOf(x.prediction.severity) !== -1 && SEVS.indexOf(x.prediction.severity) <= min)));
    const counts = SEVS.map((s) => `${hosts.filter((x) => x.prediction && x.prediction.severity === s).length} ${s}`);
    summary.textContent = `${shown.length} of ${hosts.length} hosts shown · ${counts.join(", ")} · ${hosts.reduce((n, x) => n + x.vms.length, 0)} VMs`;
    const focused = groups.contains(document.activeElement) ? document.activeElement.dataset.host : null;
    clear(groups, grouped(shown));
    if (focused) { const again = groups.querySelector(`[data-host="${CSS.escape(focused)}"]`); if (again) again.focus(); } // keep the keyboard's place
  };
  q.addEventListener("input", draw); sev.addEventListener("change", draw);
  clear(root, h("h1", {}, "Fleet"), h("div", { class: "toolbar" }, h("label", { for: "fleet-search" }, "Search"), q,
    h("label", { for: "fleet-sev" }, "Risk"), sev), summary, groups);
  const load = async (live = false) => {
    const r = await (live ? news : get)("/fleet/hosts");
    if (r) { hosts = r.hosts; draw(); }
  };
  await load();
  return { refresh: () => load(true) };
}

function predictionCard(p) {
  const ttf = p.time_to_failure === null ? "not expected within the horizon"
    : `${duration(p.time_to_failure)}${p.time_to_failure_interval ? ` (10–90 %: ${duration(p.time_to_failure_interval[0])} – ${duration(p.time_to_failure_interval[1])})` : ""}`;
  return h("div", { class: "card", "data-testid": "prediction", "data-model-version": p.model_version, "data-probability": p.failure_probability },
    h("h2", {}, "Prediction"),
    h("p", {}, h("span", { class: "big", "data-testid": "risk" }, pct(p.failure_probability)), " ",
      h("span", { class: `sev ${sevClass(p.severity)}`, "data-testid": "severity" }, p.severity)),
    h("dl", { class: "kv" },
      h("dt", {}, "spread (10–90 %)"), h("dd", {}, `${pct(p.confidence_interval[0])} – ${pct(p.confidence_interval[1])}`),
      h("dt", {}, "time to failure"), h("dd", { "data-testid": "ttf" }, ttf),
      h("dt", {}, "model"), h("dd", { "data-testid": "model-version" }, p.model_version),
      h("dt", {}, "features as of"), h("dd", {}, when(p.features_as_of))),
    p.model_version.startsWith("unsupervised-health-") ? h("p", { class: "note" }, "Label-free health score: how unusual this host is against the fleet's normal rows, not a probability of failure.") : null,
    p.recommendations.length ? h("ul", {}, p.recommendations.map((r) => h("li", {}, r))) : null);
}

function factorsCard(p) {
  const items = p.contributing_factors.map((f) => ({ label: f.feature, value: f.contribution }));
  return h("div", { class: "card", "data-testid": "factors" }, h("h2", {}, "Top contributing factors"),
    items.length ? bars(items, { label: "contributions of the top factors" }) : h("p", {}, "No factor stands out."),
    h("ol", { class: "note" }, p.contributing_factors.map((f) => h("li", { "data-factor": f.feature }, `${f.feature} = ${num(f.value, 3)}: ${f.description}`))));
}

async function featureCharts(box, hostId, p) {
  try {
    const now = (await get(`/features/${encodeURIComponent(hostId)}`)).as_of;
    const hist = await get(`/features/${encodeURIComponent(hostId)}/history?start=${now - 3600}&end=${now}&step=120`);
    const wanted = [...new Set([...p.contributing_factors.map((f) => f.feature), "cpu_utilization_mean_5m", "memory_pressure_max_5m", "disk_io_latency_p95_5m", "temperature_max_5m"])].slice(0, 6);
    const charts = wanted.filter((f) => hist.rows.some((r) => r[f] !== null && r[f] !== undefined)).map((f) =>
      h("figure", {}, h("figcaption", {}, f), lineChart(hist.rows.map((r) => ({ x: r.ts, y: r[f] ?? NaN })), { w: 240, h: 90, label: `${f} over the last simulated hour` })));
    box.append(charts.length ? h("div", { class: "small-charts" }, charts) : h("p", {}, "No history yet."));
  } catch (e) { box.append(h("p", {}, `Feature history unavailable: ${e.message}`)); }
}

async function hostPage(root, hostId) {
  const id = encodeURIComponent(hostId);
  const [p, fleet] = await Promise.all([get(`/predictions/failures/${id}`), get("/fleet/hosts")]);
  const host = fleet.hosts.find((x) => x.host_id === hostId);
  const trend = h("div", { class: "card", "data-testid": "risk-trend" }, h("h2", {}, "Risk over time"));
  const drawTrend = async (live = false) => {
    try {
      const hist = await (live ? news : get)(`/predictions/failures/${id}/history?limit=360`);
      if (!hist) return;
      clear(trend, h("h2", {}, "Risk over time"), lineChart(hist.points.map((x) => ({ x: x.ts, y: x.probability })),
        { yMin: 0, yMax: 1, fmtY: (v) => pct(v), fmtX: (t) => new Date(t * 1000).toISOString().slice(11, 16), label: `risk of ${hostId} over time` }));
    } catch (e) { clear(trend, h("h2", {}, "Risk over time"), h("p", {}, "No trend yet: the monitor has not predicted this host since it started.")); }
  };
  const planBox = h("div", { "data-testid": "evacuation" });
  const ask = h("button", { type: "button", "data-testid": "request-evacuation" }, "Request evacuation plan");
  ask.addEventListener("click", async () => {
    ask.disabled = true;
    const t0 = performance.now();
    try {
      const plan = await post("/placement/evacuations", { host_ids: [hostId] });
      clear(planBox, planView(plan));
      performance.measure("interaction:evacuation-plan", { start: t0, end: performance.now() });
    } catch (e) { clear(planBox, h("p", { class: "bad", role: "status" }, `No plan: ${e.message}`)); }
    ask.disabled = false;
  });
  const vms = host ? host.vms : [];
  const features = h("div", { class: "card", "data-testid": "feature-history" }, h("h2", {}, "Recent feature history"));
  clear(root, h("p", {}, h("a", { href: "#/fleet" }, "← Fleet")),
    h("h1", {}, `Host ${hostId}`, host ? h("span", { class: "note" }, ` · zone ${host.zone}, rack ${host.rack}${host.cordoned ? " · cordoned" : ""}`) : null),
    h("div", { class: "grid2" }, predictionCard(p), trend, factorsCard(p),
      h("div", { class: "card", "data-testid": "vms" }, h("h2", {}, `VMs (${vms.length})`),
        vms.length ? h("ul", {}, vms.map((v) => h("li", { "data-vm": v }, v))) : h("p", {}, "No VMs."),
        !vms.length ? null : can("operator") ? ask : needs("operator", "Requesting an evacuation plan"))),
    planBox, features);
  // the slower panes (the trend, an hour of features computed on the shards) fill in after the page is drawn
  drawTrend();
  featureCharts(features, hostId, p);
  return { refresh: () => drawTrend(true) };
}

export async function render(root, params) {
  return params.length ? hostPage(root, params[0]) : fleetList(root);
}
