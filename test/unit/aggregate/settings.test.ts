import { localStackContext, samFunctions } from "@sales-stream-analytics/local-aws";
import { describe, expect, it } from "vitest";
import { aggregationSettingsSpec, parseTtls } from "#functions/aggregate/settings";
import { loadConfig } from "#shared/config/env";

describe("aggregation settings", () => {
  it("reads the template's defaults and overrides alike, so the function and the redrive fold the same way", () => {
    const ctx = localStackContext();
    const environment = samFunctions(ctx).find((fn) => fn.logicalId === "AggregateFunction")?.environment ?? {};
    const defaults = loadConfig(aggregationSettingsSpec, environment);
    expect(defaults.windows.map((w) => w.name).join(",")).toBe(ctx.template.Parameters?.Windows?.Default);
    expect(defaults.ttlSeconds.get("1m")).toBe(2 * 86_400);
    expect(defaults.ttlSeconds.has("1d")).toBe(false);
    expect(defaults.allowedLatenessMs).toBe(600_000);
    // Their one source is the template: without it the settings name what is missing.
    expect(() => loadConfig(aggregationSettingsSpec, {})).toThrow(
      "invalid configuration: environment variable WINDOWS is required; environment variable WINDOW_TTL is required",
    );
    const custom = loadConfig(aggregationSettingsSpec, {
      WINDOWS: "5m",
      WINDOW_TTL: "5m=1d",
      ALLOWED_LATENESS: "1m",
      MAX_COUNTRIES_PER_WINDOW: "20",
    });
    expect(custom).toMatchObject({ allowedLatenessMs: 60_000, maxCountriesPerWindow: 20 });
    expect([...custom.ttlSeconds]).toEqual([["5m", 86_400]]);
  });

  it("names the variable and the entry of a malformed TTL", () => {
    expect(() => parseTtls("1m")).toThrow('entry "1m" must look like 1m=2d');
    expect(() => loadConfig(aggregationSettingsSpec, { WINDOWS: "1m", WINDOW_TTL: "1m=2d,10m" })).toThrow(/WINDOW_TTL: entry "10m"/);
  });
});
