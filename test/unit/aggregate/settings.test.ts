import { describe, expect, it } from "vitest";
import { aggregationSettingsSpec, parseTtls } from "#functions/aggregate/settings";
import { loadConfig } from "#shared/config/env";

describe("aggregation settings", () => {
  it("reads the template's defaults and overrides alike, so the function and the redrive fold the same way", () => {
    const defaults = loadConfig(aggregationSettingsSpec, {});
    expect(defaults.windows.map((w) => w.name)).toEqual(["1m", "10m/5m", "1h", "1d", "all"]);
    expect(defaults.ttlSeconds.get("1m")).toBe(2 * 86_400);
    expect(defaults.ttlSeconds.has("1d")).toBe(false);
    expect(defaults.allowedLatenessMs).toBe(600_000);
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
    expect(() => loadConfig(aggregationSettingsSpec, { WINDOW_TTL: "1m=2d,10m" })).toThrow(/WINDOW_TTL: entry "10m"/);
  });
});
