// The console shell: login (token in sessionStorage), whoami (roles), hash routing, live refresh, banners.
import { token, state, get } from "./api.js";
import { h, clear } from "./dom.js";
import * as fleet from "./fleet.js";
import * as placement from "./placement.js";
import * as security from "./security.js";
import * as models from "./models.js";

const pages = { fleet, placement, security, models };
const POLL_MS = 5000;
const $ = (id) => document.getElementById(id);
let current = null;

function banner(message, cls = "") {
  const b = $("banner");
  if (!message) { b.hidden = true; b.dataset.kind = ""; return; }
  b.className = `banner ${cls}`; b.dataset.kind = cls || "error"; b.textContent = message; b.hidden = false;
}

state.onError = (err) => {
  if (err.kind === "unreachable") banner("API unreachable: the engine does not answer. The page keeps retrying; what it shows may be stale.");
  if (err.kind === "unauthenticated") { token.clear(); showLogin("Your token was rejected (401): it is unknown or was revoked. Paste a valid token."); }
};
state.onOk = () => { if ($("banner").dataset.kind === "error") banner(null); };

function showLogin(reason) {
  current = null;
  $("nav").hidden = true; $("logout").hidden = true; $("who").textContent = "";
  clear($("page"));
  $("login").hidden = false; $("login-reason").textContent = reason || "";
  $("token").value = ""; $("token").focus();
  document.body.dataset.state = "login";
}

function showShell() {
  $("login").hidden = true; $("nav").hidden = false; $("logout").hidden = false;
  $("who").textContent = `${state.name} · roles: ${state.roles.join(", ") || "none"}`;
  document.body.dataset.state = "app";
  document.body.dataset.roles = state.roles.join(",");
}

async function start() {
  if (!token.get()) { showLogin("No token: paste an API token to use the console."); return; }
  try {
    const me = await get("/auth/whoami", { quiet: true });
    state.name = me.name; state.roles = me.roles;
  } catch (e) {
    if (e.kind === "unauthenticated") { token.clear(); showLogin("That token was rejected (401). Paste a valid token."); return; }
    banner("API unreachable: the engine does not answer. Retrying…"); setTimeout(start, 3000); return;
  }
  banner(null);
  showShell();
  if (!state.roles.includes("viewer")) {
    banner(`Token "${state.name}" lacks the viewer role: the console has nothing it may show.`, "warn");
    clear($("page")); return;
  }
  await route();
}

async function route() {
  if (document.body.dataset.state !== "app") return;
  const [name, ...rest] = location.hash.replace(/^#\/?/, "").split("/").filter(Boolean);
  const page = pages[name] ? name : "fleet";
  for (const a of document.querySelectorAll("#nav a")) a.toggleAttribute("aria-current", a.dataset.page === page);
  for (const a of document.querySelectorAll("#nav a[aria-current]")) a.setAttribute("aria-current", "page");
  const t0 = performance.now();
  const key = location.hash;
  const root = $("page");
  clear(root);
  delete document.body.dataset.ready;
  current = { page, key, ctrl: null };
  try {
    const ctrl = await pages[page].render(root, rest.map(decodeURIComponent));
    if (!current || current.key !== key) return;
    current.ctrl = ctrl;
    const done = performance.now();
    performance.measure(`route:${page}${rest.length ? ":detail" : ""}`, { start: t0, end: done });
    if (!performance.getEntriesByName("first-ready").length) performance.measure("first-ready", { start: 0, end: done });
    document.body.dataset.ready = key || "#/fleet";
  } catch (e) {
    if (e.kind === "unauthenticated" || e.kind === "unreachable") return; // the banner or login says it
    clear(root, h("div", { class: "card", role: "status" }, h("h1", {}, "Cannot show this page"), h("p", {}, e.message)));
  }
}

setInterval(async () => {
  if (!current || !current.ctrl || !current.ctrl.refresh || document.visibilityState !== "visible") return;
  try { await current.ctrl.refresh(); } catch (e) { /* banners report it; the next round retries */ }
}, POLL_MS);

$("login-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const t = $("token").value.trim();
  if (!t) return;
  token.set(t); $("token").value = "";
  start();
});
$("logout").addEventListener("click", () => { token.clear(); showLogin("Logged out."); });
window.addEventListener("hashchange", () => { route(); $("main").focus({ preventScroll: true }); });
start();
