import { describe, expect, it } from "vitest";
import {
  type BatchOutcome,
  batchingOf,
  deliverBatch,
  type ExhaustedBatch,
  onFailureMessage,
  onFailureQueueOf,
  Pauses,
  type RetryLoop,
  retryLimitOf,
} from "../../runtime/esm-core.ts";
import { localArn } from "../../stack/settings.ts";

/** A retry loop over numbers whose function fails on any batch holding a "poison" number. */
function loop(poison: ReadonlySet<number>, overrides: Partial<RetryLoop<number>> = {}) {
  const attempts: number[][] = [];
  const exhausted: ExhaustedBatch<number>[] = [];
  const spent: number[] = [];
  const pauses = new Pauses();
  pauses.wake(); // no real waiting in a unit test
  const settings: RetryLoop<number> = {
    maxRetryAttempts: 2,
    bisectOnFunctionError: false,
    backoff: { baseMs: 1, capMs: 1 },
    pauses,
    current: () => true,
    attempt: async (records): Promise<BatchOutcome> => {
      attempts.push([...records]);
      return records.some((r) => poison.has(r)) ? { kind: "failure", reason: "Error: poison", functionError: true } : { kind: "success" };
    },
    failed: (_, __, retries) => void spent.push(retries),
    exhausted: async (batch) => {
      exhausted.push(batch);
      return true;
    },
    ...overrides,
  };
  return { settings, attempts, exhausted, spent };
}

describe("the shared retry loop", () => {
  it("retries a failing batch whole maxRetryAttempts times, then hands it on with its invocation count", async () => {
    const { settings, attempts, exhausted, spent } = loop(new Set([2]));
    expect(await deliverBatch([1, 2, 3], settings)).toEqual({ kind: "done" });
    expect(attempts).toEqual([
      [1, 2, 3],
      [1, 2, 3],
      [1, 2, 3],
    ]);
    expect(spent).toEqual([0, 1, 2]);
    expect(exhausted).toEqual([{ records: [1, 2, 3], invocations: 3, functionError: true, reason: "Error: poison" }]);
  });

  it("bisects on a function error without spending a retry, so only the poison record's half is handed on", async () => {
    const { settings, attempts, exhausted } = loop(new Set([3]), { bisectOnFunctionError: true, maxRetryAttempts: 0 });
    expect(await deliverBatch([1, 2, 3, 4], settings)).toEqual({ kind: "done" });
    expect(attempts).toEqual([[1, 2, 3, 4], [1, 2], [3, 4], [3], [4]]);
    expect(exhausted.map((b) => b.records)).toEqual([[3]]);
    // Lambda counts the invocations that held the record: the whole batch, its half, itself.
    expect(exhausted[0]?.invocations).toBe(3);
  });

  it("resumes from the reported record after a partial answer, and counts that as a retry", async () => {
    let calls = 0;
    const { settings, attempts, exhausted } = loop(new Set(), {
      attempt: async (records) => {
        attempts.push([...records]);
        return ++calls === 1 ? { kind: "partial", index: 1 } : { kind: "success" };
      },
    });
    expect(await deliverBatch([1, 2, 3], settings)).toEqual({ kind: "done" });
    expect(attempts).toEqual([
      [1, 2, 3],
      [2, 3],
    ]);
    expect(exhausted).toEqual([]);
  });

  it("retries forever with an infinite limit and abandons the batch, uncommitted, only when it is no longer current", async () => {
    let left = 25;
    const { settings, attempts, exhausted } = loop(new Set([1]), { maxRetryAttempts: Number.POSITIVE_INFINITY, current: () => left-- > 0 });
    expect(await deliverBatch([1], settings)).toEqual({ kind: "abandoned", retries: 25 });
    expect(attempts).toHaveLength(25);
    expect(exhausted).toEqual([]);
  });

  it("abandons the batch when the destination was not reached", async () => {
    const { settings } = loop(new Set([1]), { maxRetryAttempts: 0, exhausted: async () => false });
    expect(await deliverBatch([1], settings)).toEqual({ kind: "abandoned", retries: 0 });
  });
});

describe("the template settings both mappings read", () => {
  it("reads MaximumRetryAttempts in Lambda's range, -1 when absent, and names the property otherwise", () => {
    expect(retryLimitOf({}, "E")).toBe(-1);
    expect(retryLimitOf({ MaximumRetryAttempts: "7" }, "E")).toBe(7);
    expect(retryLimitOf({ MaximumRetryAttempts: 10_000 }, "E")).toBe(10_000);
    for (const value of [-2, 10_001, 1.5, "ten", null]) {
      expect(() => retryLimitOf({ MaximumRetryAttempts: value }, "Resources.Fn.Events.E.Properties")).toThrow(
        "Resources.Fn.Events.E.Properties.MaximumRetryAttempts must be an integer of -1 (infinite) to 10000",
      );
    }
  });

  it("takes the queue name of the on-failure destination's ARN, and the batching defaults each mapping gives", () => {
    expect(onFailureQueueOf({ DestinationConfig: { OnFailure: { Destination: localArn("sqs", "dead-letters") } } })).toBe("dead-letters");
    expect(onFailureQueueOf({})).toBeUndefined();
    expect(batchingOf({}, 0.5)).toEqual({ batchSize: 100, batchingWindowMs: 500 });
    expect(batchingOf({ BatchSize: 1000, MaximumBatchingWindowInSeconds: 0 }, 0.5)).toEqual({ batchSize: 1000, batchingWindowMs: 0 });
  });

  it("wraps a mapping's batch info in Lambda's on-failure envelope, naming a function error only when there was one", () => {
    const failed = onFailureMessage("Fn", { invocations: 11, functionError: true }, "KafkaBatchInfo", { batchSize: 2 });
    expect(failed).toMatchObject({
      requestContext: { functionArn: localArn("lambda", "function:Fn"), condition: "RetryAttemptsExhausted", approximateInvokeCount: 11 },
      responseContext: { statusCode: 200, executedVersion: "$LATEST", functionError: "Unhandled" },
      version: "1.0",
      KafkaBatchInfo: { batchSize: 2 },
    });
    const answeredBadly = onFailureMessage("Fn", { invocations: 1, functionError: false }, "DDBStreamBatchInfo", {});
    expect(answeredBadly.responseContext).toEqual({ statusCode: 200, executedVersion: "$LATEST" });
  });
});
