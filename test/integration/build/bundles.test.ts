import { type SpawnOptions, spawn, spawnSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { createRequire } from "node:module";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, parse } from "node:path";
import { deployedStackContext, localArn, localClients, paths, type SamFunction, samFunctions } from "@sales-stream-analytics/local-aws";
import { bundleOf, functionCredentials, localEnvironment, runSam, type TemporaryIdentity } from "@sales-stream-analytics/local-aws/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPrivateAggregatesTable } from "#test/support/aggregates";
import { identityWithQueue } from "#test/support/identities";
import { createPrivateQueue, type PrivateQueue } from "#test/support/queues";

/**
 * What is deployed is what is tested: each function's bundle, built from the template's
 * Metadata.BuildProperties, copied alone into an empty folder (no node_modules anywhere above
 * it, no package.json, as Lambda's /var/task) and loaded by Node 22 in a fresh process, answers
 * its sample event from events/ against the local stack.
 */
// As deployed: the environment holds the schema version id and the brokers the stack resolved.
const ctx = await deployedStackContext();
const clients = localClients();
const node22 = join(dirname(createRequire(import.meta.url).resolve("node/package.json")), "bin", "node");

/** Each function's sample event and what its answer must show. A new function must add itself here. */
const samples: Record<string, { event: string; prepare?: (event: Record<string, unknown>) => object; check: (result: unknown) => void }> = {
  IngestFunction: {
    event: "api-post-sales-batch.json",
    check: (result) => expect(result).toMatchObject({ statusCode: 202 }),
  },
  AggregateFunction: {
    event: "msk-sales-batch.json",
    check: (result) => expect(result).toMatchObject({ records: 9, applied: 8, poison: 1 }),
  },
  DashboardFunction: {
    event: "api-get-dashboard.json",
    check: (result) => expect(result).toMatchObject({ statusCode: 200, headers: { "content-type": "text/html; charset=utf-8" } }),
  },
  QueryFunction: {
    event: "api-get-series.json",
    check: (result) => expect(result).toMatchObject({ statusCode: 200 }),
  },
  RollupFunction: {
    // The sample's slices are not in the test's empty table (expired, as far as it knows): no rollup, no failure.
    event: "ddb-stream-slice-changes.json",
    check: (result) => expect(result).toEqual({ batchItemFailures: [] }),
  },
  RedshiftUdfFunction: {
    event: "redshift-udf-request.json",
    check: (result) => {
      const response = result as { success: boolean; num_records: number; results: (string | null)[] };
      expect(response).toMatchObject({ success: true, num_records: 11 });
      expect(response.results.filter((row) => row === null)).toHaveLength(3); // the NULL argument, the poison, the NULL row
    },
  },
  KafkaTopicsFunction: {
    event: "cfn-kafka-topics-create.json",
    // CloudFormation's ResponseURL is played by a local server; the topic is this test's own.
    prepare: (event) => ({
      ...event,
      ResponseURL: responseUrl,
      ResourceProperties: { ...(event.ResourceProperties as object), Topics: [{ Name: topicsTopic, Partitions: "3" }] },
    }),
    check: (result) => {
      expect(result).toMatchObject({ Status: "SUCCESS" });
      expect(cfnResponses.at(-1)).toMatchObject({ Status: "SUCCESS", LogicalResourceId: "KafkaTopics" });
    },
  },
  FirehoseTransformFunction: {
    event: "firehose-msk-records.json",
    check: (result) => {
      const { records } = result as { records: { result: string }[] };
      expect(records.map((r) => r.result).sort()).toEqual([...Array(8).fill("Ok"), "ProcessingFailed"]);
    },
  },
};

/**
 * Loads the bundle the way Lambda's Node runtime does (require for CommonJS, import for ESM),
 * invokes the handler once with the event and writes its answer (or error) to a file.
 */
const runner = `
const { pathToFileURL } = require("node:url");
const { writeFileSync, readFileSync } = require("node:fs");
const [file, format, exportName, eventFile, resultFile] = process.argv.slice(1);
const deadline = Date.now() + 60000;
const context = {
  functionName: process.env.AWS_LAMBDA_FUNCTION_NAME, awsRequestId: "bundle-test", invokedFunctionArn: ${JSON.stringify(localArn("lambda", "function:x"))},
  memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE, functionVersion: "$LATEST", getRemainingTimeInMillis: () => deadline - Date.now(),
};
(async () => {
  const module = format === "cjs" ? require(file) : await import(pathToFileURL(file).href);
  const result = await module[exportName](JSON.parse(readFileSync(eventFile, "utf8")), context);
  writeFileSync(resultFile, JSON.stringify({ ok: true, node: process.version, result: result ?? null }));
  process.exit(0);
})().catch((error) => {
  writeFileSync(resultFile, JSON.stringify({ ok: false, node: process.version, error: String(error && error.stack || error) }));
  process.exit(1);
});
`;

let deadLetters: PrivateQueue;
let identity: TemporaryIdentity;
let topic: string;
const topicsTopic = `bundle-topics-${randomUUID().slice(0, 8)}`;
const cfnResponses: unknown[] = [];
let cfnServer: Server;
let responseUrl: string;

beforeAll(async () => {
  // The invocations write to a topic, a queue and (each) a table of their own.
  deadLetters = await createPrivateQueue(clients.sqs, "DeadLetterQueue");
  // The aggregator's template grants, moved from the template's queue to this one.
  identity = await identityWithQueue("AggregateFunction", deadLetters);
  topic = `bundle-test-${randomUUID().slice(0, 8)}`;
  const admin = clients.kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: 2 }], waitForLeaders: true });
  await admin.disconnect();
  cfnServer = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      cfnResponses.push(JSON.parse(Buffer.concat(chunks).toString()));
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => cfnServer.listen(0, "127.0.0.1", resolve));
  responseUrl = `http://127.0.0.1:${(cfnServer.address() as AddressInfo).port}/cfn-response`;
});
afterAll(async () => {
  await deadLetters.drop();
  await identity.drop();
  const admin = clients.kafka.admin();
  await admin.connect();
  const existing = await admin.listTopics();
  await admin.deleteTopics({ topics: [topic, topicsTopic].filter((t) => existing.includes(t)) });
  await admin.disconnect();
  await new Promise((resolve) => cfnServer.close(resolve));
  for (const client of [clients.dynamodb, clients.sqs, clients.s3, clients.glue]) client.destroy();
});

/** The private resources each function is pointed at instead of the shared ones. */
function overrides(fn: SamFunction, table: string): Record<string, string> {
  const env: Record<string, string> = {};
  if ("AGGREGATES_TABLE" in fn.environment) env.AGGREGATES_TABLE = table;
  if ("DEAD_LETTER_QUEUE_URL" in fn.environment) env.DEAD_LETTER_QUEUE_URL = deadLetters.url;
  if ("SALES_TOPIC" in fn.environment && fn.events.PostSales !== undefined) env.SALES_TOPIC = topic;
  return env;
}

/** Runs a process to its end without blocking this one; resolves its exit status and stderr. */
function run(
  command: string,
  args: string[],
  options: SpawnOptions & { timeout: number },
): Promise<{ status: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { ...options, stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr?.on("data", (chunk: Buffer) => {
      stderr = (stderr + chunk.toString()).slice(-64 * 1024);
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), options.timeout);
    child.on("error", reject);
    child.on("close", (status) => {
      clearTimeout(timer);
      resolve({ status, stderr });
    });
  });
}

/** Folders from `dir` up to the root that hold a node_modules folder. */
function nodeModulesAbove(dir: string): string[] {
  const found: string[] = [];
  for (let current = dir; ; current = dirname(current)) {
    if (existsSync(join(current, "node_modules"))) found.push(current);
    if (current === parse(current).root) return found;
  }
}

/**
 * Copies a built function (the files of `dir`, as its deployment package) into an empty folder,
 * loads it with Node 22 in a fresh process with only Lambda's and the function's environment,
 * invokes it once with its sample event and checks the answer.
 */
async function invokeAlone(fn: SamFunction, dir: string, file: string, format: "esm" | "cjs"): Promise<void> {
  const sample = samples[fn.logicalId];
  if (sample === undefined) throw new Error(`no sample event for ${fn.logicalId} in this test`);
  const table = await createPrivateAggregatesTable(clients.dynamodb);
  const taskRoot = mkdtempSync(join(tmpdir(), `task-${fn.logicalId}-`));
  const work = mkdtempSync(join(tmpdir(), `invoke-${fn.logicalId}-`));
  try {
    // The deployment package: the bundle's files only (the local copy's package.json marker stays behind).
    for (const name of readdirSync(dir)) if (name !== "package.json") copyFileSync(join(dir, name), join(taskRoot, name));
    expect(nodeModulesAbove(taskRoot)).toEqual([]);
    expect(existsSync(join(taskRoot, "package.json"))).toBe(false);
    const resultFile = join(work, "result.json");
    const eventFile = join(work, "event.json");
    const event = JSON.parse(readFileSync(join(paths.projectRoot, "events", sample.event), "utf8")) as Record<string, unknown>;
    writeFileSync(eventFile, JSON.stringify(sample.prepare?.(event) ?? event));
    // Not spawnSync: this process keeps serving what the function calls back (the ResponseURL).
    const child = await run(node22, ["-e", runner, join(taskRoot, parse(file).base), format, fn.handlerExport, eventFile, resultFile], {
      cwd: taskRoot,
      timeout: fn.timeoutSeconds * 1000 + 10_000,
      // Only what Lambda sets and the function's own environment: nothing of this process.
      env: {
        ...localEnvironment(fn, fn.logicalId === "AggregateFunction" ? identity : functionCredentials(fn.logicalId)),
        ...overrides(fn, table.name),
        LAMBDA_TASK_ROOT: taskRoot,
        PATH: dirname(node22),
        TZ: "UTC",
      },
    });
    const outcome = existsSync(resultFile)
      ? (JSON.parse(readFileSync(resultFile, "utf8")) as { ok: boolean; node: string; result?: unknown; error?: string })
      : undefined;
    expect(outcome, `no answer; exit ${child.status}, stderr: ${child.stderr.slice(-2000)}`).toBeDefined();
    expect(outcome?.error, child.stderr.slice(-2000)).toBeUndefined();
    expect(outcome?.node).toMatch(/^v22\./);
    sample.check(outcome?.result);
  } finally {
    rmSync(taskRoot, { recursive: true, force: true });
    rmSync(work, { recursive: true, force: true });
    await table.drop();
  }
}

const functions = samFunctions(ctx);

describe("each function's bundle, as the local runtime runs it", () => {
  it("has a sample event for every function of the template", () => {
    expect(functions.map((fn) => fn.logicalId).sort()).toEqual(Object.keys(samples).sort());
    expect(spawnSync(node22, ["--version"], { encoding: "utf8" }).stdout).toMatch(/^v22\./);
  });

  for (const fn of functions) {
    it(`${fn.logicalId} loads alone on Node 22 and answers its sample event`, { timeout: 120_000 }, async () => {
      const bundle = await bundleOf(fn);
      await invokeAlone(fn, bundle.dir, bundle.file, bundle.format);
    });
  }
});

describe("sam build (docs/deploying.md's command, SAM CLI from the project's virtualenv)", () => {
  const buildDir = join(paths.projectRoot, ".aws-sam", "build");
  let built: ReturnType<typeof spawnSync> | undefined;

  beforeAll(async () => {
    // Ten minutes: a first run installs the SAM CLI, and SAM runs npm install before esbuild.
    built = await runSam(["build"], { timeoutMs: 600_000 });
  }, 660_000);

  it("builds every function of the template", () => {
    expect(built?.status, `${built?.stdout}\n${built?.stderr}`).toBe(0);
    for (const fn of functions) expect(existsSync(join(buildDir, fn.logicalId, `${fn.handlerFile}.js`)), fn.logicalId).toBe(true);
  });

  for (const fn of functions) {
    it(`${fn.logicalId} as sam built it loads alone on Node 22 and answers its sample event`, { timeout: 120_000 }, async () => {
      const file = join(buildDir, fn.logicalId, `${fn.handlerFile}.js`);
      expect(existsSync(file), `sam build wrote no ${file}`).toBe(true);
      await invokeAlone(fn, dirname(file), file, fn.buildProperties.Format ?? "cjs");
    });
  }
});
