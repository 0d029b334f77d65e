import type { Logger } from "@aws-lambda-powertools/logger";
import { describe, expect, it } from "vitest";
import { AppError } from "#shared/errors/app-error";
import { badRequest, HttpError } from "#shared/http/errors";
import { httpErrors } from "#shared/http/middleware";
import { errorResponse, json } from "#shared/http/responses";

const parsed = (body: string) => JSON.parse(body) as { error: Record<string, unknown> };

describe("HTTP responses", () => {
  it("serialises JSON with its content type, extra headers winning", () => {
    expect(json(202, { accepted: 1 }, { "x-correlation-id": "c" })).toEqual({
      statusCode: 202,
      headers: { "content-type": "application/json; charset=utf-8", "x-correlation-id": "c" },
      body: '{"accepted":1}',
    });
  });

  it("shows a 4xx with its code, message, details and headers", () => {
    const response = errorResponse(badRequest("INVALID_LIMIT", "limit must be 1 to 100", { limit: "0" }), "req-1");
    expect(response.statusCode).toBe(400);
    expect(parsed(response.body)).toEqual({
      error: { code: "INVALID_LIMIT", message: "limit must be 1 to 100", requestId: "req-1", limit: "0" },
    });
  });

  it("shows a 503 (with Retry-After) and a 504, which tell a client what to do", () => {
    const unavailable = errorResponse(new HttpError(503, "KAFKA_UNAVAILABLE", "retry", { headers: { "retry-after": "5" } }), "r");
    expect(unavailable.statusCode).toBe(503);
    expect(unavailable.headers["retry-after"]).toBe("5");
    expect(errorResponse(new HttpError(504, "KAFKA_OUTCOME_UNKNOWN", "unknown"), "r").statusCode).toBe(504);
  });

  it("hides every other error behind a generic 500, whatever its message", () => {
    for (const error of [
      new Error("connect ECONNREFUSED 10.0.0.7:9098 with secret"),
      new AppError("store exploded", { code: "STORE", status: 500 }),
      new HttpError(502, "UPSTREAM", "upstream said something private"),
      "a string",
      undefined,
    ]) {
      const response = errorResponse(error, "req-9");
      expect(response.statusCode).toBe(500);
      expect(parsed(response.body)).toEqual({
        error: { code: "INTERNAL_ERROR", message: "internal error; see the logs for this request id", requestId: "req-9" },
      });
    }
  });
});

describe("httpErrors middleware", () => {
  function logger() {
    const lines: { level: string; message: string; extra: Record<string, unknown> }[] = [];
    const log = (level: string) => (message: string, extra: Record<string, unknown>) => void lines.push({ level, message, extra });
    return { lines, logger: { error: log("error"), warn: log("warn") } as unknown as Logger };
  }

  it("answers a thrown 4xx and logs a one-line warning with its code, never the request body", async () => {
    const { lines, logger: log } = logger();
    const request = {
      event: { requestContext: { requestId: "r-4" }, body: '{"customer_id":42}' },
      error: badRequest("BAD", "bad"),
    } as never;
    await httpErrors(log).onError?.(request);
    expect((request as { response: { statusCode: number } }).response.statusCode).toBe(400);
    expect(lines).toEqual([{ level: "warn", message: "request rejected", extra: { statusCode: 400, code: "BAD" } }]);
    expect(JSON.stringify(lines)).not.toContain("customer_id");
  });

  it("answers anything else with a 500 and logs the error itself, under 'unknown' when the event has no request id", async () => {
    const { lines, logger: log } = logger();
    const error = new Error("boom");
    const request = { event: {}, error } as never;
    await httpErrors(log).onError?.(request);
    const response = (request as { response: { statusCode: number; body: string } }).response;
    expect(response.statusCode).toBe(500);
    expect(parsed(response.body).error.requestId).toBe("unknown");
    expect(lines).toEqual([{ level: "error", message: "request failed", extra: { statusCode: 500, error } }]);
  });
});
