import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * One-off (rerun after merging branches that still import `#local/...`): rewrites every
 * `import { ... } from "#local/<module>"` under test/, bench/ and tools/ (outside this package) to
 * the package's entry points, "@sales-stream-analytics/local-aws" or ".../testing", choosing each
 * name's entry from what index.ts and testing.ts export; the two product scripts that left local/
 * for tools/ become `#tools/...`. Merges with imports the file already has from the entries, then
 * lets Biome order them. Exits 1 naming the file and the name when an entry point lacks a name
 * (export it from index.ts or testing.ts and run again). Usage: npx tsx tools/local-aws/scripts/rewrite-imports.ts [dir...]
 */
const packageRoot = resolve(fileURLToPath(new URL("..", import.meta.url)));
const projectRoot = resolve(packageRoot, "..", "..");
const main = "@sales-stream-analytics/local-aws";
const testing = `${main}/testing`;
const movedToTools: Record<string, string> = {
  "#local/sales/generator": "#tools/sales/generator",
  "#local/load/run-load": "#tools/load/run-load",
};

/** The names an entry file re-exports (`export { a, type B } from "..."`). */
function exportedNames(file: string): Set<string> {
  const names = new Set<string>();
  for (const [, list] of readFileSync(join(packageRoot, file), "utf8").matchAll(/export\s+(?:type\s+)?\{([^}]*)\}\s+from/g)) {
    for (const item of (list ?? "").split(",")) {
      const name = item.trim().replace(/^type\s+/, "");
      if (name !== "") names.add(name);
    }
  }
  return names;
}
const entries = new Map<string, string>();
for (const name of exportedNames("testing.ts")) entries.set(name, testing);
for (const name of exportedNames("index.ts")) entries.set(name, main);

const importPattern = /import\s+(type\s+)?\{([^}]*)\}\s+from\s+"(#local\/[^"]+|@sales-stream-analytics\/local-aws(?:\/testing)?)";?\n?/g;

function* tsFiles(dir: string): Generator<string> {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (name === "node_modules" || path === packageRoot) continue;
    if (statSync(path).isDirectory()) yield* tsFiles(path);
    else if (name.endsWith(".ts")) yield path;
  }
}

const problems: string[] = [];
const changed: string[] = [];
const dirs = process.argv.slice(2).length > 0 ? process.argv.slice(2) : ["test", "bench", "tools"];
for (const dir of dirs) {
  for (const file of tsFiles(resolve(projectRoot, dir))) {
    const source = readFileSync(file, "utf8");
    if (!source.includes('"#local/')) continue;
    const wanted = new Map<string, Set<string>>(); // module -> specifiers ("type X" or "X")
    const marker = "\u0000local-aws imports\u0000";
    let marked = false;
    const kept = source.replace(importPattern, (statement, typeOnly: string | undefined, list: string, from: string) => {
      const target = movedToTools[from];
      if (target !== undefined) return statement.replace(from, target);
      const specs = list
        .split(",")
        .map((item) => item.trim())
        .filter((spec) => spec !== "");
      const nameOf = (spec: string) => spec.replace(/^type\s+/, "").split(/\s+as\s+/)[0] as string;
      const unknown = specs.map(nameOf).filter((name) => !entries.has(name));
      if (unknown.length > 0) {
        // Left as it is, so nothing is lost: export the name from an entry point and run again.
        for (const name of unknown)
          problems.push(`${relative(projectRoot, file)}: ${name} (from ${from}) is exported by neither index.ts nor testing.ts`);
        return statement;
      }
      for (const spec of specs) {
        const entry = entries.get(nameOf(spec)) as string;
        const set = wanted.get(entry) ?? new Set<string>();
        set.add(typeOnly !== undefined && !spec.startsWith("type ") ? `type ${spec}` : spec);
        wanted.set(entry, set);
      }
      // The merged imports go where the first of the statements they replace was.
      if (marked) return "";
      marked = true;
      return marker;
    });
    const statements = [...wanted].map(([entry, specs]) => {
      // A name imported both as a type and as a value needs only the value import.
      const values = new Set([...specs].filter((s) => !s.startsWith("type ")));
      const list = [...specs].filter((s) => !(s.startsWith("type ") && values.has(s.slice(5)))).sort();
      return `import { ${list.join(", ")} } from "${entry}";\n`;
    });
    const rewritten = kept.replace(marker, statements.join(""));
    if (rewritten !== source) {
      writeFileSync(file, rewritten);
      changed.push(file);
    }
  }
}
if (changed.length > 0) spawnSync("npx", ["biome", "check", "--write", ...changed], { cwd: projectRoot, stdio: "inherit" });
console.log(`rewrote ${changed.length} file(s)`);
if (problems.length > 0) {
  console.error(problems.join("\n"));
  process.exit(1);
}
