import type { APIGatewayProxyEventV2 } from "aws-lambda";
import { describe, expect, it } from "vitest";
import { handler } from "#functions/dashboard/handler";
import { type PageAssets, pageResponse } from "#functions/dashboard/page";
import { HttpError } from "#shared/http/errors";
import { eventFile, lambdaContext } from "#test/support/lambda";

const assets: PageAssets = new Map([
  ["index.html", { body: "<!doctype html>", contentType: "text/html; charset=utf-8" }],
  ["dashboard.mjs", { body: "export {}", contentType: "text/javascript; charset=utf-8" }],
]);

describe("the dashboard's page files", () => {
  it("serves index.html for GET / and an asset by name, never cached stale, under a CSP that loads nothing from elsewhere", () => {
    const page = pageResponse("index.html", assets, { auth: "iam" });
    expect(page).toMatchObject({ statusCode: 200, body: "<!doctype html>", headers: { "content-type": "text/html; charset=utf-8" } });
    expect(page.headers).toMatchObject({ "cache-control": "no-cache", "x-content-type-options": "nosniff" });
    expect(page.headers["content-security-policy"]).toContain("default-src 'none'; script-src 'self'; style-src 'self'");
    expect(page.headers["content-security-policy"]).toContain("connect-src 'self';");
    expect(pageResponse("dashboard.mjs", assets, { auth: "iam" }).headers["content-type"]).toBe("text/javascript; charset=utf-8");
  });

  it("answers 404 naming the file asked for and the ones there are", () => {
    const asking = () => pageResponse("secrets.txt", assets, { auth: "iam" });
    expect(asking).toThrow(HttpError);
    expect(asking).toThrow(
      /no file "secrets.txt"; it serves \/ and \/dashboard\/index.html, \/dashboard\/dashboard.mjs, \/dashboard\/config.json/,
    );
  });

  it("tells the page how to sign in: nothing with iam; with jwt the endpoints and client, and the token endpoint may be called", () => {
    expect(JSON.parse(pageResponse("config.json", assets, { auth: "iam", clientId: "ignored" }).body)).toEqual({ auth: "iam" });
    const settings = {
      auth: "jwt" as const,
      authorizeUrl: "https://login.example.com/oauth2/authorize",
      tokenUrl: "https://login.example.com/oauth2/token",
      clientId: "client-1",
    };
    const config = pageResponse("config.json", assets, settings);
    expect(JSON.parse(config.body)).toEqual({ ...settings, scopes: "openid" });
    expect(config.headers["content-security-policy"]).toContain("connect-src 'self' https://login.example.com;");
  });
});

describe("the dashboard handler", () => {
  it("answers its sample event (GET /) with the page the template bundles", async () => {
    const response = await handler(eventFile<APIGatewayProxyEventV2>("api-get-dashboard.json"), lambdaContext());
    expect(response).toMatchObject({ statusCode: 200, headers: { "content-type": "text/html; charset=utf-8" } });
    expect(response.body).toContain('<script type="module" src="/dashboard/dashboard.mjs"></script>');
  });

  it("serves every file the page links, and 404 for others", async () => {
    const event = eventFile<APIGatewayProxyEventV2>("api-get-dashboard.json");
    const get = (asset: string) => handler({ ...event, routeKey: "GET /dashboard/{asset}", pathParameters: { asset } }, lambdaContext());
    for (const asset of ["style.css", "dashboard.mjs", "api.mjs"]) expect((await get(asset)).statusCode, asset).toBe(200);
    expect((await get("api.mjs")).body).toContain("export function queryApi");
    const missing = await get("nope.js");
    expect(missing.statusCode).toBe(404);
    expect(JSON.parse(missing.body)).toMatchObject({ error: { code: "NOT_FOUND" } });
  });
});
