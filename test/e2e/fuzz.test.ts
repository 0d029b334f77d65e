import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { join } from "node:path";
import { LocalRuntime, localClients, paths } from "@sales-stream-analytics/local-aws";
import { venvBin } from "@sales-stream-analytics/local-aws/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPrivateAggregatesTable } from "#test/support/aggregates";

/** HTTP fuzzing of the API from its OpenAPI document, with schemathesis (PyPI). */
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
    const child = spawn(venvBin("schemathesis"), args, { env: { ...process.env, NO_COLOR: "1", SCHEMATHESIS_HOOKS: "" } });
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
  it("answers every generated request without a 5xx and within its documented responses and schemas", async () => {
    const { code, output } = await schemathesis([
      "run",
      join(paths.projectRoot, "docs", "openapi.yaml"),
      "--url",
      runtime.apiUrl,
      "--checks",
      "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance",
      "--max-examples",
      process.env.FUZZ_EXAMPLES ?? "40",
      "--seed",
      "20221",
      "--request-timeout",
      "30",
    ]);
    // Only the count: schemathesis closes with a pytest-style summary line, which CI would read as
    // a pytest run that executed no test.
    const cases = /(\d+) generated, (\d+) passed/.exec(output);
    console.log(`schemathesis cases generated ${cases?.[1] ?? "?"}, all answered within contract: ${cases?.[2] ?? "?"}`);
    expect(code, output.slice(-6000)).toBe(0);
  });
});
