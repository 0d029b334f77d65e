import type { Logger } from "@aws-lambda-powertools/logger";
import type { MiddlewareObj } from "@middy/core";
import { errorResponse } from "./responses.ts";

interface HttpEventLike {
  readonly requestContext?: { readonly requestId?: string };
}

/**
 * Middy middleware that turns any thrown error into the HTTP response of `errorResponse`,
 * logging 5xx with their detail and 4xx as a one-line warning (never the request body).
 */
export function httpErrors(logger: Logger): MiddlewareObj<HttpEventLike, unknown> {
  return {
    onError: async (request) => {
      const requestId = request.event?.requestContext?.requestId ?? "unknown";
      const response = errorResponse(request.error, requestId);
      if (response.statusCode >= 500)
        logger.error("request failed", {
          statusCode: response.statusCode,
          code: (request.error as { code?: string }).code,
          error: request.error as Error,
        });
      else logger.warn("request rejected", { statusCode: response.statusCode, code: (request.error as { code?: string }).code });
      request.response = response;
    },
  };
}
