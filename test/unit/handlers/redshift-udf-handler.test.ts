import { GlueClient } from "@aws-sdk/client-glue";
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import type { UdfRequest, UdfResponse } from "#functions/redshift-udf/udf";
import { RegistryUnavailableError } from "#shared/avro/errors";
import { salesSchemaVersions } from "#shared/sales/schema";
import { captureLogs, EVENT_SCHEMA_VERSIONS, eventFile, lambdaContext, schemaRegistry } from "#test/support/lambda";

const [v1Id, v2Id] = Object.keys(EVENT_SCHEMA_VERSIONS) as [string, string];
const glue = schemaRegistry({ [v1Id]: salesSchemaVersions[0], [v2Id]: salesSchemaVersions[1] });
type Handler = (request: UdfRequest, context: ReturnType<typeof lambdaContext>) => Promise<UdfResponse>;
let logs: ReturnType<typeof captureLogs>;

async function coldHandler(env: Record<string, string>): Promise<Handler> {
  vi.resetModules();
  for (const [name, value] of Object.entries(env)) vi.stubEnv(name, value);
  return ((await import("#functions/redshift-udf/handler")) as unknown as { handler: Handler }).handler;
}

beforeAll(() => {
  vi.spyOn(GlueClient.prototype, "send").mockImplementation(glue.send as never);
});
afterAll(() => {
  vi.unstubAllEnvs();
  vi.restoreAllMocks();
});
beforeEach(() => {
  glue.state.down = false;
  glue.state.calls.length = 0;
  logs = captureLogs();
  return () => logs.stop();
});

describe("redshift-udf handler (f_sales_avro_to_json)", () => {
  it("answers one JSON text per row in order, NULL for NULL and for the undecodable and NULL rows, and logs which row", async () => {
    const handler = await coldHandler({ SCHEMA_REGISTRY_NAME: "registry", UDF_ON_ERROR: "null" });
    const request = eventFile<UdfRequest>("redshift-udf-request.json");
    const response = await handler(request, lambdaContext());
    expect(response.success).toBe(true);
    if (!response.success) return;
    expect(response.num_records).toBe(request.arguments.length);
    const first = JSON.parse(response.results[0] ?? "null") as { country: string; amount: string; channel: string };
    expect(first).toMatchObject({ country: "Japan", channel: "store" });
    expect(response.results[2]).toBeNull();
    expect(response.results.at(-1)).toBeNull();
    const bad = logs.lines
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .filter((line) => line.message === "row not decodable");
    expect(bad).toEqual([
      expect.objectContaining({ row: request.arguments.length - 2, code: "UNKNOWN_SCHEMA_VERSION" }),
      expect.objectContaining({ row: request.arguments.length - 1, code: "BAD_ROW_SHAPE" }),
    ]);
    expect(logs.lines.join("\n")).not.toContain("Japan");
    // One registry call per schema version, however many rows use it; the unknown one is asked
    // 3 times before it is believed.
    expect(glue.state.calls).toHaveLength(5);
  });

  it("fails the query naming the row when UDF_ON_ERROR=fail", async () => {
    const handler = await coldHandler({ SCHEMA_REGISTRY_NAME: "registry", UDF_ON_ERROR: "fail" });
    const response = await handler(eventFile<UdfRequest>("redshift-udf-request.json"), lambdaContext());
    expect(response).toEqual({ success: false, error_msg: expect.stringMatching(/^row 9: UNKNOWN_SCHEMA_VERSION/) });
  });

  it("reads unframed values with the latest version of the named schema", async () => {
    const handler = await coldHandler({ SCHEMA_REGISTRY_NAME: "registry", UDF_ON_ERROR: "null" });
    const framed = eventFile<UdfRequest>("redshift-udf-request.json").arguments[1]?.[0] as string;
    const response = await handler(
      { ...eventFile<UdfRequest>("redshift-udf-request.json"), num_records: 1, arguments: [["sales", framed.slice(36)]] },
      lambdaContext(),
    );
    expect(response.success && JSON.parse(response.results[0] ?? "null")).toMatchObject({ country: "Germany", channel: "web" });
  });

  it("throws when the registry is down (throttled past its retries), so Redshift retries the query", async () => {
    const handler = await coldHandler({ SCHEMA_REGISTRY_NAME: "registry", UDF_ON_ERROR: "null" });
    glue.state.down = true;
    // (A class check would fail: the cold import has its own copy of the module.)
    await expect(handler(eventFile<UdfRequest>("redshift-udf-request.json"), lambdaContext())).rejects.toMatchObject({
      name: RegistryUnavailableError.name,
      code: "SCHEMA_REGISTRY_UNAVAILABLE",
      retriable: true,
    });
  }, 20_000);

  it("refuses a configuration it cannot use at cold start, naming the variable", async () => {
    await expect(coldHandler({ SCHEMA_REGISTRY_NAME: "registry", UDF_ON_ERROR: "ignore" })).rejects.toThrow(/UDF_ON_ERROR/);
  });
});
