import { AppError } from "../errors/app-error.ts";
import { HttpError } from "./errors.ts";

/** API Gateway HTTP API (payload 2.0) response. */
export interface HttpResponse {
  readonly statusCode: number;
  readonly headers: Record<string, string>;
  readonly body: string;
}

const jsonHeaders = { "content-type": "application/json; charset=utf-8" } as const;

/** A JSON response. */
export function json(statusCode: number, body: unknown, headers: Record<string, string> = {}): HttpResponse {
  return { statusCode, headers: { ...jsonHeaders, ...headers }, body: JSON.stringify(body) };
}

/**
 * The one mapper from errors to HTTP responses. Exposed errors (4xx; 503 and 504, which tell a
 * client when to retry; a 500 whose stable code says a retry will not help) carry their code,
 * message and details; anything else becomes a generic 500 whose detail only the logs see.
 */
export function errorResponse(error: unknown, requestId: string): HttpResponse {
  if (error instanceof AppError && error.expose) {
    const extra = error.details === undefined ? {} : (error.details as object);
    const headers = error instanceof HttpError ? error.headers : {};
    return json(error.status, { error: { code: error.code, message: error.message, requestId, ...extra } }, headers);
  }
  return json(500, { error: { code: "INTERNAL_ERROR", message: "internal error; see the logs for this request id", requestId } });
}
