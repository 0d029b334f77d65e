import { spawnSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { join } from "node:path";
import { LocalRuntime, localClients, paths } from "@sales-stream-analytics/local-aws";
import { venvBin } from "@sales-stream-analytics/local-aws/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { centsOf, formatCents } from "#shared/money/cents";
import type { Sale } from "#shared/sales/schema";
import { request } from "#test/support/http";
import { lakeColumns } from "#test/support/lake-columns";
import { downloadAll, listKeys, readText } from "#test/support/s3";
import { sampleSales } from "#tools/sales/generator";

const clients = localClients();
let runtime: LocalRuntime;

beforeAll(async () => {
  runtime = await LocalRuntime.start({ namespace: `lake-${randomUUID().slice(0, 6)}`, apiPort: 0, log: () => undefined });
});
afterAll(async () => {
  await runtime.stop();
});

const objects = (bucket: string, prefix: string) => listKeys(clients.s3, bucket, prefix);
const download = (bucket: string, keys: string[]) => downloadAll(clients.s3, bucket, keys);

describe("the Parquet lake through the local Firehose", { timeout: 300_000 }, () => {
  it("holds exactly the posted sales once each, readable by pyarrow and DuckDB, with exact decimals under dt= prefixes", async () => {
    const firehose = runtime.firehoses[0];
    expect(firehose).toBeDefined();
    const bucket = firehose?.stream.bucket as string;
    const posted: Sale[] = sampleSales(500, {
      seed: 606,
      startMs: Date.UTC(2022, 7, 9, 22),
      meanGapMs: 30_000,
      firstPaymentId: 60_000_000 + (Date.now() % 1_000_000) * 1000,
    });
    for (let i = 0; i < posted.length; i += 100) {
      const response = await request(`${runtime.apiUrl}/sales`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(posted.slice(i, i + 100)),
      });
      expect(response.status).toBe(202);
    }
    // A poison record from a producer that does not use the registry.
    const producer = clients.kafka.producer();
    await producer.connect();
    await producer.send({
      topic: runtime.salesTopic,
      messages: [{ key: "x", value: Buffer.from(`plain JSON from an old producer ${Date.now()}`) }],
    });
    await producer.disconnect();

    const expectedDays = new Set(posted.map((s) => new Date(s.payment_date).toISOString().slice(0, 10)));
    const ours = new Set(posted.map((s) => s.payment_id));
    let rows: {
      payment_id: number;
      amount: string;
      payment_date_ms: number;
      country: string;
      city: string | null;
      channel: string;
      kafka_offset: number;
    }[] = [];
    let lake:
      | {
          columns: Record<string, string>;
          compression: string;
          duckdb: { rows: number; distinct_payment_ids: number; sum_amount: string; sum_type: string };
        }
      | undefined;
    // Bounded by time, not by a count of attempts: each one downloads and reads every file, which
    // on a loaded machine takes seconds, and the Firehose emulator's delivery takes longer too.
    const lakeDeadline = Date.now() + 120_000;
    while (Date.now() < lakeDeadline) {
      await firehose?.flush();
      const keys = (await objects(bucket, "sales/")).filter((key) => [...expectedDays].some((day) => key.startsWith(`sales/dt=${day}/`)));
      if (keys.length > 0) {
        const files = await download(bucket, keys);
        const run = spawnSync(venvBin("python"), [join(paths.projectRoot, "test", "support", "read_lake.py"), ...files], {
          encoding: "utf8",
          maxBuffer: 64 * 1024 * 1024,
        });
        expect(run.status, run.stderr).toBe(0);
        lake = JSON.parse(run.stdout);
        rows = (JSON.parse(run.stdout).rows as typeof rows).filter((row) => ours.has(row.payment_id));
      }
      if (rows.length >= posted.length) break;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    expect(rows).toHaveLength(posted.length);
    expect(new Set(rows.map((r) => r.payment_id)).size).toBe(posted.length);
    // Each Glue column (generated from schemas/) as the Arrow type its Parquet column reads as.
    const arrow = (glue: string) =>
      ({ bigint: "int64", int: "int32", string: "string", timestamp: "timestamp[ms, tz=UTC]" })[glue] ??
      glue.replace(/^decimal\((\d+),(\d+)\)$/, "decimal128($1, $2)");
    expect(lake?.columns).toEqual(Object.fromEntries(lakeColumns.map((c) => [c.name, arrow(c.type)])));
    expect(lake?.columns.amount).toBe("decimal128(10, 2)");
    expect(lake?.compression).toBe("SNAPPY");
    expect(lake?.duckdb.sum_type).toBe("DECIMAL(38,2)");
    const byId = new Map(rows.map((r) => [r.payment_id, r]));
    for (const sale of posted) {
      expect(byId.get(sale.payment_id), `payment ${sale.payment_id}`).toMatchObject({
        amount: sale.amount,
        payment_date_ms: sale.payment_date,
        country: sale.country,
        city: sale.city,
        channel: sale.channel,
      });
    }
    const total = formatCents(rows.reduce((sum, r) => sum + centsOf(r.amount), 0));
    expect(total).toBe(formatCents(posted.reduce((sum, s) => sum + centsOf(s.amount), 0)));

    // Each sale sits under the dt= prefix of its own event date.
    for (const day of expectedDays) expect((await objects(bucket, `sales/dt=${day}/`)).length).toBeGreaterThan(0);

    // The poison record is under the error prefix with its reason, and in no Parquet file.
    type ErrorRecord = { rawData: string; errorCode: string; errorMessage: string };
    let poison: ErrorRecord | undefined;
    const errorsDeadline = Date.now() + 60_000;
    while (poison === undefined && Date.now() < errorsDeadline) {
      await firehose?.flush();
      const errorKeys = await objects(bucket, "errors/processing-failed/");
      const texts = await Promise.all(errorKeys.map((key) => readText(clients.s3, bucket, key)));
      const letters = texts.flatMap((text) => text.trim().split("\n")).map((line) => JSON.parse(line) as ErrorRecord);
      poison = letters.find((l) => Buffer.from(l.rawData, "base64").toString().startsWith("plain JSON from an old producer"));
      if (poison === undefined) await new Promise((resolve) => setTimeout(resolve, 500));
    }
    expect(poison).toMatchObject({ errorCode: "Lambda.ProcessingFailed", errorMessage: expect.stringContaining("BAD_HEADER_VERSION") });
  });
});
