import { loadConfig, oneOf, optionalText, parsed } from "#shared/config/env";
import { parseWindows } from "#shared/windows/windows";

/**
 * Settings of the dashboard function, read once at cold start. With `jwt` the page signs its
 * reader in (OAuth 2.0 authorization code with PKCE) and sends the token to the read routes.
 * WINDOWS is the query function's (the template's `Windows`): the page offers those windows.
 */
export const config = loadConfig({
  auth: oneOf("DASHBOARD_AUTH", ["iam", "jwt"], "iam"),
  authorizeUrl: optionalText("DASHBOARD_AUTHORIZE_URL"),
  tokenUrl: optionalText("DASHBOARD_TOKEN_URL"),
  clientId: optionalText("DASHBOARD_CLIENT_ID"),
  scopes: optionalText("DASHBOARD_SCOPES"),
  windows: parsed("WINDOWS", undefined, parseWindows),
});
