import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { localStackContext, samFunctions } from "@sales-stream-analytics/local-aws";
import { afterEach, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { generateWindows, templateWindows } from "#tools/gen/windows";

const root = join(import.meta.dirname, "..", "..", "..");

describe("the windows' one source, template.yaml's Windows", () => {
  // CI runs this: a window added to the template without `npm run gen`, or a hand edit of a generated region, fails here.
  it.each([...generateWindows(root)])("%s is what npm run gen writes from it", (path, text) => {
    expect(readFileSync(join(root, path), "utf8"), `${path} is stale: run npm run gen`).toBe(text);
  });

  it("reaches every function that reads WINDOWS as the parameter, whatever a stack sets it to", () => {
    const ctx = localStackContext();
    const readers = (overrides: Record<string, string>) =>
      samFunctions({ ...ctx, parameterOverrides: { ...ctx.parameterOverrides, ...overrides } })
        .filter((fn) => fn.environment.WINDOWS !== undefined)
        .map((fn) => [fn.logicalId, fn.environment.WINDOWS]);
    expect(readers({}).map(([id]) => id)).toEqual(expect.arrayContaining(["AggregateFunction", "QueryFunction", "DashboardFunction"]));
    for (const [, windows] of readers({})) expect(windows).toBe(ctx.template.Parameters?.Windows?.Default);
    for (const [, windows] of readers({ Windows: "1h,1w,all" })) expect(windows).toBe("1h,1w,all");
  });

  it("is the only copy of the window list in code: no module keeps its own", () => {
    const names = templateWindows(root).windows.map((spec) => spec.name);
    // The list as text ("1m,10m/5m,...") or three of its names in a row as an array (["1m", "10m/5m", "1h"]), outside comments.
    const copies = [
      names.join(","),
      ...names.slice(0, -2).map((_, i) =>
        names
          .slice(i, i + 3)
          .map((n) => `"${n}"`)
          .join(", "),
      ),
    ];
    const code = (path: string) =>
      readFileSync(path, "utf8")
        .split("\n")
        .filter((line) => !/^\s*(\/\/|\/\*|\*)/.test(line))
        .join("\n");
    const found = ["functions", "shared", "tools", "bench"].flatMap((dir) =>
      readdirSync(join(root, dir), { recursive: true, encoding: "utf8" })
        .filter((file) => /\.(ts|mjs)$/.test(file) && !file.includes("node_modules") && !file.includes("/test/"))
        .filter((file) => copies.some((copy) => code(join(root, dir, file)).includes(copy)))
        .map((file) => `${dir}/${file}`),
    );
    expect(found).toEqual([]);
  });

  it("accepts in the template's patterns what the functions' parsers read, w included", () => {
    const parameters = parse(readFileSync(join(root, "template.yaml"), "utf8"), { logLevel: "silent" }).Parameters;
    const pattern = (name: string) => new RegExp(parameters[name].AllowedPattern as string);
    for (const windows of ["1m,10m/5m,1h,1d,all", "1w", "2w/1w,1d,all", "90s", "all"])
      expect(pattern("Windows").test(windows), windows).toBe(true);
    for (const windows of ["", "1y", "1m,,1h", "10m/", "1m 1h", "1m,"]) expect(pattern("Windows").test(windows), windows).toBe(false);
    for (const ttl of ["1m=2d,10m/5m=7d,1h=400d", "1w=52w", "2w/1w=1w"]) expect(pattern("WindowTtl").test(ttl), ttl).toBe(true);
    for (const ttl of ["", "1m", "1m=2y", "all=1d", "1m=2d,"]) expect(pattern("WindowTtl").test(ttl), ttl).toBe(false);
    for (const name of ["AllowedLateness", "IdleTimeout"]) expect(pattern(name).test("1w") && !pattern(name).test("1y"), name).toBe(true);
  });
});

describe("the windows' generator", () => {
  let scratch: string | undefined;
  afterEach(() => {
    if (scratch !== undefined) rmSync(scratch, { recursive: true, force: true });
    scratch = undefined;
  });
  /** A copy of the generator's inputs with template.yaml's defaults replaced. */
  const withDefaults = (windows: string, ttl: string) => {
    scratch = mkdtempSync(join(tmpdir(), "windows-"));
    mkdirSync(join(scratch, "docs"));
    for (const path of ["docs/openapi.yaml", "docs/aggregation.md"]) cpSync(join(root, path), join(scratch, path));
    const template = readFileSync(join(root, "template.yaml"), "utf8")
      .replace(/(\n {2}Windows:\n(?: {4}.*\n)*? {4}Default: ).*/, `$1${windows}`)
      .replace(/(\n {2}WindowTtl:\n(?: {4}.*\n)*? {4}Default: ).*/, `$1${ttl}`);
    writeFileSync(join(scratch, "template.yaml"), template);
    return scratch;
  };

  it("follows a window added to the template: 1w reaches both query routes' enums and the docs' table, starting on Mondays", () => {
    const out = generateWindows(withDefaults("1m,10m/5m,1h,1d,1w,all", "1m=2d,10m/5m=7d,1h=400d,1w=3650d"));
    const openapi = parse(out.get("docs/openapi.yaml") ?? "") as {
      paths: Record<string, { get: { parameters: { in: string; schema: { properties: { window: { enum: string[] } } } }[] } }>;
    };
    for (const path of ["/leaderboard/{dimension}", "/series/{dimension}/{value}"]) {
      const query = openapi.paths[path]?.get.parameters.find((p) => p.in === "query");
      expect(query?.schema.properties.window.enum).toEqual(["1m", "10m/5m", "1h", "1d", "1w", "all"]);
    }
    expect(out.get("docs/aggregation.md")).toContain("| `1w` | tumbling | every 1w from Monday 1969-12-29 00:00 UTC | 3650d |");
  });

  it("refuses defaults that disagree: a TTL for a window Windows lacks, a route's default window missing, a bad window", () => {
    expect(() => generateWindows(withDefaults("1m,10m/5m,1h,all", "1m=2d,1d=7d"))).toThrow(
      'windows: template.yaml: WindowTtl names "1d", which Windows lacks',
    );
    expect(() => generateWindows(withDefaults("1m,1h,all", "1m=2d"))).toThrow(
      "windows: the leaderboard route's default window 10m/5m is not in template.yaml's Windows default",
    );
    expect(() => generateWindows(withDefaults("1m,10m/5m,1h,1y", "1m=2d"))).toThrow(/the Windows default: "1y" is not a duration/);
  });
});
