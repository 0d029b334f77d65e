import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { GetSchemaVersionCommand } from "@aws-sdk/client-glue";
import { LocalRuntime, localClients, up } from "@sales-stream-analytics/local-aws";
import { componentNamed, startComponent, stopProcess } from "@sales-stream-analytics/local-aws/testing";
import { afterAll, describe, expect, it } from "vitest";
import { createPrivateAggregatesTable } from "#test/support/aggregates";
import { request } from "#test/support/http";

/**
 * Glue (moto) down at a cold start, then back empty, then restored. A file of its own: no event
 * source mapping or Firehose of another test may talk to moto while the stack re-provisions it,
 * since moto's seeded ids (the schema version ids inside events/*.json) only come out the same
 * when nothing else draws on its generator (every moto response, a refused one too, draws a
 * request id from it). The function containers draw nothing meanwhile: a failed load ends only
 * once all its lookups have, so no straggler reaches moto after the batch failed.
 */
const clients = localClients();

afterAll(() => {
  for (const client of [clients.dynamodb, clients.glue, clients.s3, clients.sqs]) client.destroy();
});

type KafkaEvent = { records: Record<string, { value: string; partition: number }[]> };

/** The schema version id named by a record's Glue frame (bytes 2-17 of its value). */
function frameSchemaId(record: { value: string }): string {
  const hex = Buffer.from(record.value, "base64").subarray(2, 18).toString("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** The schema version ids named by the Glue frames of an aws:kafka event. */
function frameSchemaIds(event: KafkaEvent): string[] {
  return [...new Set(Object.values(event.records).flat().map(frameSchemaId))];
}

/**
 * The records of `event` written with schema version `id`, moved to partition `partition` (the
 * aggregator keeps offsets per partition: these must not make the whole batch's records look
 * already applied when it comes later).
 */
function recordsOfVersion(event: KafkaEvent, id: string, partition: number): KafkaEvent {
  const records = Object.values(event.records)
    .flat()
    .filter((record) => frameSchemaId(record) === id)
    .map((record) => ({ ...record, partition }));
  return { ...event, records: { [`sales-${partition}`]: records } };
}

describe("Glue down at a cold start", { timeout: 300_000 }, () => {
  it("takes sales and aggregates current-version records while Glue (moto) is down, retries a batch with older versions, and recovers once it is back", async () => {
    // Fresh containers: nothing cached yet. moto keeps no state, so it is re-provisioned on return.
    // The aggregator writes a table of its own: the shared one has long passed this event's offsets.
    // Its poison record goes to the template's dead-letter queue (nothing here reads it back): a
    // test identity granted a private queue would not outlive moto's restart, the template's does.
    const table = await createPrivateAggregatesTable(clients.dynamodb);
    // Its sales go to a topic of its own (not a namespace: moto's restart would take a namespace's
    // registry with it, and only the served stack is re-provisioned).
    const topic = `glue-outage-${randomUUID().slice(0, 8)}`;
    const admin = clients.kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: 6 }], waitForLeaders: true });
    const cold = await LocalRuntime.start({
      apiPort: 0,
      eventSources: false,
      log: () => undefined,
      env: { AggregateFunction: { AGGREGATES_TABLE: table.name }, IngestFunction: { SALES_TOPIC: topic } },
    });
    const batch = JSON.parse(readFileSync("events/msk-sales-batch.json", "utf8"));
    try {
      await stopProcess("moto");
      const sales = Array.from({ length: 5 }, (_, i) => ({
        payment_id: 95_000_000 + i,
        customer_id: 1,
        amount: "1.25",
        payment_date: Date.now() - 60_000,
        country: "Chile",
      }));
      // Ingest writes with the version id the stack gave it at deploy time: a cold container
      // calls no registry, so sales are taken while Glue is down.
      const down = await request(`${cold.apiUrl}/sales`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(sales),
      });
      expect(down.status).toBe(202);

      // The decoders read records of the deployment's schema version (SALES_SCHEMA_VERSION_ID)
      // with their bundled schema: a batch of those is aggregated while Glue is down.
      const current = recordsOfVersion(batch, cold.fn("AggregateFunction").fn.environment.SALES_SCHEMA_VERSION_ID ?? "", 1);
      const currentCount = Object.values(current.records).flat().length;
      expect(currentCount).toBeGreaterThan(1);
      const decodedWithoutGlue = await cold.fn("AggregateFunction").invoke(current);
      expect(decodedWithoutGlue.ok && decodedWithoutGlue.result).toMatchObject({ records: currentCount, applied: currentCount, poison: 0 });

      // The sample batch has records of v1 too, which only Glue can describe.
      const failed = await cold.fn("AggregateFunction").invoke(batch);
      expect(failed.ok).toBe(false); // the mapping retries the batch instead of dead-lettering good records
      // (Bundles are minified, so the error is known by its message, not by its class name.)
      expect(!failed.ok && failed.error.errorMessage).toMatch(/^GetSchemaVersion \S+ failed after \d+ attempts/);

      // moto back but empty, as a registry restoring its state answers: every version "not found".
      // The container's registry failed moments ago and has found nothing since, so it does not
      // believe those answers: the batch is retried, nothing is dead-lettered or cached. (Had it
      // believed them, the next step would dead-letter the 8 good records as unknown versions.)
      await startComponent(componentNamed("moto"));
      const restoring = await cold.fn("AggregateFunction").invoke(batch);
      expect(restoring.ok).toBe(false);
      expect(!restoring.ok && restoring.error.errorMessage).toMatch(
        /^GetSchemaVersion \S+: not found 3 times, but the registry failed .* not believed$/,
      );

      await up({ keepData: true });
      // Re-provisioned with the same seeded ids: the sample events name existing versions again
      // (the poison record's id excepted, which no registry has).
      const ids = frameSchemaIds(batch).filter((id) => !id.endsWith("0bad"));
      for (const id of ids) {
        const version = await clients.glue.send(new GetSchemaVersionCommand({ SchemaVersionId: id }));
        expect(version.Status, `schema version ${id}`).toBe("AVAILABLE");
      }
      const again = await request(`${cold.apiUrl}/sales`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(sales),
      });
      expect(again.status).toBe(202);
      const retried = await cold.fn("AggregateFunction").invoke(batch);
      expect(retried.ok).toBe(true);
      expect(retried.ok && retried.result).toMatchObject({ records: 9, applied: 8, poison: 1 });
      const { records, applied, poison } = (retried.ok ? retried.result : {}) as Record<string, number>;
      console.log(
        `figures: ${JSON.stringify({ sent: 10, acknowledged: 10, currentVersionWhileDown: currentCount, batchRetried: true, records, applied, poison })}`,
      );
    } finally {
      await up({ keepData: true });
      await cold.stop();
      await table.drop();
      await admin.deleteTopics({ topics: [topic] });
      await admin.disconnect();
    }
  });
});
