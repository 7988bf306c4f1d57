// Talking to the server: JSON over fetch with the token when one is needed, and the live feed over
// WebSocket, resumed from the last position after every drop.

const TOKEN_KEY = 'eventy.token';
let token = sessionStorage.getItem(TOKEN_KEY) ?? undefined;
const listeners = new Set();

/** Raised when the server wants a (valid) token; `onAuthNeeded` listeners are told. */
export class AuthError extends Error {}

export function onAuthNeeded(fn) {
  listeners.add(fn);
}

export function setToken(value) {
  token = value || undefined;
  if (token) sessionStorage.setItem(TOKEN_KEY, token);
  else sessionStorage.removeItem(TOKEN_KEY);
}

/** GET `path` (relative to the page) as JSON; throws the server's `{ code, message }` as an Error. */
export async function getJson(path) {
  const res = await fetch(path, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  if (res.status === 401 || res.status === 403) {
    for (const fn of listeners) fn(res.status);
    throw new AuthError(res.status === 401 ? 'a token is required' : 'the token does not match');
  }
  const type = res.headers.get('content-type') ?? '';
  const body = type.includes('json') && !type.includes('ndjson') ? await res.json() : await res.text();
  if (!res.ok) throw new Error(typeof body === 'object' ? `${body.code}: ${body.message}` : String(body));
  return body;
}

/** GET `path` as JSON lines. */
export async function getLines(path) {
  const text = await getJson(path);
  return String(text)
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line));
}

/** A query string of `params` (arrays repeat the name; undefined and '' are left out). */
export function query(params) {
  const q = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    for (const v of Array.isArray(value) ? value : [value]) {
      if (v !== undefined && v !== '' && v !== null) q.append(name, String(v));
    }
  }
  const s = q.toString();
  return s ? `?${s}` : '';
}

/**
 * Follows `/feed` from `from` with `filter` ({ queue, subscriber, type: [] }): `onRecords(records)`
 * for each message, `onStatus(text)` as the connection comes and goes. A dropped connection is
 * reopened from the last `next` (so nothing is missed or seen twice); one dropped as `lagging` goes on
 * from there too. Returns a function that stops it.
 */
export function follow({ from, filter, onRecords, onStatus }) {
  let next = from;
  let socket;
  let stopped = false;
  let retry = 500;
  const open = () => {
    const url = new URL(`feed${query({ ...filter, from: next, access_token: token })}`, location.href);
    url.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
    socket = new WebSocket(url);
    socket.onopen = () => {
      retry = 500;
      onStatus('live');
    };
    socket.onmessage = (m) => {
      const msg = JSON.parse(m.data);
      if (msg.type === 'hello' && next === undefined) next = msg.from;
      else if (msg.type === 'records') {
        next = msg.next;
        onRecords(msg.records);
      } else if (msg.type === 'lagging') next = msg.next;
    };
    socket.onclose = () => {
      if (stopped) return;
      onStatus('reconnecting');
      setTimeout(() => stopped || open(), retry);
      retry = Math.min(retry * 2, 10_000);
    };
  };
  open();
  return () => {
    stopped = true;
    socket?.close();
  };
}
