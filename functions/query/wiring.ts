import httpRouterHandler from "@middy/http-router";
import type { APIGatewayProxyEventV2 } from "aws-lambda";
import { dynamoDbClient } from "#shared/clients/dynamodb";
import { HttpError } from "#shared/http/errors";
import { type HttpResponse, json } from "#shared/http/responses";
import { httpLambdaHandler, type Instruments } from "#shared/lambda/handler";
import { observability } from "#shared/observability/powertools";
import type { config } from "./config.ts";
import { createQueryStore } from "./dynamodb-store.ts";
import { knownParameters, leaderboard, type QueryDeps, queryParameters, series } from "./query.ts";

/** What the query handler runs on; tests hand in fakes, handler.ts the real ones. */
export interface QueryHandlerDeps extends Instruments {
  readonly query: QueryDeps;
}

type Route = (event: APIGatewayProxyEventV2) => Promise<HttpResponse>;

// Figures change as sales arrive; clients may cache a closed window for a short while only.
const cache = { "cache-control": "max-age=5" };

/**
 * GET /leaderboard/{dimension} and GET /series/{dimension}/{value} over `deps`. Never throws:
 * a bad query is a 400 naming the parameter, an unknown route a 404, a store failure a generic 500.
 */
export function createHandler(handlerDeps: QueryHandlerDeps) {
  const deps = handlerDeps.query;
  // Path parameters come last: the query string can neither add unknown names nor override them.
  const getLeaderboard: Route = async (event) =>
    json(
      200,
      await leaderboard(
        { ...knownParameters(event.queryStringParameters, queryParameters.leaderboard), dimension: event.pathParameters?.dimension },
        deps,
      ),
      cache,
    );
  const getSeries: Route = async (event) =>
    json(
      200,
      await series(
        {
          ...knownParameters(event.queryStringParameters, queryParameters.series),
          dimension: event.pathParameters?.dimension,
          value: event.pathParameters?.value,
        },
        deps,
      ),
      cache,
    );
  return httpLambdaHandler<APIGatewayProxyEventV2, HttpResponse>(handlerDeps).handler(
    httpRouterHandler<APIGatewayProxyEventV2, HttpResponse>({
      routes: [
        { method: "GET", path: "/leaderboard/{dimension}", handler: getLeaderboard },
        { method: "GET", path: "/series/{dimension}/{value}", handler: getSeries },
      ],
      notFoundResponse: ({ method, path }) => {
        throw new HttpError(404, "NOT_FOUND", `no route ${method} ${path}`);
      },
    }) as unknown as Route,
  );
}

/** The real deps for `settings` (the function's config): the DynamoDB store of the aggregates table. Cannot fail. */
export function productionDeps(settings: typeof config): QueryHandlerDeps {
  const { logger, tracer } = observability("query");
  return {
    logger,
    tracer,
    query: {
      store: createQueryStore(dynamoDbClient(tracer)(), settings.table, settings.topic, settings.partitions),
      windows: settings.windows,
      allowedLatenessMs: settings.allowedLatenessMs,
      partitions: settings.partitions,
      idleTimeoutMs: settings.idleTimeoutMs,
      maxSeriesWindows: settings.maxSeriesWindows,
      now: Date.now,
    },
  };
}
