import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

/** The README stays a page a newcomer reads in ten minutes, and its scripts table stays package.json's. */
const root = fileURLToPath(new URL("../../../", import.meta.url));
const readme = readFileSync(join(root, "README.md"), "utf8");
const scripts = Object.keys((JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { scripts: Record<string, string> }).scripts);

/** The npm scripts a table's first column names: `npm start`, `npm run x -- ...`, and a bare `y` (`typecheck` / `lint`); option spans (`--stack S`) name none. */
function scriptsOfTable(section: string): string[] {
  const table = section.split("\n").filter((line) => line.startsWith("|") && !/^\|[\s-|]+$/.test(line));
  return table.slice(1).flatMap((row) => {
    const cell = row.split("|")[1] ?? "";
    return [...cell.matchAll(/`([^`]+)`/g)].flatMap((match) => {
      const words = (match[1] as string).split(/\s+/);
      if (words[0]?.startsWith("-")) return [];
      if (words[0] !== "npm") return [words[0] as string];
      return [(words[1] === "run" ? words[2] : words[1]) as string];
    });
  });
}

describe("README.md", () => {
  it("is at most about 150 lines: the rest lives in docs/", () => {
    expect(readme.split("\n").length).toBeLessThanOrEqual(160);
  });

  it("its scripts table names every script of package.json, and only those", () => {
    const start = readme.indexOf("\n## Scripts\n");
    expect(start, "README.md has no ## Scripts section").toBeGreaterThan(0);
    const section = readme.slice(start + 1, readme.indexOf("\n## ", start + 1));
    const listed = new Set(scriptsOfTable(section));
    expect(
      scripts.filter((name) => !listed.has(name)),
      "scripts missing from the README's table",
    ).toEqual([]);
    expect(
      [...listed].filter((name) => !scripts.includes(name)),
      "README rows naming no script",
    ).toEqual([]);
  });
});
