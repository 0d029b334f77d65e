import { GetSchemaVersionCommand, GlueClient } from "@aws-sdk/client-glue";
import { mockClient } from "aws-sdk-client-mock";
import { afterAll, beforeEach, describe, expect, it, vi } from "vitest";
import type { UdfRequest } from "#functions/redshift-udf/udf";
import { createHandler, productionDeps } from "#functions/redshift-udf/wiring";
import { currentVersionFirst } from "#shared/avro/current-version";
import { RegistryUnavailableError } from "#shared/avro/errors";
import { GlueSchemaRegistry } from "#shared/avro/registry";
import { currentSalesSchema, salesSchemaVersions } from "#shared/sales/schema";
import { glueRegistry } from "#test/support/fakes/glue";
import { captureLogs, EVENT_SCHEMA_VERSIONS, eventFile, instruments, lambdaContext } from "#test/support/lambda";

const [v1Id, v2Id] = Object.keys(EVENT_SCHEMA_VERSIONS) as [string, string];
const glue = glueRegistry({ [v1Id]: salesSchemaVersions[0], [v2Id]: salesSchemaVersions[1] });
let logs: ReturnType<typeof captureLogs>;

/** The handler as a new container makes it: v2 (the deployment's version) from the bundle, the rest from a registry with an empty cache over the fake Glue. */
function coldHandler(onError: "null" | "fail") {
  const glueRegistry = new GlueSchemaRegistry(glue.client);
  const registry = {
    ...currentVersionFirst({ id: v2Id, schema: currentSalesSchema }, async () => glueRegistry),
    getLatestVersion: glueRegistry.getLatestVersion.bind(glueRegistry),
  };
  return createHandler({ ...instruments("redshift-udf"), registry, registryName: "registry", onError });
}
/** The sample request's rows framed with schema version `id` (bytes 2-17 of a Glue frame, hex characters 4-35). */
const rowsOf = (request: UdfRequest, id: string) =>
  request.arguments.filter((row) => typeof row?.[0] === "string" && row[0].slice(4, 36) === id.replaceAll("-", ""));

afterAll(() => vi.unstubAllEnvs());
beforeEach(() => {
  glue.state.down = false;
  glue.mock.resetHistory();
  logs = captureLogs();
  return () => logs.stop();
});

describe("redshift-udf handler (f_sales_avro_to_json)", () => {
  it("answers one JSON text per row in order, NULL for NULL and for the undecodable and NULL rows, and logs which row", async () => {
    const handler = coldHandler("null");
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
    // One registry call per schema version other than the deployment's (v2, bundled), however many
    // rows use it; the unknown one is asked 3 times before it is believed.
    expect(glue.mock.commandCalls(GetSchemaVersionCommand).map((call) => call.args[0].input.SchemaVersionId)).toEqual([
      v1Id,
      ...Array(3).fill(expect.stringMatching(/0bad$/)),
    ]);
    expect(glue.mock.calls()).toHaveLength(4);
  });

  it("fails the query naming the row when UDF_ON_ERROR=fail", async () => {
    const handler = coldHandler("fail");
    const response = await handler(eventFile<UdfRequest>("redshift-udf-request.json"), lambdaContext());
    expect(response).toEqual({ success: false, error_msg: expect.stringMatching(/^row 9: UNKNOWN_SCHEMA_VERSION/) });
  });

  it("reads unframed values with the latest version of the named schema", async () => {
    const handler = coldHandler("null");
    const framed = eventFile<UdfRequest>("redshift-udf-request.json").arguments[1]?.[0] as string;
    const response = await handler(
      { ...eventFile<UdfRequest>("redshift-udf-request.json"), num_records: 1, arguments: [["sales", framed.slice(36)]] },
      lambdaContext(),
    );
    expect(response.success && JSON.parse(response.results[0] ?? "null")).toMatchObject({ country: "Germany", channel: "web" });
  });

  it("throws when the registry is down (throttled past its retries), so Redshift retries the query", async () => {
    const handler = coldHandler("null");
    glue.state.down = true;
    const failure = handler(eventFile<UdfRequest>("redshift-udf-request.json"), lambdaContext());
    await expect(failure).rejects.toBeInstanceOf(RegistryUnavailableError);
    await expect(failure).rejects.toMatchObject({ code: "SCHEMA_REGISTRY_UNAVAILABLE", retriable: true });
  }, 20_000);

  it("decodes rows of the deployment's version while Glue is down; an older version's row fails the query as before", async () => {
    const handler = coldHandler("null");
    glue.state.down = true;
    const request = eventFile<UdfRequest>("redshift-udf-request.json");
    const current = rowsOf(request, v2Id);
    expect(current.length).toBeGreaterThan(1);
    const response = await handler({ ...request, num_records: current.length, arguments: current }, lambdaContext());
    expect(response).toMatchObject({ success: true, results: current.map(() => expect.stringMatching(/^\{"payment_id":/)) });
    expect(glue.mock.calls()).toHaveLength(0);
    const older = rowsOf(request, v1Id);
    await expect(handler({ ...request, num_records: older.length, arguments: older }, lambdaContext())).rejects.toBeInstanceOf(
      RegistryUnavailableError,
    );
  }, 20_000);

  it("builds its production deps from the function's settings, and decodes the deployment's version without Glue", async () => {
    // productionDeps makes its own GlueClient (on first need): every instance's send is watched.
    const anyGlue = mockClient(GlueClient).rejects(Object.assign(new Error("unreachable"), { name: "TimeoutError" }));
    try {
      const deps = productionDeps({ registryName: "registry", onError: "fail", schemaVersionId: v2Id });
      expect(deps).toMatchObject({ registryName: "registry", onError: "fail" });
      const request = eventFile<UdfRequest>("redshift-udf-request.json");
      const current = rowsOf(request, v2Id);
      const response = await createHandler(deps)({ ...request, num_records: current.length, arguments: current }, lambdaContext());
      expect(response).toMatchObject({ success: true, num_records: current.length });
      expect(anyGlue.calls()).toHaveLength(0);
    } finally {
      anyGlue.restore();
    }
  });

  it("refuses a configuration it cannot use at cold start, naming the variable", async () => {
    // The function's settings are read where its handler.ts loads them: functions/redshift-udf/config.ts.
    vi.stubEnv("SCHEMA_REGISTRY_NAME", "registry");
    vi.stubEnv("UDF_ON_ERROR", "ignore");
    await expect(import("#functions/redshift-udf/config")).rejects.toThrow(/UDF_ON_ERROR/);
  });
});
