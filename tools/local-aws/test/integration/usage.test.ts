import { randomUUID } from "node:crypto";
import { afterAll, describe, expect, it } from "vitest";
import { eventually } from "../../../pipeline/figures.ts";
import { request } from "../../../pipeline/http.ts";
import { listKeys } from "../../../pipeline/s3.ts";
import { LocalRuntime } from "../../runtime/runtime.ts";
import { UsageMeter } from "../../runtime/usage.ts";
import { localClients } from "../../stack/clients.ts";

/** A metered runtime counts what the real local stack was asked: requests, invocations, DynamoDB units, S3 PUTs. */
const clients = localClients();
afterAll(() => {
  for (const client of [clients.dynamodb, clients.s3, clients.sqs, clients.glue, clients.iam]) client.destroy();
});

describe("LocalRuntime.start({ usage })", () => {
  it("counts N keyed POSTs of M sales as N API requests, N ingest invocations with INIT once, ledger and aggregate units, and one S3 PUT per lake object", async () => {
    const usage = new UsageMeter();
    const runtime = await LocalRuntime.start({ namespace: `u${randomUUID().slice(0, 6)}`, apiPort: 0, log: () => undefined, usage });
    const posts = 4;
    const perPost = 5;
    try {
      const at = Math.floor(Date.now() / 60_000) * 60_000 - 30_000;
      for (let p = 0; p < posts; p++) {
        const sales = Array.from({ length: perPost }, (_, i) => ({
          payment_id: 1 + p * perPost + i,
          customer_id: 1,
          amount: "1.00",
          payment_date: at,
          country: "Kenya",
        }));
        const answer = await request(`${runtime.apiUrl}/sales`, {
          method: "POST",
          headers: { "content-type": "application/json", "idempotency-key": randomUUID() },
          body: JSON.stringify(sales),
        });
        // The function gets DynamoDB's answers without the units the meter asked for, and answers as ever.
        expect(answer.status).toBe(202);
      }
      const aggregate = runtime.mappings.find((m) => m.mapping.functionId === "AggregateFunction");
      expect(await eventually(async () => (aggregate?.stats.records ?? 0) >= posts * perPost, 60_000, 250)).toBe(true);
      await Promise.all(runtime.streamMappings.map((mapping) => mapping.drain()));
      const firehose = runtime.firehoses[0];
      expect(await eventually(async () => (firehose?.stats.recordsRead ?? 0) >= posts * perPost, 60_000, 250)).toBe(true);
      await firehose?.flush();

      const snapshot = usage.snapshot();
      expect(snapshot.routes["POST /sales"]).toMatchObject({ requests: posts, meteredRequests: posts });
      const ingest = snapshot.functions.IngestFunction;
      expect(ingest).toMatchObject({ invocations: posts, failed: 0, coldStarts: 1 });
      expect(ingest?.initBilledMs).toBeGreaterThan(0);
      expect(ingest?.billedMs).toBeGreaterThanOrEqual(posts);
      expect(ingest?.logBytes).toBeGreaterThan(0);
      const ledger = snapshot.tables[runtime.resourceName("IdempotencyTable")];
      expect(ledger?.writeUnits).toBeGreaterThanOrEqual(posts);
      expect(snapshot.tables[runtime.resourceName("AggregatesTable")]?.writeUnits).toBeGreaterThan(0);
      expect(runtime.streamMappings[0]?.stats.getRecordsRequests).toBeGreaterThan(0);

      const bucket = runtime.resourceName("LakeBucket");
      const objects = await listKeys(clients.s3, bucket, "");
      expect(objects.length).toBeGreaterThan(0);
      expect(snapshot.buckets[bucket]?.PutObject).toBe(objects.length);
      expect(firehose?.stats.objects).toBe(objects.length);
      expect(firehose?.stats.bytesRead).toBeGreaterThan(0);
      expect(firehose?.stats.bytesDelivered).toBeGreaterThan(0);
    } finally {
      await runtime.stop();
    }
  });
});
