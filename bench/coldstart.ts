import { spawnSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { localStackContext, paths, type SamFunction, samFunctions } from "@sales-stream-analytics/local-aws";
import { bundleComposition, bundleOf, localEnvironment } from "@sales-stream-analytics/local-aws/testing";
import { benchReport } from "./report.ts";

/**
 * `npm run bench -- coldstart`: each function bundled as `sam build` does (tools/local-aws/build/bundle.ts), then
 * its module init (require of the bundle until evaluated) timed in a fresh Node 22 process with
 * the function's environment, beside a minimal Powertools handler bundled the same way. No
 * network at init: the handlers only build clients there. Prints medians; never fails on speed.
 */
const report = benchReport("coldstart");
const runs = Number(process.env.COLDSTART_RUNS ?? 11);
const node = join(paths.projectRoot, "node_modules", "node", "bin", "node");
if (!existsSync(node)) throw new Error(`${node} is missing: npm install provides Node 22 as the "node" dev dependency`);

// What a deployment resolves (schema version ids, the topics resource's brokers), made up: init
// reads them from the environment and makes no call with them.
const ctx = localStackContext();
const deployed: Record<string, string> = {};
for (const [id, resource] of Object.entries(ctx.template.Resources)) {
  if (resource.Type === "AWS::Glue::Schema") deployed[`${id}.InitialSchemaVersionId`] = randomUUID();
  if (resource.Type === "AWS::Glue::SchemaVersion") deployed[`${id}.VersionId`] = randomUUID();
  if (resource.Type === "Custom::KafkaTopics") deployed[`${id}.BootstrapBrokers`] = "127.0.0.1:9092";
}
const functions = samFunctions({ ...ctx, deployed });
const ingest = functions.find((fn) => fn.logicalId === "IngestFunction");
if (ingest === undefined) throw new Error("template.yaml has no IngestFunction");
const baseline: SamFunction = {
  ...ingest,
  logicalId: "PowertoolsBaseline",
  handlerFile: "powertools-baseline",
  environment: { POWERTOOLS_LOG_LEVEL: "INFO" },
  events: {},
  buildProperties: { ...ingest.buildProperties, EntryPoints: ["bench/fixtures/powertools-baseline.ts"] },
};

interface Subject {
  readonly label: string;
  readonly fn: SamFunction;
  readonly file: string;
  readonly bytes: number;
}
const subjects: Subject[] = [];
for (const fn of [baseline, ...functions]) subjects.push({ label: fn.logicalId, fn, ...(await bundleOf(fn)) });
// While the template leaves the SDK to the runtime, also show what bundling it would change.
for (const fn of functions.filter((f) => f.buildProperties.External?.some((pattern) => pattern.startsWith("@aws-sdk")))) {
  const bundled = { ...fn, logicalId: `${fn.logicalId}-sdk-bundled`, buildProperties: { ...fn.buildProperties, External: [] } };
  subjects.push({ label: `${fn.logicalId} (SDK bundled)`, fn: bundled, ...(await bundleOf(bundled)) });
}

// Measured inside the child, so process start-up is left out as Lambda's init duration leaves out
// the sandbox: only loading and evaluating the bundle (and what it requires) counts.
const probe = `const { performance } = require("node:perf_hooks");
const started = performance.now();
const mod = require(process.argv[1]);
const initMs = performance.now() - started;
if (typeof mod.handler !== "function") throw new Error("no handler export");
process.stdout.write(JSON.stringify({ initMs }));
process.exit(0);`;

function initOnce(file: string, fn: SamFunction): number {
  // As in Lambda: the execution environment variable turns the Powertools tracer on at init.
  const env = { PATH: process.env.PATH ?? "", ...localEnvironment(fn), AWS_EXECUTION_ENV: "AWS_Lambda_nodejs22.x" };
  const run = spawnSync(node, ["-e", probe, file], { env, encoding: "utf8" });
  if (run.status !== 0) throw new Error(`${fn.logicalId} failed to initialise:\n${run.stderr}`);
  return (JSON.parse(run.stdout) as { initMs: number }).initMs;
}

const times = new Map<string, number[]>(subjects.map((s) => [s.label, []]));
// Round-robin, so drift on a shared machine hits every function alike.
for (let round = 0; round < runs; round++) {
  for (const subject of subjects) times.get(subject.label)?.push(initOnce(subject.file, subject.fn));
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
};
const version = spawnSync(node, ["--version"], { encoding: "utf8" }).stdout.trim();
const base = median(times.get(baseline.logicalId) ?? []);
report.print(`\nModule init in a fresh Node ${version} process, median of ${runs} (bundles as sam build makes them)`);
const width = Math.max(...subjects.map((s) => s.label.length));
report.print(`| ${"function".padEnd(width)} | bundle KiB | init ms | vs baseline | goal`);
report.print(`| ${"-".repeat(width)} | ---------- | ------- | ----------- | ----`);
for (const subject of subjects) {
  const ms = median(times.get(subject.label) ?? []);
  const ratio = ms / base;
  const kib = subject.bytes / 1024;
  const goals = subject.fn === baseline ? ["baseline"] : [ratio <= 2 ? "init <= 2x: met" : "init <= 2x: missed"];
  if (subject.fn.logicalId.startsWith("IngestFunction")) goals.push(kib <= 600 ? "<= 600 KiB: met" : "<= 600 KiB: missed");
  report.print(
    `| ${subject.label.padEnd(width)} | ${kib.toFixed(1).padStart(10)} | ${ms.toFixed(1).padStart(7)} | ${`${ratio.toFixed(2)}x`.padStart(11)} | ${goals.join(", ")}`,
  );
}
report.print("(init: require() of the bundle until evaluated; on Lambda the first invocation adds its own connections and lookups)");

// Where each bundle's weight is (esbuild's metafile): its largest packages, KiB in the output.
report.print("\nLargest parts of each bundle (KiB of minified output, esbuild metafile)");
for (const subject of subjects) {
  const { parts } = await bundleComposition(subject.fn);
  const top = parts.slice(0, 8).map((part) => `${part.name} ${(part.bytes / 1024).toFixed(0)}`);
  report.print(`- ${subject.label}: ${top.join(", ")}`);
}
report.save();
