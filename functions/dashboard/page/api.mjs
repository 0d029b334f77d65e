// The dashboard's one door to the query API (docs/openapi.yaml): every request, field name and
// fallback lives here, so a change of the API is a change of this file only. The rest of the page
// sees the plain shapes documented on each function. Money stays the API's decimal strings.

/** A refused or failed request: HTTP status, the API's error code and message. */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;
const WEEK_MS = 7 * DAY_MS;
const UNIT_NAMES = new Map([
  [1000, "second"],
  [60_000, "minute"],
  [HOUR_MS, "hour"],
  [DAY_MS, "day"],
  [WEEK_MS, "week"],
]);

/**
 * The series chart under a leaderboard of `boardWindow`, chosen among the configured `windows`
 * ({name, sizeMs, advanceMs, originMs}, as /dashboard/config.json serves them): the coarsest
 * tumbling window no longer than the board's advance (for the all-time board, the coarsest of
 * all; when none is, the board's own window), over 60 points below an hour, 24 below a day, 30
 * below a week and 52 from a week up. {window, points, caption, dates}; null when no window has a grid.
 */
export function chartPlan(boardWindow, windows) {
  const board = windows.find((w) => w.name === boardWindow);
  const limit = board?.advanceMs ?? Number.POSITIVE_INFINITY;
  const tumbling = windows.filter((w) => w.advanceMs !== null && w.sizeMs === w.advanceMs && w.sizeMs <= limit);
  const chart =
    tumbling.reduce((coarsest, w) => (coarsest === undefined || w.sizeMs > coarsest.sizeMs ? w : coarsest), undefined) ??
    (board?.advanceMs == null ? undefined : board);
  if (chart === undefined) return null;
  const points = chart.sizeMs < HOUR_MS ? 60 : chart.sizeMs < DAY_MS ? 24 : chart.sizeMs < WEEK_MS ? 30 : 52;
  const unit = chart.sizeMs === chart.advanceMs ? UNIT_NAMES.get(chart.sizeMs) : undefined;
  const caption = unit === undefined ? `last ${points} ${chart.name} windows` : `last ${points} ${unit}s, by ${unit}`;
  return { window: chart.name, points, caption, dates: chart.sizeMs >= DAY_MS };
}

/** "1234.50" -> 123450n: exact integer cents, for proportions (bar lengths); never shown. */
export function centsOf(decimal) {
  const match = /^(-?)(\d+)(?:\.(\d{1,2}))?$/.exec(String(decimal));
  if (match === null) return 0n;
  const cents = BigInt(match[2]) * 100n + BigInt((match[3] ?? "").padEnd(2, "0"));
  return match[1] === "-" ? -cents : cents;
}

const iso = (ms) => new Date(ms).toISOString();

/** A leaderboard as the page shows it, whichever API version answered. */
function leaderboardView(body, basis) {
  const window = body.window ?? {};
  return {
    window: {
      name: window.name ?? null,
      start: window.start ?? null,
      end: window.end ?? null,
      status: window.status ?? null,
      // Present once a rebuild replaced the window's figures (docs/rebuild.md).
      revised: window.revised ?? null,
    },
    entries: (body.entries ?? []).map((entry) => ({ value: entry.value, orders: entry.orders, sales: entry.sales })),
    // Present once the API tells how complete the current window is (watermark lag, idle partitions).
    completeness: body.completeness ?? null,
    basis,
  };
}

const emptyLeaderboard = (window, basis) => ({
  window: { name: window, start: null, end: null, status: null, revised: null },
  entries: [],
  completeness: null,
  basis,
});

/**
 * The query API from the page's origin. `windows` are the ones it answers, with their grids
 * (/dashboard/config.json). `getToken` gives a bearer token (JWT deployments) or undefined (IAM
 * behind a signing proxy, or the local stack, which checks nothing).
 */
export function queryApi({
  windows,
  base = "",
  getToken = async () => undefined,
  now = () => Date.now(),
  fetchImpl = (...a) => fetch(...a),
}) {
  /** A configured window's grid; throws naming the window and the ones there are. */
  function grid(name) {
    const found = windows.find((w) => w.name === name);
    if (found === undefined) throw new Error(`the API has no window "${name}"; it has ${windows.map((w) => w.name).join(", ")}`);
    return found;
  }
  async function get(path, params) {
    const query = new URLSearchParams(Object.entries(params).filter(([, v]) => v !== undefined && v !== null));
    const token = await getToken();
    const response = await fetchImpl(`${base}${path}?${query}`, {
      headers: { accept: "application/json", ...(token !== undefined && { authorization: `Bearer ${token}` }) },
    });
    const body = await response.json().catch(() => ({}));
    if (!response.ok) throw new ApiError(response.status, body.error?.code ?? "HTTP_ERROR", body.error?.message ?? response.statusText);
    return body;
  }
  const refused = (error, status, code) =>
    error instanceof ApiError && error.status === status && (code === undefined || error.code === code);

  /**
   * The current window's top values: {window: {name, start, end, status}, entries: [{value,
   * orders, sales}], completeness, basis}. An API that answers the current window by default
   * (it tells its `completeness`) is taken at its word. The earlier API answers the latest closed
   * window by default (404 while none has closed): then the window holding now is asked with
   * `at`, or, while that one is still empty, the one before it (the latest sales).
   */
  async function current(dimension, window, limit) {
    const path = `/leaderboard/${encodeURIComponent(dimension)}`;
    let plain;
    try {
      plain = await get(path, { window, limit });
      if (plain.completeness !== undefined) return leaderboardView(plain, "current");
    } catch (error) {
      if (!refused(error, 404)) throw error;
    }
    const { advanceMs } = grid(window);
    if (advanceMs === null) return plain === undefined ? emptyLeaderboard(window, "current") : leaderboardView(plain, "current");
    const atNow = await get(path, { window, limit, at: iso(now()) });
    if (atNow.entries?.length > 0) return leaderboardView(atNow, "current");
    const before = await get(path, { window, limit, at: iso(now() - advanceMs) });
    if (before.entries?.length > 0) return leaderboardView(before, "current");
    return plain === undefined ? leaderboardView(atNow, "current") : leaderboardView(plain, "latest closed");
  }

  /** The latest closed window's final figures (`final=true`; the earlier API's default). Empty while none has closed. */
  async function final(dimension, window, limit) {
    const path = `/leaderboard/${encodeURIComponent(dimension)}`;
    try {
      return leaderboardView(await get(path, { window, limit, final: "true" }), "final");
    } catch (error) {
      if (!refused(error, 400, "UNKNOWN_PARAMETER")) {
        if (refused(error, 404)) return emptyLeaderboard(window, "final");
        throw error;
      }
    }
    try {
      return leaderboardView(await get(path, { window, limit }), "final");
    } catch (error) {
      if (refused(error, 404)) return emptyLeaderboard(window, "final");
      throw error;
    }
  }

  return {
    /** Top `limit` values of a dimension: the current window, or with `final` the latest closed one. */
    leaderboard: (dimension, { window = "10m/5m", final: wantFinal = false, limit = 10 } = {}) =>
      wantFinal ? final(dimension, window, limit) : current(dimension, window, limit),

    /**
     * A value's last `points` windows of `window` up to the one holding now: {window, range:
     * {from, to}, windows: [{start, end, orders, sales, status}], total (sales string, or null
     * for hopping windows)}. The range is asked on the window's grid (the earlier API refuses any
     * other) and read back from the answer's `range` when the API reports the range it used.
     */
    async series(dimension, value, { window, points }) {
      const { sizeMs, advanceMs, originMs } = grid(window);
      const to = originMs + Math.floor((now() - originMs) / advanceMs) * advanceMs + sizeMs;
      const from = to - sizeMs - (points - 1) * advanceMs;
      const body = await get(`/series/${encodeURIComponent(dimension)}/${encodeURIComponent(value)}`, {
        window,
        from: iso(from),
        to: iso(to),
      });
      return {
        window: body.window ?? window,
        range: { from: body.range?.from ?? body.from ?? iso(from), to: body.range?.to ?? body.to ?? iso(to) },
        windows: (body.windows ?? []).map((w) => ({
          start: w.start,
          end: w.end,
          orders: w.orders,
          sales: w.sales,
          status: w.status,
          revised: w.revised ?? null,
        })),
        total: body.total?.sales ?? null,
      };
    },
  };
}

/**
 * The page's settings (`/dashboard/config.json`): {auth: "iam"} or {auth: "jwt", authorizeUrl,
 * tokenUrl, clientId, scopes}, and `windows`, the query API's windows with their grids. Throws
 * ApiError (CONFIG) when they cannot be read or name no window.
 */
export async function pageConfig(base = "") {
  const response = await fetch(`${base}/dashboard/config.json`, { headers: { accept: "application/json" } });
  if (!response.ok) throw new ApiError(response.status, "CONFIG", `the dashboard's settings could not be read (${response.status})`);
  const config = await response.json();
  if (!Array.isArray(config.windows) || config.windows.length === 0)
    throw new ApiError(response.status, "CONFIG", "the dashboard's settings name no window");
  return config;
}

const base64url = (bytes) =>
  btoa(String.fromCharCode(...new Uint8Array(bytes)))
    .replace(/\+/g, "-")
    .replace(/\//g, "_")
    .replace(/=+$/, "");

/**
 * A bearer token for JWT deployments (OAuth 2.0 authorization code with PKCE, a public client):
 * kept for its lifetime in sessionStorage; otherwise the browser goes to the sign-in page and
 * comes back with a code, exchanged here. Undefined with `auth: "iam"`. Throws on a failed exchange.
 */
export function tokenSource(config) {
  if (config.auth !== "jwt") return async () => undefined;
  const redirectUri = `${location.origin}${location.pathname}`;
  return async () => {
    const saved = JSON.parse(sessionStorage.getItem("dashboard.token") ?? "null");
    if (saved !== null && saved.expiresAt > Date.now() + 30_000) return saved.token;
    const params = new URLSearchParams(location.search);
    const verifier = sessionStorage.getItem("dashboard.verifier");
    if (params.has("code") && verifier !== null && params.get("state") === sessionStorage.getItem("dashboard.state")) {
      const response = await fetch(config.tokenUrl, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({
          grant_type: "authorization_code",
          client_id: config.clientId,
          code: params.get("code"),
          redirect_uri: redirectUri,
          code_verifier: verifier,
        }),
      });
      if (!response.ok) throw new ApiError(response.status, "SIGN_IN", "the sign-in could not be completed; reload to try again");
      const body = await response.json();
      sessionStorage.removeItem("dashboard.verifier");
      history.replaceState(null, "", redirectUri);
      sessionStorage.setItem(
        "dashboard.token",
        JSON.stringify({ token: body.access_token, expiresAt: Date.now() + body.expires_in * 1000 }),
      );
      return body.access_token;
    }
    const newVerifier = base64url(crypto.getRandomValues(new Uint8Array(32)));
    const state = base64url(crypto.getRandomValues(new Uint8Array(16)));
    sessionStorage.setItem("dashboard.verifier", newVerifier);
    sessionStorage.setItem("dashboard.state", state);
    const challenge = base64url(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(newVerifier)));
    const login = new URL(config.authorizeUrl);
    for (const [name, value] of Object.entries({
      response_type: "code",
      client_id: config.clientId,
      redirect_uri: redirectUri,
      scope: config.scopes,
      state,
      code_challenge: challenge,
      code_challenge_method: "S256",
    }))
      login.searchParams.set(name, value);
    location.assign(login.toString());
    return new Promise(() => undefined); // the page is leaving
  };
}
