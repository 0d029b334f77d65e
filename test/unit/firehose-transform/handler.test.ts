import { GlueClient } from "@aws-sdk/client-glue";
import { mockClient } from "aws-sdk-client-mock";
import { beforeEach, describe, expect, it } from "vitest";
import type { FirehoseMskRecord } from "#functions/firehose-transform/transform";
import { createHandler, productionDeps } from "#functions/firehose-transform/wiring";
import { currentVersionFirst } from "#shared/avro/current-version";
import { RegistryUnavailableError } from "#shared/avro/errors";
import { GlueSchemaRegistry } from "#shared/avro/registry";
import { currentSalesSchema, salesSchemaVersions } from "#shared/sales/schema";
import { glueRegistry } from "#test/support/fakes/glue";
import { captureLogs, EVENT_SCHEMA_VERSIONS, eventFile, instruments, lambdaContext } from "#test/support/lambda";

const [v1Id, v2Id] = Object.keys(EVENT_SCHEMA_VERSIONS) as [string, string];
const glue = glueRegistry({ [v1Id]: salesSchemaVersions[0], [v2Id]: salesSchemaVersions[1] });
interface FirehoseEvent {
  invocationId: string;
  deliveryStreamArn: string;
  records: FirehoseMskRecord[];
}
/** The handler as a new container makes it: v2 (the deployment's version) from the bundle, the others from a registry with an empty cache over the fake Glue. */
const coldHandler = () =>
  createHandler({
    ...instruments("firehose-transform"),
    registry: currentVersionFirst({ id: v2Id, schema: currentSalesSchema }, async () => new GlueSchemaRegistry(glue.client)),
  });
/** The sample event's records of one schema version (bytes 2-17 of a Glue frame name it). */
const recordsOf = (event: FirehoseEvent, id: string) =>
  event.records.filter((r) => Buffer.from(r.kafkaRecordValue, "base64").subarray(2, 18).toString("hex") === id.replaceAll("-", ""));
const handler = coldHandler();
let logs: ReturnType<typeof captureLogs>;

beforeEach(() => {
  glue.state.down = false;
  glue.mock.resetHistory();
  logs = captureLogs();
  return () => logs.stop();
});

describe("firehose-transform handler", () => {
  it("decodes records of the deployment's schema version with its production deps and no Glue call", async () => {
    // productionDeps makes its own GlueClient (on first need): every instance's send is watched.
    const anyGlue = mockClient(GlueClient).rejects(Object.assign(new Error("unreachable"), { name: "TimeoutError" }));
    try {
      const event = eventFile<FirehoseEvent>("firehose-msk-records.json");
      const current = { ...event, records: recordsOf(event, v2Id) };
      expect(current.records.length).toBeGreaterThan(1);
      const { records } = await createHandler(productionDeps({ schemaVersionId: v2Id }))(current, lambdaContext());
      expect(records.map((r) => r.result)).toEqual(current.records.map(() => "Ok"));
      expect(anyGlue.calls()).toHaveLength(0);
    } finally {
      anyGlue.restore();
    }
  });

  it("decodes a batch of the deployment's version while Glue is down; one with an older version's record fails as before", async () => {
    const cold = coldHandler();
    glue.state.down = true;
    const event = eventFile<FirehoseEvent>("firehose-msk-records.json");
    const { records } = await cold({ ...event, records: recordsOf(event, v2Id) }, lambdaContext());
    expect(records.every((r) => r.result === "Ok")).toBe(true);
    expect(glue.mock.calls()).toHaveLength(0);
    await expect(cold({ ...event, records: recordsOf(event, v1Id) }, lambdaContext())).rejects.toBeInstanceOf(RegistryUnavailableError);
  }, 20_000);

  it("answers every record: Ok with a dt key for v1, v2 and zlib records, ProcessingFailed with its bytes for the unknown version", async () => {
    const event = eventFile<FirehoseEvent>("firehose-msk-records.json");
    const { records } = await handler(event, lambdaContext());
    expect(records.map((r) => r.recordId)).toEqual(event.records.map((r) => r.recordId));
    expect(records.map((r) => r.result)).toEqual([...Array(event.records.length - 1).fill("Ok"), "ProcessingFailed"]);
    const first = Buffer.from(records[0]?.kafkaRecordValue ?? "", "base64").toString();
    expect(first).toMatch(/^\{"amount":10\.99,/);
    expect(records[0]?.metadata?.partitionKeys).toEqual({ dt: "2022-08-01" });
    expect(records.at(-1)?.kafkaRecordValue).toBe(event.records.at(-1)?.kafkaRecordValue);
    const warned = logs.lines
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .filter((l) => l.message === "record not decodable");
    expect(warned).toEqual([expect.objectContaining({ recordId: event.records.at(-1)?.recordId, code: "UNKNOWN_SCHEMA_VERSION" })]);
    expect(logs.lines.join("\n")).not.toMatch(/Japan|Madison/);
  });

  it("throws when the registry is down (throttled past its retries), so Firehose retries the invocation", async () => {
    const cold = coldHandler();
    glue.state.down = true;
    const failure = cold(eventFile<FirehoseEvent>("firehose-msk-records.json"), lambdaContext());
    await expect(failure).rejects.toBeInstanceOf(RegistryUnavailableError);
    await expect(failure).rejects.toMatchObject({ code: "SCHEMA_REGISTRY_UNAVAILABLE", retriable: true });
  }, 20_000);
});
