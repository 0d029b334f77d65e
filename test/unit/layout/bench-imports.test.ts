import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { paths } from "@sales-stream-analytics/local-aws";
import { describe, expect, it } from "vitest";

/** Every TypeScript file under `dir`, recursively. */
function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return tsFiles(path);
    return entry.name.endsWith(".ts") ? [path] : [];
  });
}

/** Module specifiers of a file's static imports, re-exports and dynamic imports. */
const specifiers = (source: string) =>
  [...source.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)["']([^"']+)["']/g)].map((match) => match[1] as string);

/** Whether a specifier in `file` names something under test/ (the #test alias, or a relative path into it). */
function reachesTest(file: string, specifier: string): boolean {
  if (specifier.startsWith("#test/")) return true;
  if (!specifier.startsWith(".")) return false;
  const target = relative(paths.projectRoot, join(file, "..", specifier));
  return target === "test" || target.startsWith(`test/`);
}

describe("bench/", () => {
  it("imports nothing from test/: what benchmarks share with tests lives in tools/ or the local-aws package", () => {
    const offenders = tsFiles(join(paths.projectRoot, "bench")).flatMap((file) =>
      specifiers(readFileSync(file, "utf8"))
        .filter((specifier) => reachesTest(file, specifier))
        .map((specifier) => `${relative(paths.projectRoot, file)} imports ${specifier}`),
    );
    expect(offenders).toEqual([]);
  });

  it("would see such an import, by alias or by relative path", () => {
    const bench = join(paths.projectRoot, "bench", "x.ts");
    expect(specifiers('import { a } from "#test/support/aggregates";\nconst b = await import("../test/support/s3.ts");')).toEqual([
      "#test/support/aggregates",
      "../test/support/s3.ts",
    ]);
    expect(reachesTest(bench, "#test/support/aggregates")).toBe(true);
    expect(reachesTest(bench, "../test/support/s3.ts")).toBe(true);
    expect(reachesTest(bench, "./support.ts")).toBe(false);
    expect(reachesTest(bench, "#tools/pipeline/aggregates")).toBe(false);
  });
});
