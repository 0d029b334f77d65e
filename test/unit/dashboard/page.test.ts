import { localStackContext, samFunctions } from "@sales-stream-analytics/local-aws";
import type { APIGatewayProxyEventV2 } from "aws-lambda";
import { afterAll, describe, expect, it, vi } from "vitest";
import { type PageAssets, type PageSettings, pageResponse } from "#functions/dashboard/page";
import { HttpError } from "#shared/http/errors";
import { parseWindows } from "#shared/windows/windows";
import { eventFile, lambdaContext } from "#test/support/lambda";

// The handler reads its settings at import, from the environment the template gives the function.
const ctx = localStackContext();
const environment = samFunctions(ctx).find((fn) => fn.logicalId === "DashboardFunction")?.environment ?? {};
vi.stubEnv("WINDOWS", environment.WINDOWS);
const { handler } = await import("#functions/dashboard/handler");
afterAll(() => vi.unstubAllEnvs());

const iam: PageSettings = { auth: "iam", windows: parseWindows("1h,10m/5m,1w,all") };
const assets: PageAssets = new Map([
  ["index.html", { body: "<!doctype html>", contentType: "text/html; charset=utf-8" }],
  ["dashboard.mjs", { body: "export {}", contentType: "text/javascript; charset=utf-8" }],
]);

describe("the dashboard's page files", () => {
  it("serves index.html for GET / and an asset by name, never cached stale, under a CSP that loads nothing from elsewhere", () => {
    const page = pageResponse("index.html", assets, iam);
    expect(page).toMatchObject({ statusCode: 200, body: "<!doctype html>", headers: { "content-type": "text/html; charset=utf-8" } });
    expect(page.headers).toMatchObject({ "cache-control": "no-cache", "x-content-type-options": "nosniff" });
    expect(page.headers["content-security-policy"]).toContain("default-src 'none'; script-src 'self'; style-src 'self'");
    expect(page.headers["content-security-policy"]).toContain("connect-src 'self';");
    expect(pageResponse("dashboard.mjs", assets, iam).headers["content-type"]).toBe("text/javascript; charset=utf-8");
  });

  it("answers 404 naming the file asked for and the ones there are", () => {
    const asking = () => pageResponse("secrets.txt", assets, iam);
    expect(asking).toThrow(HttpError);
    expect(asking).toThrow(
      /no file "secrets.txt"; it serves \/ and \/dashboard\/index.html, \/dashboard\/dashboard.mjs, \/dashboard\/config.json/,
    );
  });

  it("tells the page how to sign in: nothing with iam; with jwt the endpoints and client, and the token endpoint may be called", () => {
    const windows = JSON.parse(pageResponse("config.json", assets, iam).body).windows;
    expect(JSON.parse(pageResponse("config.json", assets, { ...iam, clientId: "ignored" }).body)).toEqual({ auth: "iam", windows });
    const settings = {
      auth: "jwt" as const,
      authorizeUrl: "https://login.example.com/oauth2/authorize",
      tokenUrl: "https://login.example.com/oauth2/token",
      clientId: "client-1",
    };
    const config = pageResponse("config.json", assets, { ...settings, windows: iam.windows });
    expect(JSON.parse(config.body)).toEqual({ ...settings, scopes: "openid", windows });
    expect(config.headers["content-security-policy"]).toContain("connect-src 'self' https://login.example.com;");
  });
});

describe("the windows the page offers", () => {
  it("are the configured ones in their order, each with the grid shared/windows computes (weeks from a Monday)", () => {
    expect(JSON.parse(pageResponse("config.json", assets, iam).body).windows).toEqual([
      { name: "1h", sizeMs: 3_600_000, advanceMs: 3_600_000, originMs: 0 },
      { name: "10m/5m", sizeMs: 600_000, advanceMs: 300_000, originMs: 0 },
      { name: "1w", sizeMs: 604_800_000, advanceMs: 604_800_000, originMs: Date.parse("1969-12-29T00:00:00Z") },
      { name: "all", sizeMs: null, advanceMs: null, originMs: null },
    ]);
  });

  it("are the template's Windows, which the handler serves in config.json as the query function gets them", async () => {
    const query = samFunctions(ctx).find((fn) => fn.logicalId === "QueryFunction")?.environment ?? {};
    expect(environment.WINDOWS).toBe(query.WINDOWS);
    const event = eventFile<APIGatewayProxyEventV2>("api-get-dashboard.json");
    const response = await handler(
      { ...event, routeKey: "GET /dashboard/{asset}", pathParameters: { asset: "config.json" } },
      lambdaContext(),
    );
    const names = (JSON.parse(response.body).windows as { name: string }[]).map((w) => w.name);
    expect(names.join(",")).toBe(ctx.template.Parameters?.Windows?.Default);
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
