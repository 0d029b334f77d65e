import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import { defaultWindows } from "../../functions/query/query.ts";
import { InvariantError } from "../../shared/errors/internal-errors.ts";
import { parseDuration, parseWindows, type WindowSpec } from "../../shared/windows/windows.ts";
import { replaceRegion } from "./contract.ts";

/*
 * The windows' generator (`npm run gen`, docs/aggregation.md#add-a-window). Its one source is the
 * default of template.yaml's `Windows` parameter (and `WindowTtl`'s, for how long each is kept):
 * the functions get them as WINDOWS and WINDOW_TTL, the dashboard from its function's config.json,
 * and this writes the API contract's window enums and the docs' table of windows. Pure like the
 * contract's generator: `generateWindows` returns each output's full text, and
 * test/unit/windows/generated.test.ts compares them with the files.
 */

const fail = (message: string) => new InvariantError(`windows: ${message}`);

/** The defaults of template.yaml's `Windows` and `WindowTtl` under `root`, parsed as the functions parse them; throws InvariantError when either is missing or malformed. */
export function templateWindows(root: string): { windows: readonly WindowSpec[]; ttls: ReadonlyMap<string, string> } {
  // Parameters hold no CloudFormation tags; the resources' !Ref and !Sub are left unresolved.
  const template = parse(readFileSync(join(root, "template.yaml"), "utf8"), { logLevel: "silent" }) as {
    Parameters?: Record<string, { Default?: unknown }>;
  };
  const defaultOf = (name: string) => {
    const value = template.Parameters?.[name]?.Default;
    if (typeof value !== "string") throw fail(`template.yaml: parameter ${name} has no default text`);
    return value;
  };
  let windows: readonly WindowSpec[];
  try {
    windows = parseWindows(defaultOf("Windows"));
  } catch (error) {
    throw fail(`template.yaml: the Windows default: ${(error as Error).message}`);
  }
  const ttls = new Map(
    defaultOf("WindowTtl")
      .split(",")
      .map((entry) => entry.split("=") as [string, string]),
  );
  for (const [window, duration] of ttls) {
    if (!windows.some((spec) => spec.name === window)) throw fail(`template.yaml: WindowTtl names "${window}", which Windows lacks`);
    parseDuration(duration);
  }
  return { windows, ttls };
}

const isoMinute = (ms: number) => `${new Date(ms).toISOString().slice(0, 16).replace("T", " ")} UTC`;
const weekdays = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];

/** One row of docs/aggregation.md's table of windows. */
function tableRow(spec: WindowSpec, ttls: ReadonlyMap<string, string>): string {
  const ttl = ttls.get(spec.name);
  const kept = ttl === undefined ? "kept" : ttl;
  if (spec.unbounded) return `| \`${spec.name}\` | all time | one window, from the epoch, never ending | ${kept} |`;
  const [size, advance = size] = spec.name.split("/");
  const kind = spec.tumbling ? "tumbling" : `hopping, ${size} long`;
  const origin = `${weekdays[new Date(spec.originMs).getUTCDay()]} ${isoMinute(spec.originMs)}`;
  return `| \`${spec.name}\` | ${kind} | every ${advance} from ${origin} | ${kept} |`;
}

/** The OpenAPI `window` property of a query route: the configured windows and the route's default. */
function openapiWindow(names: readonly string[], fallback: string, description: readonly string[]): string[] {
  return [
    "window:",
    "  description: >-",
    ...description.map((line, i) => `    ${line}${i === description.length - 1 ? `; default ${fallback}.` : ""}`),
    "  type: string",
    `  enum: [${names.map((name) => JSON.stringify(name)).join(", ")}]`,
  ];
}

/** Every output of the windows under `root` (a relative path to its full text); throws InvariantError when the template's defaults are malformed or lack a route's default window, or a region is missing. */
export function generateWindows(root: string): Map<string, string> {
  const { windows, ttls } = templateWindows(root);
  const names = windows.map((spec) => spec.name);
  for (const [route, name] of Object.entries(defaultWindows))
    if (!names.includes(name)) throw fail(`the ${route} route's default window ${name} is not in template.yaml's Windows default`);
  const read = (path: string) => readFileSync(join(root, path), "utf8");
  let openapi = replaceRegion(
    read("docs/openapi.yaml"),
    "docs/openapi.yaml",
    "leaderboard window",
    openapiWindow(names, defaultWindows.leaderboard, [
      "Window spec, <size> (tumbling), <size>/<advance> (hopping) or all (all-time totals, one",
      "window that never closes)",
    ]),
  );
  openapi = replaceRegion(
    openapi,
    "docs/openapi.yaml",
    "series window",
    openapiWindow(names, defaultWindows.series, ["Window spec (all = the one all-time window)"]),
  );
  const aggregation = replaceRegion(read("docs/aggregation.md"), "docs/aggregation.md", "windows", [
    "| window | kind | a window starts | kept after its last write (`WindowTtl`) |",
    "| --- | --- | --- | --- |",
    ...windows.map((spec) => tableRow(spec, ttls)),
  ]);
  return new Map([
    ["docs/openapi.yaml", openapi],
    ["docs/aggregation.md", aggregation],
  ]);
}
