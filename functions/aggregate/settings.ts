import { ConfigError, integer, parsed } from "#shared/config/env";
import { parseDuration, parseWindows } from "#shared/windows/windows";

/** "1m=2d,10m/5m=7d" -> TTL seconds after a slice's last write, by window; windows not listed are kept. Throws ConfigError on a malformed entry. */
export function parseTtls(text: string): ReadonlyMap<string, number> {
  return new Map(
    text.split(",").map((entry) => {
      const [window, duration] = entry.split("=");
      if (window === undefined || duration === undefined) throw new ConfigError(`entry "${entry}" must look like 1m=2d`);
      return [window.trim(), parseDuration(duration) / 1000] as const;
    }),
  );
}

/**
 * The environment variables that decide how records fold into slices (AggregationSettings). The
 * aggregate function reads them at cold start; `npm run redrive` reads the same ones from the
 * function's template environment, so a redriven record lands in the windows the function uses.
 * WINDOWS and WINDOW_TTL have no default here: their one source is the template's `Windows` and
 * `WindowTtl` parameters, which every reader gets (docs/aggregation.md#add-a-window).
 */
export const aggregationSettingsSpec = {
  windows: parsed("WINDOWS", undefined, parseWindows),
  ttlSeconds: parsed("WINDOW_TTL", undefined, parseTtls),
  allowedLatenessMs: parsed("ALLOWED_LATENESS", "10m", parseDuration),
  // A country costs an item at most ~360 bytes (a 100-character name is up to 300 bytes of
  // UTF-8, plus its metrics): 500 keep the worst case near 180 KB, 1,000 near 360 KB, and
  // DynamoDB's limit is 400 KB.
  maxCountriesPerWindow: integer("MAX_COUNTRIES_PER_WINDOW", 500, { min: 10, max: 1000 }),
};
