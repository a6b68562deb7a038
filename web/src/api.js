// Talks to deskd's own API. The session token lives in this module's memory only: never in a
// URL, a cookie or web storage, so no other origin (and no other tab) can read it; reloading
// the page signs out. Operators hold an API token (POST /v1/auth/token); desktop users hold a
// portal session token (POST /v1/portal/login).

let session = null; // { kind: 'operator' | 'user', token, name, ... }
const listeners = new Set();

export function getSession() {
  return session;
}

export function onSession(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

function setSession(s) {
  session = s;
  listeners.forEach((fn) => fn(s));
}

/** An error reply of the API: `code`, `message` (for developers) and `userTip` (Chinese). */
export class ApiError extends Error {
  constructor(status, code, message, userTip) {
    super(message);
    this.status = status;
    this.code = code;
    this.userTip = userTip;
  }
}

/** Calls `method path` with `{content: body}`; answers `content.data` or throws ApiError. */
export async function call(method, path, body) {
  const headers = { 'Content-Type': 'application/json' };
  if (session) headers.Authorization = `Bearer ${session.token}`;
  const res = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify({ content: body }),
  });
  let json = null;
  try {
    json = await res.json();
  } catch {
    throw new ApiError(res.status, 0, `HTTP ${res.status}`, '');
  }
  const c = json && json.content;
  if (!res.ok || !c || c.code !== 0) {
    if (res.status === 401 && session && !path.endsWith('/login') && !path.endsWith('/token')) {
      setSession(null);
    }
    throw new ApiError(res.status, c ? c.code : 0, c ? c.message : `HTTP ${res.status}`, c ? c.user_tip : '');
  }
  return c.data;
}

/** Operator sign-in with an API account. */
export async function signInOperator(userName, password) {
  const d = await call('POST', '/v1/auth/token', { user_name: userName, password });
  setSession({ kind: 'operator', token: d.token, name: userName });
}

/** Desktop-user sign-in to the portal. */
export async function signInUser(userName, password) {
  const d = await call('POST', '/v1/portal/login', { user_name: userName, password });
  setSession({ kind: 'user', token: d.token, name: d.user_name, realName: d.real_name, desks: d.desktop_arr });
}

export async function signOut() {
  const s = session;
  if (!s) return;
  try {
    await call('POST', s.kind === 'operator' ? '/v1/auth/token:revoke' : '/v1/portal/logout', {});
  } catch {
    // The token is dropped here either way.
  }
  setSession(null);
}

/** One page of a `:pagequery`-style listing. */
export function pageQuery(method, path, { page = 0, limit = 20, match = [], sort = [] } = {}) {
  return call(method, path, {
    page,
    limit,
    match_arr: match.map(([field, values]) => ({
      field_name: field,
      match_rule: 'EQ',
      type: 'EXACT',
      value_arr: values,
    })),
    sort_arr: sort.map(([field, direction]) => ({ field_name: field, direction })),
  });
}

/** A PromQL range query over the built-in metrics engine: [{metric, values:[[t, "v"]]}]. */
export async function promRange(query, seconds, step) {
  const end = Math.floor(Date.now() / 1000);
  const qs = new URLSearchParams({ query, start: String(end - seconds), end: String(end), step: String(step) });
  const headers = session ? { Authorization: `Bearer ${session.token}` } : {};
  const res = await fetch(`/api/v1/query_range?${qs}`, { headers });
  const j = await res.json();
  if (j.status !== 'success') throw new ApiError(res.status, 0, j.error || 'query failed', '');
  return j.data.result;
}

/** Prometheus-style GET of the metrics API (alerts, rules, targets). */
export async function promGet(path) {
  const headers = session ? { Authorization: `Bearer ${session.token}` } : {};
  const res = await fetch(path, { headers });
  const j = await res.json();
  if (j.status !== 'success') throw new ApiError(res.status, 0, j.error || 'query failed', '');
  return j.data;
}
