import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LocalRuntime, localClients, localStackContext, paths, samFunctions } from "@sales-stream-analytics/local-aws";
import { venvBin } from "@sales-stream-analytics/local-aws/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import { createPrivateAggregatesTable } from "#test/support/aggregates";

/**
 * HTTP fuzzing of the API from its OpenAPI document, with schemathesis (PyPI), every check of
 * the suite on (`--checks all`, and `--max-response-time`, the one check "all" leaves out).
 *
 * The document's security requirements are API Gateway's authorizers (IAM, JWT), which the local
 * API does not emulate (docs/local-stack.md): it answers every request as if signed. The run uses
 * the document without them, so the auth checks (ignored_auth, missing_required_header for
 * Authorization) have nothing to hold the local API to; they belong to a deployed stack.
 */
const localContract = (): string => {
  const document = parse(readFileSync(join(paths.projectRoot, "docs", "openapi.yaml"), "utf8")) as {
    security?: unknown;
    paths: Record<string, Record<string, { security?: unknown }>>;
  };
  delete document.security;
  for (const operations of Object.values(document.paths)) for (const operation of Object.values(operations)) delete operation.security;
  const folder = mkdtempSync(join(tmpdir(), "fuzz-contract-"));
  const file = join(folder, "openapi.local.yaml");
  writeFileSync(file, stringify(document));
  return file;
};

/** No answer may take longer than the longest timeout of the functions behind the routes (Lambda would have cut it). */
const maxResponseSeconds = (): number => {
  const routed = samFunctions(localStackContext()).filter((fn) => Object.values(fn.events).some((event) => event.Type === "HttpApi"));
  return Math.max(...routed.map((fn) => fn.timeoutSeconds));
};
const clients = localClients();
const topic = `fuzz-${randomUUID().slice(0, 8)}`;
let runtime: LocalRuntime;
let table: { name: string; drop: () => Promise<void> };

beforeAll(async () => {
  const admin = clients.kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: 3 }], waitForLeaders: true });
  await admin.disconnect();
  table = await createPrivateAggregatesTable(clients.dynamodb);
  // Fuzzed sales go to a topic of their own and queries read a table of their own.
  runtime = await LocalRuntime.start({
    apiPort: 0,
    eventSources: false,
    log: () => undefined,
    env: { IngestFunction: { SALES_TOPIC: topic }, QueryFunction: { AGGREGATES_TABLE: table.name } },
  });
});
afterAll(async () => {
  await runtime.stop();
  await table.drop();
});

function schemathesis(args: string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(venvBin("schemathesis"), args, {
      env: {
        ...process.env,
        NO_COLOR: "1",
        PYTHONPATH: join(paths.projectRoot, "test", "e2e"),
        SCHEMATHESIS_HOOKS: "schemathesis_hooks",
      },
    });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.stderr.on("data", (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.on("close", (code) => resolve({ code, output }));
  });
}

describe("the API under schemathesis", () => {
  it("passes every check of the suite: no 5xx, valid requests accepted, invalid ones refused, answers within their documented statuses, headers and schemas, in time", async () => {
    const contract = localContract();
    const { code, output } = await schemathesis([
      "--config-file",
      join(paths.projectRoot, "test", "e2e", "schemathesis.toml"),
      "run",
      contract,
      "--url",
      runtime.apiUrl,
      "--checks",
      "all",
      "--max-response-time",
      String(maxResponseSeconds()),
      "--max-examples",
      process.env.FUZZ_EXAMPLES ?? "40",
      "--seed",
      "20221",
      "--request-timeout",
      "30",
    ]);
    // Only the count: schemathesis closes with a pytest-style summary line, which CI would read as
    // a pytest run that executed no test.
    rmSync(join(contract, ".."), { recursive: true, force: true });
    const cases = /(\d+) generated, (\d+) passed/.exec(output);
    console.log(`schemathesis (--checks all) cases generated ${cases?.[1] ?? "?"}, all answered within contract: ${cases?.[2] ?? "?"}`);
    expect(code, output.slice(-6000)).toBe(0);
  });
});
