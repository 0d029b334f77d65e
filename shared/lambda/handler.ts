import type { Logger } from "@aws-lambda-powertools/logger";
import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import type { Metrics } from "@aws-lambda-powertools/metrics";
import { logMetrics } from "@aws-lambda-powertools/metrics/middleware";
import type { Tracer } from "@aws-lambda-powertools/tracer";
import { captureLambdaHandler } from "@aws-lambda-powertools/tracer/middleware";
import middy, { type MiddyfiedHandler } from "@middy/core";
import type { Context } from "aws-lambda";
import { httpErrors } from "#shared/http/middleware";

/** What a function observes itself with; tracer and metrics only where the function uses them. */
export interface Instruments {
  readonly logger: Logger;
  readonly tracer?: Tracer;
  readonly metrics?: Metrics;
}

/**
 * The one middy chain of every function: the logger gets the invocation's context (keys reset
 * each time), the tracer a subsegment without the response (which may hold sales), metrics are
 * flushed after each invocation. Adds no error handling: what the handler throws reaches Lambda.
 */
export function lambdaHandler<TEvent, TResult, TContext extends Context = Context>(
  instruments: Instruments,
): MiddyfiedHandler<TEvent, TResult, Error, TContext> {
  const chain = middy<TEvent, TResult, Error, TContext>().use(injectLambdaContext(instruments.logger, { resetKeys: true }));
  if (instruments.tracer !== undefined) chain.use(captureLambdaHandler(instruments.tracer, { captureResponse: false }));
  if (instruments.metrics !== undefined) chain.use(logMetrics(instruments.metrics));
  return chain;
}

/**
 * `lambdaHandler` for an API Gateway route: any thrown error becomes the response of
 * shared/http/responses.ts (4xx precise, 5xx generic and logged), so the handler never throws.
 */
export function httpLambdaHandler<TEvent, TResult>(instruments: Instruments): MiddyfiedHandler<TEvent, TResult, Error, Context> {
  // httpErrors reads only the request id of any event; middy types a middleware by the exact event.
  return lambdaHandler<TEvent, TResult>(instruments).use(httpErrors(instruments.logger) as never);
}
