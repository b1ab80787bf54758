// The /v1 API with the token from sessionStorage. No cookies are used, so no other site can
// make the browser act with the user's rights (no CSRF surface).

const TOKEN = "wfhost.token";

export const session = {
  get token() { return sessionStorage.getItem(TOKEN); },
  set token(t) { t ? sessionStorage.setItem(TOKEN, t) : sessionStorage.removeItem(TOKEN); },
  get tenant() { return sessionStorage.getItem("wfhost.tenant"); },
  set tenant(t) { t ? sessionStorage.setItem("wfhost.tenant", t) : sessionStorage.removeItem("wfhost.tenant"); },
};

/** An API error: a problem details document (RFC 9457) made readable. */
export class ApiProblem extends Error {
  constructor(status, problem) {
    const text = problem.detail || problem.title || `HTTP ${status}`;
    super(status === 422 && Array.isArray(problem.errors) ? `${text}: ${problem.errors.map(describe).join("; ")}` : text);
    this.status = status;
    this.code = problem.code || null;
  }
}

function describe(e) {
  return typeof e === "string" ? e : `${(e.loc || []).join(".")}: ${e.msg || JSON.stringify(e)}`;
}

export let onUnauthorized = () => {};
export function setOnUnauthorized(fn) { onUnauthorized = fn; }

/** Call the API; JSON in and out; throws ApiProblem. */
export async function api(path, {method = "GET", body, params} = {}) {
  const url = new URL(path, location.origin);
  for (const [k, v] of Object.entries(params || {})) if (v !== undefined && v !== null && v !== "") url.searchParams.set(k, v);
  const headers = {Authorization: `Bearer ${session.token}`, Accept: "application/json"};
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const r = await fetch(url, {method, headers, body: body === undefined ? undefined : JSON.stringify(body),
                              credentials: "omit", cache: "no-store"});
  if (r.status === 401) onUnauthorized();
  if (r.status === 204) return null;
  const data = await r.json().catch(() => ({}));
  if (!r.ok) throw new ApiProblem(r.status, data);
  return data;
}

/** The path of the current tenant's API. */
export const tenantPath = (tenant, rest = "") => `/v1/tenants/${encodeURIComponent(tenant)}${rest}`;

/**
 * Server-Sent Events with the bearer header (EventSource cannot send one): calls
 * onEvent(name, data) per event until the stream ends or signal aborts.
 */
export async function stream(path, onEvent, signal) {
  const r = await fetch(new URL(path, location.origin), {
    headers: {Authorization: `Bearer ${session.token}`, Accept: "text/event-stream"}, signal, credentials: "omit"});
  if (!r.ok) throw new ApiProblem(r.status, await r.json().catch(() => ({})));
  const reader = r.body.pipeThrough(new TextDecoderStream()).getReader();
  let buf = "";
  for (;;) {
    const {value, done} = await reader.read();
    if (done) return;
    buf += value;
    let cut;
    while ((cut = buf.indexOf("\n\n")) >= 0) {
      const frame = buf.slice(0, cut);
      buf = buf.slice(cut + 2);
      let name = "message";
      const data = [];
      for (const line of frame.split("\n")) {
        if (line.startsWith("event:")) name = line.slice(6).trim();
        else if (line.startsWith("data:")) data.push(line.slice(5).trim());
      }
      if (data.length) onEvent(name, JSON.parse(data.join("\n")));
    }
  }
}
