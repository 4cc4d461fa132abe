// The API client: the token lives in sessionStorage (this tab only), never in the URL. GETs send the last ETag
// back (If-None-Match) so an unchanged answer costs a 304; errors are classified for the banners.
const KEY = "aiops.console.token";
const cache = new Map(); // url -> {etag, data}
const seen = new Map(); // url -> the last answer's text
export const state = { roles: [], name: null, onError: null, onOk: null };

export const token = {
  get: () => sessionStorage.getItem(KEY),
  set: (t) => sessionStorage.setItem(KEY, t),
  clear: () => { sessionStorage.removeItem(KEY); cache.clear(); seen.clear(); },
};

export class ApiError extends Error {
  constructor(kind, status, message, body) { super(message); this.kind = kind; this.status = status; this.body = body; }
}

export const can = (role) => state.roles.includes(role);

export async function api(path, { method = "GET", body, headers = {}, quiet = false } = {}) {
  const t = token.get();
  const hdrs = { ...headers };
  if (t) hdrs.Authorization = `Bearer ${t}`;
  if (body !== undefined) hdrs["Content-Type"] = "application/json";
  const url = `/api/ai${path}`;
  const cached = method === "GET" ? cache.get(url) : undefined;
  if (cached) hdrs["If-None-Match"] = cached.etag;
  let res;
  try {
    res = await fetch(url, { method, headers: hdrs, cache: "no-store",
                             body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (e) {
    const err = new ApiError("unreachable", 0, "The API is unreachable (network error); retrying.");
    if (!quiet && state.onError) state.onError(err);
    throw err;
  }
  const text = await res.text(); // read even an empty 304 body: an unread one is cancelled, which reads as a failed request
  if (res.status === 304 && cached) { if (state.onOk) state.onOk(); return { data: cached.data, changed: false }; }
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = text; }
  if (!res.ok) {
    const msg = (data && data.message) || (data && data.detail && JSON.stringify(data.detail)) || `HTTP ${res.status}`;
    const kind = res.status === 401 ? "unauthenticated" : res.status === 403 ? "forbidden"
      : res.status >= 502 && res.status <= 504 ? "unreachable" : "error";
    const err = new ApiError(kind, res.status, msg, data);
    if (!quiet && state.onError && (kind === "unreachable" || kind === "unauthenticated")) state.onError(err);
    throw err;
  }
  if (state.onOk) state.onOk();
  if (method !== "GET") return { data, changed: true };
  // routes without an ETag: compare the text with the last answer, so a page redraws (and moves focus) only on news
  const etag = res.headers.get("ETag");
  const prev = seen.get(url);
  seen.set(url, text);
  if (etag) cache.set(url, { etag, data });
  return { data, changed: prev !== text };
}

// path -> data when it differs from what this tab last got for it, else null (for the live refresh)
export async function news(path, opts) {
  const { data, changed } = await api(path, opts);
  return changed ? data : null;
}

export const get = async (path, opts) => (await api(path, opts)).data;
export const post = async (path, body, opts = {}) => (await api(path, { ...opts, method: "POST", body })).data;
export const del = async (path, opts = {}) => (await api(path, { ...opts, method: "DELETE" })).data;
