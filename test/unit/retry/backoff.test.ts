import { describe, expect, it } from "vitest";
import { backoffDelay, exponentialDelay, withRetries } from "#shared/retry/backoff";

describe("retry with backoff", () => {
  it("doubles the delay bound per attempt up to the cap, and jitters within it", () => {
    expect([1, 2, 3, 4, 5].map((attempt) => exponentialDelay(attempt, { baseMs: 100, capMs: 1000 }))).toEqual([100, 200, 400, 800, 1000]);
    expect(backoffDelay(3, { baseMs: 100, random: () => 0.5 })).toBe(200);
    expect(backoffDelay(3, { baseMs: 100, random: () => 0 })).toBe(0);
  });

  it("retries until the work succeeds, sleeping between attempts", async () => {
    const delays: number[] = [];
    let attempts = 0;
    const result = await withRetries(
      async (attempt) => {
        attempts = attempt;
        if (attempt < 3) throw new Error("throttled");
        return "done";
      },
      { maxAttempts: 5, baseMs: 10, random: () => 1, sleep: async (ms) => void delays.push(ms) },
    );
    expect(result).toBe("done");
    expect(attempts).toBe(3);
    expect(delays).toEqual([10, 20]);
  });

  it("throws the last error when attempts run out, and at once when the error will not pass", async () => {
    let calls = 0;
    const failing = () =>
      withRetries(
        async () => {
          calls++;
          throw new Error(`attempt ${calls}`);
        },
        { maxAttempts: 3, baseMs: 1, sleep: async () => undefined },
      );
    await expect(failing()).rejects.toThrow("attempt 3");
    calls = 0;
    const permanent = withRetries(
      async () => {
        calls++;
        throw new Error("invalid");
      },
      { maxAttempts: 3, baseMs: 1, shouldRetry: () => false, sleep: async () => undefined },
    );
    await expect(permanent).rejects.toThrow("invalid");
    expect(calls).toBe(1);
  });
});
