import { randomUUID } from "node:crypto";
import { LocalRuntime } from "@sales-stream-analytics/local-aws";
import { componentNamed, startComponent, stopProcess } from "@sales-stream-analytics/local-aws/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { request } from "#test/support/http";

let runtime: LocalRuntime;

beforeAll(async () => {
  runtime = await LocalRuntime.start({ namespace: `outage-${randomUUID().slice(0, 6)}`, apiPort: 0, log: () => undefined });
});
afterAll(async () => {
  await startComponent(componentNamed("kafka"));
  await runtime.stop();
});

const sale = (id: number) =>
  JSON.stringify([{ payment_id: id, customer_id: 3, amount: "2.99", payment_date: 1659312000000, country: "Chile" }]);
const post = (body: string) =>
  request(`${runtime.apiUrl}/sales`, { method: "POST", headers: { "content-type": "application/json" }, body });

describe("POST /sales when Kafka is down", () => {
  it("answers 503 with Retry-After inside the timeout, then works again once the broker is back", async () => {
    expect((await post(sale(1))).status).toBe(202); // warm: the producer holds a connection

    await stopProcess("kafka", { signal: "SIGKILL" });
    const started = Date.now();
    const down = await post(sale(2));
    const elapsed = Date.now() - started;
    expect(down.status).toBe(503);
    expect(Number(down.headers.get("retry-after"))).toBeGreaterThan(0);
    const { error } = (await down.json()) as { error: { code: string } };
    expect(error).toMatchObject({ code: "KAFKA_UNAVAILABLE" });
    expect(elapsed).toBeLessThan(25_000); // the function's Timeout in template.yaml
    console.log(`503 after ${elapsed} ms with the broker killed`);

    await startComponent(componentNamed("kafka"));
    let status = 0;
    for (let attempt = 0; attempt < 10 && status !== 202; attempt++) {
      status = (await post(sale(3))).status;
      if (status !== 202) await new Promise((resolve) => setTimeout(resolve, 1000));
    }
    expect(status).toBe(202);
  });
});
