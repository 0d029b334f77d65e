import { readFileSync } from "node:fs";
import type { Context } from "aws-lambda";
import { vi } from "vitest";
import { metricsFor } from "#shared/observability/metrics";
import { observability } from "#shared/observability/powertools";

/** A Lambda context whose remaining time the test chooses. */
export function lambdaContext(remainingMs = 30_000): Context {
  const deadline = Date.now() + remainingMs;
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: "unit-test",
    functionVersion: "$LATEST",
    invokedFunctionArn: "arn:aws:lambda:us-east-1:123456789012:function:unit-test",
    memoryLimitInMB: "256",
    awsRequestId: "unit-test-request",
    logGroupName: "/aws/lambda/unit-test",
    logStreamName: "unit",
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

/** An event of events/ (the ones `sam local invoke -e` uses), parsed afresh so a test may change it. */
export function eventFile<T = Record<string, unknown>>(name: string): T {
  return JSON.parse(readFileSync(new URL(`../../events/${name}`, import.meta.url), "utf8")) as T;
}

/**
 * Every line written to stdout and stderr (where Powertools' logger writes) from now until
 * `stop`; the lines are not printed. `lines` holds only what was written while capturing.
 */
export function captureLogs(): { readonly lines: string[]; stop: () => void } {
  const lines: string[] = [];
  const capture = (chunk: string | Uint8Array) => {
    lines.push(
      ...String(chunk)
        .split("\n")
        .filter((line) => line.trim() !== ""),
    );
    return true;
  };
  const spies = [
    vi.spyOn(process.stdout, "write").mockImplementation(capture),
    vi.spyOn(process.stderr, "write").mockImplementation(capture),
  ];
  return {
    lines,
    stop: () => {
      for (const spy of spies) spy.mockRestore();
    },
  };
}

/** Glue's answers for the schema versions the events/ files were written with (v1 and v2 of the sales schema). */
export const EVENT_SCHEMA_VERSIONS = {
  "6b28df78-8080-4e9f-9adf-4713d8812a72": 0,
  "c7b01d13-6e34-4727-973f-5ff513af50fd": 1,
} as const;

/**
 * A function's logger, tracer (disabled outside Lambda) and metrics, as its handler.ts makes
 * them: what a test hands to a createHandler so that logs and metrics are the real ones.
 */
export function instruments(serviceName: string) {
  return { ...observability(serviceName), metrics: metricsFor(serviceName) };
}
