import { readdirSync } from "node:fs";
import { fileURLToPath } from "node:url";

/**
 * `npm run bench` runs every benchmark; `npm run bench -- codec` only those whose file name contains
 * "codec". Each writes what it printed into its section of docs/benchmarks.md (bench/report.ts).
 */
const filter = process.argv[2] ?? "";
const dir = fileURLToPath(new URL(".", import.meta.url));
const files = readdirSync(dir).filter(
  (file) => file.endsWith(".ts") && !["run.ts", "support.ts", "report.ts"].includes(file) && file.includes(filter),
);
for (const file of files) {
  console.log(`\n== bench/${file}`);
  const { spawnSync } = await import("node:child_process");
  const run = spawnSync(process.execPath, ["--import", "tsx", `${dir}${file}`], { stdio: "inherit" });
  if (run.status !== 0) process.exit(run.status ?? 1);
}
