import { HttpError } from "#shared/http/errors";
import { type HttpResponse, json } from "#shared/http/responses";
import type { WindowSpec } from "#shared/windows/windows";

/** One file of the page, as the bundle holds it. */
export interface PageAsset {
  readonly body: string;
  readonly contentType: string;
}

/** How the page signs its reader in: nothing to do (`iam`: local, or a signing proxy) or an OAuth 2.0 login (`jwt`). */
export interface PageSettings {
  readonly auth: "iam" | "jwt";
  readonly authorizeUrl?: string | undefined;
  readonly tokenUrl?: string | undefined;
  readonly clientId?: string | undefined;
  readonly scopes?: string | undefined;
  /** The windows the query API answers (WINDOWS, as the query function reads it). */
  readonly windows: readonly WindowSpec[];
}

/**
 * A window as the page needs it: its name and grid (starts at `originMs + k * advanceMs`), so the
 * page asks for series on the grid shared/windows computes and holds no copy of the window
 * syntax. The all-time window has no grid (nulls).
 */
export interface PageWindow {
  readonly name: string;
  readonly sizeMs: number | null;
  readonly advanceMs: number | null;
  readonly originMs: number | null;
}

const pageWindow = (spec: WindowSpec): PageWindow =>
  spec.unbounded
    ? { name: spec.name, sizeMs: null, advanceMs: null, originMs: null }
    : { name: spec.name, sizeMs: spec.sizeMs, advanceMs: spec.advanceMs, originMs: spec.originMs };

/** The page's assets by the name they are served under (`/dashboard/<name>`); `index.html` is also `GET /`. */
export type PageAssets = ReadonlyMap<string, PageAsset>;

const originOf = (url: string | undefined) => {
  try {
    return url === undefined ? undefined : new URL(url).origin;
  } catch {
    return undefined;
  }
};

/**
 * Headers of every page response. The page loads nothing from elsewhere (no CDN): scripts,
 * styles and data come from this API only, and the token endpoint is the one other origin it
 * may call. `no-cache`: an edited page shows on the next load.
 */
function pageHeaders(contentType: string, settings: PageSettings): Record<string, string> {
  const connect = ["'self'", originOf(settings.tokenUrl)].filter((source) => source !== undefined).join(" ");
  return {
    "content-type": contentType,
    "cache-control": "no-cache",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "content-security-policy": `default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src ${connect}; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`,
  };
}

/** What the page's script reads at start (`/dashboard/config.json`): how to sign in and the windows there are; no secrets. */
export function pageConfig(settings: PageSettings) {
  return {
    auth: settings.auth,
    windows: settings.windows.map(pageWindow),
    ...(settings.auth === "jwt" && {
      authorizeUrl: settings.authorizeUrl ?? null,
      tokenUrl: settings.tokenUrl ?? null,
      clientId: settings.clientId ?? null,
      scopes: settings.scopes ?? "openid",
    }),
  };
}

/**
 * The response for a file of the page: `GET /` asks for `index.html`, `GET /dashboard/{asset}`
 * for an asset or `config.json`. Throws HttpError 404 (NOT_FOUND) naming the file and the ones
 * there are for anything else.
 */
export function pageResponse(name: string, assets: PageAssets, settings: PageSettings): HttpResponse {
  if (name === "config.json") return json(200, pageConfig(settings), pageHeaders("application/json; charset=utf-8", settings));
  const asset = assets.get(name);
  if (asset === undefined) {
    const known = [...assets.keys(), "config.json"].map((n) => `/dashboard/${n}`).join(", ");
    throw new HttpError(404, "NOT_FOUND", `the dashboard has no file "${name}"; it serves / and ${known}`);
  }
  return { statusCode: 200, headers: pageHeaders(asset.contentType, settings), body: asset.body };
}
