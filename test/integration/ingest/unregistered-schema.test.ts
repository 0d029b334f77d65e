import { randomUUID } from "node:crypto";
import { DeleteRegistryCommand, RegisterSchemaVersionCommand } from "@aws-sdk/client-glue";
import { LocalRuntime, localClients } from "@sales-stream-analytics/local-aws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { currentSalesSchema, salesSchemaVersions } from "#shared/sales/schema";
import { request } from "#test/support/http";
import { createSalesRegistry } from "#test/support/schemas";
import { topicEndOffset } from "#test/support/topic";

/**
 * POST /sales when the schema registry does not hold the current sale schema (an operator
 * deployed the code before its schema version, with auto-registration off): the real ingest
 * bundle against moto's Glue and the local broker. A retry cannot help, so the answer must not
 * invite one.
 */
const clients = localClients();
const registryName = `unregistered-${randomUUID().slice(0, 8)}`;
const topic = `unregistered-${randomUUID().slice(0, 8)}`;
const logs: string[] = [];
let runtime: LocalRuntime;

beforeAll(async () => {
  // A registry of the test's own whose "sales" schema holds v1 only: the ingest writes v2.
  await createSalesRegistry(clients.glue, registryName, salesSchemaVersions[0]);
  const admin = clients.kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: 3 }], waitForLeaders: true });
  await admin.disconnect();
  runtime = await LocalRuntime.start({
    apiPort: 0,
    eventSources: false,
    log: (_, line) => logs.push(line),
    env: {
      IngestFunction: { SCHEMA_REGISTRY_NAME: registryName, SALES_SCHEMA_NAME: "sales", SALES_TOPIC: topic, AUTO_REGISTER_SCHEMA: "false" },
    },
  });
});

afterAll(async () => {
  await runtime?.stop();
  await clients.glue.send(new DeleteRegistryCommand({ RegistryId: { RegistryName: registryName } })).catch(() => undefined);
  const admin = clients.kafka.admin();
  await admin.connect();
  await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
  await admin.disconnect();
  clients.glue.destroy();
});

const sale = { payment_id: 77_000_001, customer_id: 5, amount: "3.99", payment_date: "2022-08-01T10:15:00Z", country: "Chile" };
const post = (key: string) =>
  request(`${runtime.apiUrl}/sales`, {
    method: "POST",
    headers: { "content-type": "application/json", "idempotency-key": key },
    body: JSON.stringify([sale]),
  });

describe("POST /sales with a sale schema the registry does not hold", () => {
  it("answers 500 SCHEMA_NOT_REGISTERED without Retry-After, writes nothing, logs the error, and goes through once the schema is registered", async () => {
    const key = `unregistered-${randomUUID()}`;
    for (let attempt = 1; attempt <= 2; attempt++) {
      // The same answer on a retry with the same key: the key was freed, not left in progress (no 409).
      const response = await post(key);
      expect(response.status, `attempt ${attempt}`).toBe(500);
      expect(response.headers.get("retry-after")).toBeNull();
      const body = (await response.json()) as { error: { code: string; message: string } };
      expect(body.error.code).toBe("SCHEMA_NOT_REGISTERED");
      expect(body.error.message).toContain("retrying will not help");
      expect(body.error.message).not.toContain(registryName);
    }
    expect(await topicEndOffset(clients.kafka, topic)).toBe(0n);
    const logged = logs.filter((line) => line.includes('"request failed"') && line.includes("SCHEMA_NOT_REGISTERED"));
    expect(logged.length).toBeGreaterThanOrEqual(2);
    expect(logged[0]).toContain('"level":"ERROR"');
    // The operator registers the current schema: the same request, with the same key, is accepted.
    await clients.glue.send(
      new RegisterSchemaVersionCommand({
        SchemaId: { RegistryName: registryName, SchemaName: "sales" },
        SchemaDefinition: JSON.stringify(currentSalesSchema),
      }),
    );
    const accepted = await post(key);
    expect(accepted.status).toBe(202);
    expect(await topicEndOffset(clients.kafka, topic)).toBe(1n);
  });
});
