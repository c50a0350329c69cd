// HTTP: every request to the box office goes through api(); the server's clock is noted.

const REQUEST_TIMEOUT_MS = 15000;
/**
 * The API base URL, without a trailing slash. '' means the page's own origin.
 * Order: `?api=` query parameter, then `<meta name="api-base" content="...">`, then same origin.
 */
export function resolveApiBase(search = location.search, doc = document) {
  const fromQuery = new URLSearchParams(search).get('api');
  const meta = doc.querySelector('meta[name="api-base"]');
  const fromMeta = meta ? meta.getAttribute('content') : '';
  for (const raw of [fromQuery, fromMeta]) {
    if (!raw || !raw.trim()) continue;
    try {
      const url = new URL(raw.trim(), location.href);
      if (url.protocol === 'http:' || url.protocol === 'https:') {
        return (url.origin + url.pathname).replace(/\/+$/, '');
      }
    } catch {
      /* fall through to the warning */
    }
    console.warn('Ignoring invalid API base URL:', raw);
  }
  return '';
}

export const API_BASE = resolveApiBase();
// Identifies the API a stored checkout belongs to, so a token is only ever sent back to its issuer.
export const API_KEY = API_BASE || location.origin;

// ---------------------------------------------------------------------------
// HTTP: every request goes through api()
// ---------------------------------------------------------------------------

export class ApiError extends Error {
  constructor(status, code, message, data) {
    super(message);
    this.name = 'ApiError';
    this.status = status; // 0 for network errors and timeouts
    this.code = code;
    this.data = data || null;
  }
}

let serverOffsetMs = 0; // server clock minus ours, when we can tell

function noteServerClock(res, sentAt) {
  const header = res.headers.get('Date');
  if (!header) return;
  const serverMs = Date.parse(header);
  if (Number.isNaN(serverMs)) return;
  const offset = serverMs + 500 - (sentAt + Date.now()) / 2; // Date has 1 s resolution
  // Only correct clocks that are clearly off; small differences are noise.
  serverOffsetMs = Math.abs(offset) > 3000 ? offset : 0;
}

export function nowMs() {
  return Date.now() + serverOffsetMs;
}

function fallbackMessage(status) {
  if (status === 401 || status === 403) return 'This checkout belongs to another session.';
  if (status === 404) return 'Not found.';
  if (status === 429) return 'Too many requests right now. Please wait a moment and try again.';
  if (status >= 500) return `Something went wrong on our side (error ${status}). Please try again.`;
  return `The request failed (error ${status}).`;
}

export async function api(path, { method = 'GET', body, token } = {}) {
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (token) headers.Authorization = `Bearer ${token}`;
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), REQUEST_TIMEOUT_MS);
  const sentAt = Date.now();
  let res;
  let text = '';
  try {
    res = await fetch(API_BASE + path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: controller.signal,
      cache: 'no-store',
    });
    text = await res.text();
  } catch {
    throw new ApiError(0, 'network', "Can't reach the box office right now. Check your connection and try again.");
  } finally {
    clearTimeout(timer);
  }
  noteServerClock(res, sentAt);
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (!res.ok) {
    const code = data && typeof data.error === 'string' ? data.error : `http_${res.status}`;
    const message =
      data && typeof data.message === 'string' && data.message.trim() ? data.message : fallbackMessage(res.status);
    throw new ApiError(res.status, code, message, data);
  }
  return data;
}

export const enc = encodeURIComponent;
