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
 * the function's environment, beside a minimal Powertools handler bundled the same way. Two
 * comparisons say where the time goes: each function built with nothing left out (what the
 * template's External saves), and its floor, the libraries it cannot start without and nothing
 * of the product (bench/fixtures/floor/<function folder>.ts, built with the function's settings).
 * No network at init: the handlers only build clients there. Prints medians; never fails on speed.
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
// Ingest's esbuild settings without what the template adds for its own libraries (External, Alias).
const { Alias: _ingestAliases, ...bareSettings } = ingest.buildProperties;
const baseline: SamFunction = {
  ...ingest,
  logicalId: "PowertoolsBaseline",
  handlerFile: "powertools-baseline",
  environment: { POWERTOOLS_LOG_LEVEL: "INFO" },
  events: {},
  buildProperties: { ...bareSettings, EntryPoints: ["bench/fixtures/powertools-baseline.ts"], External: [] },
};

interface Subject {
  readonly label: string;
  readonly fn: SamFunction;
  readonly file: string;
  readonly bytes: number;
}
const subject = async (label: string, fn: SamFunction): Promise<Subject> => ({ label, fn, ...(await bundleOf(fn)) });
const asBuilt: Subject[] = [await subject(baseline.logicalId, baseline)];
for (const fn of functions) asBuilt.push(await subject(fn.logicalId, fn));

// The same function with nothing left out: what the template's External saves, measured each run.
const allBundled: Subject[] = [];
for (const fn of functions.filter((f) => (f.buildProperties.External ?? []).length > 0)) {
  const bundled = { ...fn, logicalId: `${fn.logicalId}-all-bundled`, buildProperties: { ...fn.buildProperties, External: [] } };
  allBundled.push(await subject(fn.logicalId, bundled));
}

// The floor: the function's libraries alone, bundled with its settings, with its environment.
const floors: Subject[] = [];
for (const fn of functions) {
  const folder = fn.buildProperties.EntryPoints?.[0]?.split("/")[1];
  const fixture = `bench/fixtures/floor/${folder}.ts`;
  if (folder === undefined || !existsSync(join(paths.projectRoot, fixture))) continue;
  const floor = {
    ...fn,
    logicalId: `${fn.logicalId}-floor`,
    handlerFile: folder,
    buildProperties: { ...fn.buildProperties, EntryPoints: [fixture] },
  };
  floors.push(await subject(fn.logicalId, floor));
}
const subjects = [...asBuilt, ...allBundled, ...floors];

// Measured inside the child, so process start-up is left out as Lambda's init duration leaves out
// the sandbox: only loading and evaluating the bundle (and what it requires) counts. The CPU time
// the process spent meanwhile is taken too: on a shared machine it varies less than the clock.
const probe = `const { performance } = require("node:perf_hooks");
const started = performance.now();
const cpuBefore = process.cpuUsage();
const mod = require(process.argv[1]);
const initMs = performance.now() - started;
const cpu = process.cpuUsage(cpuBefore);
if (typeof mod.handler !== "function") throw new Error("no handler export");
process.stdout.write(JSON.stringify({ initMs, cpuMs: (cpu.user + cpu.system) / 1000 }));
process.exit(0);`;

interface Init {
  readonly initMs: number;
  readonly cpuMs: number;
}

function initOnce(file: string, fn: SamFunction): Init {
  // As in Lambda: the execution environment variable turns the Powertools tracer on at init.
  const env = { PATH: process.env.PATH ?? "", ...localEnvironment(fn), AWS_EXECUTION_ENV: "AWS_Lambda_nodejs22.x" };
  const run = spawnSync(node, ["-e", probe, file], { env, encoding: "utf8" });
  if (run.status !== 0) throw new Error(`${fn.logicalId} failed to initialise:\n${run.stderr}`);
  return JSON.parse(run.stdout) as Init;
}

const times = new Map<Subject, Init[]>(subjects.map((s) => [s, []]));
// Round-robin, so drift on a shared machine hits every bundle alike.
for (let round = 0; round < runs; round++) {
  for (const subject of subjects) times.get(subject)?.push(initOnce(subject.file, subject.fn));
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
};
const msOf = (subject: Subject) => median((times.get(subject) ?? []).map((t) => t.initMs));
const cpuOf = (subject: Subject) => median((times.get(subject) ?? []).map((t) => t.cpuMs));
const kib = (bytes: number) => (bytes / 1024).toFixed(1);
const ratio = (ms: number) => `${(ms / base).toFixed(2)}x`;
const version = spawnSync(node, ["--version"], { encoding: "utf8" }).stdout.trim();
const [baseSubject] = asBuilt as [Subject];
const base = msOf(baseSubject);
const width = Math.max(...subjects.map((s) => s.label.length));
const row = (cells: (string | number)[], widths: number[]) =>
  `| ${cells.map((cell, i) => (i === 0 ? String(cell).padEnd(widths[i] ?? 0) : String(cell).padStart(widths[i] ?? 0))).join(" | ")}`;

report.print(`\nModule init in a fresh Node ${version} process, median of ${runs} (bundles as sam build makes them)`);
const mainWidths = [width, 10, 7, 11, 6, 9];
report.print(`${row(["function", "bundle KiB", "init ms", "vs baseline", "cpu ms", "cpu ratio"], mainWidths)} | goal`);
report.print(`| ${"-".repeat(width)} | ---------- | ------- | ----------- | ------ | --------- | ----`);
for (const subject of asBuilt) {
  const ms = msOf(subject);
  const goals = subject === baseSubject ? ["baseline"] : [ms / base <= 2 ? "init <= 2x: met" : "init <= 2x: missed"];
  if (subject.fn.logicalId === "IngestFunction") goals.push(subject.bytes / 1024 <= 600 ? "<= 600 KiB: met" : "<= 600 KiB: missed");
  const cpu = cpuOf(subject);
  const cells = [subject.label, kib(subject.bytes), ms.toFixed(1), ratio(ms), cpu.toFixed(1), `${(cpu / cpuOf(baseSubject)).toFixed(2)}x`];
  report.print(`${row(cells, mainWidths)} | ${goals.join(", ")}`);
}
report.print(
  "(init: require() of the bundle until evaluated, wall clock, as the goal counts it; cpu: the process's CPU time meanwhile. On Lambda the first invocation adds its own connections and lookups)",
);

report.print(
  "\nWhat the template's External saves: the same bundles with nothing left out (the SDK's unused credential sources, the aggregator's dead-letter bundle, the decoders' Glue registry bundle)",
);
const savedWidths = [width, 10, 7, 11, 12];
report.print(row(["function", "bundle KiB", "init ms", "vs baseline", "saved by it"], savedWidths));
report.print(`| ${"-".repeat(width)} | ---------- | ------- | ----------- | ------------`);
for (const subject of allBundled) {
  const built = asBuilt.find((s) => s.label === subject.label);
  const ms = msOf(subject);
  const saved = built === undefined ? "" : `${kib(subject.bytes - built.bytes)} KiB, ${(ms - msOf(built)).toFixed(1)} ms`;
  report.print(row([subject.label, kib(subject.bytes), ms.toFixed(1), ratio(ms), saved], savedWidths));
}

report.print("\nThe floor: each function's libraries alone, no product code (bench/fixtures/floor/), bundled with the function's settings");
const floorWidths = [width, 7, 9, 8, 11, 9, 12];
report.print(row(["function", "init ms", "floor KiB", "floor ms", "floor ratio", "cpu ratio", "above floor"], floorWidths));
report.print(`| ${"-".repeat(width)} | ------- | --------- | -------- | ----------- | --------- | ------------`);
const cpuRatio = (subject: Subject) => `${(cpuOf(subject) / cpuOf(baseSubject)).toFixed(2)}x`;
for (const floor of floors) {
  const built = asBuilt.find((s) => s.label === floor.label);
  if (built === undefined) continue;
  const above = `${kib(built.bytes - floor.bytes)} KiB, ${(msOf(built) - msOf(floor)).toFixed(1)} ms`;
  const cells = [floor.label, msOf(built).toFixed(1), kib(floor.bytes), msOf(floor).toFixed(1), ratio(msOf(floor)), cpuRatio(floor), above];
  report.print(row(cells, floorWidths));
}
for (const floor of floors) {
  const built = asBuilt.find((s) => s.label === floor.label);
  if (built === undefined || msOf(built) / base <= 2) continue;
  const measured = `${ratio(msOf(floor))} of the baseline (CPU ${cpuRatio(floor)})`;
  const reason =
    msOf(floor) / base > 2
      ? `its libraries alone already take ${measured}, so 2x cannot be met while it loads them at init`
      : `its libraries alone take ${measured}; its own code and the rest add ${(msOf(built) - msOf(floor)).toFixed(1)} ms`;
  report.print(`- ${floor.label} misses 2x: ${reason}.`);
}

// Where each bundle's weight is (esbuild's metafile): its largest packages, KiB in the output.
report.print(
  "\nLargest parts of each bundle (KiB of minified output, esbuild metafile), and how much of it is reached without an import() (the rest is only parsed at init)",
);
for (const subject of [...asBuilt, ...floors.filter((f) => f.label === "IngestFunction")]) {
  const { parts, bytes, initBytes, otherEntries } = await bundleComposition(subject.fn);
  const top = parts.slice(0, 8).map((part) => `${part.name} ${(part.bytes / 1024).toFixed(0)}`);
  const others = otherEntries.map((entry) => `; beside it ${entry.file} ${kib(entry.bytes)} KiB, loaded on first use`).join("");
  const label = subject.fn.logicalId.endsWith("-floor") ? `${subject.label} floor` : subject.label;
  report.print(`- ${label} (${kib(initBytes)} of ${kib(bytes)} KiB outside import()${others}): ${top.join(", ")}`);
}
report.save();
