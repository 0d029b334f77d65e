import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import { captureLambdaHandler } from "@aws-lambda-powertools/tracer/middleware";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import middy from "@middy/core";
import httpRouterHandler from "@middy/http-router";
import type { APIGatewayProxyEventV2 } from "aws-lambda";
import { HttpError } from "#shared/http/errors";
import { httpErrors } from "#shared/http/middleware";
import { type HttpResponse, json } from "#shared/http/responses";
import { observability } from "#shared/observability/powertools";
import { config } from "./config.ts";
import { knownParameters, leaderboard, type QueryDeps, queryParameters, series } from "./query.ts";
import { dynamoQueryStore } from "./store.ts";

const { logger, tracer } = observability("query");
const deps: QueryDeps = {
  store: dynamoQueryStore(tracer.captureAWSv3Client(new DynamoDBClient({})), config.table, config.topic, config.partitions),
  windows: config.windows,
  allowedLatenessMs: config.allowedLatenessMs,
  partitions: config.partitions,
  idleTimeoutMs: config.idleTimeoutMs,
  maxSeriesWindows: config.maxSeriesWindows,
  now: Date.now,
};

type Route = (event: APIGatewayProxyEventV2) => Promise<HttpResponse>;

// Figures change as sales arrive; clients may cache a closed window for a short while only.
const cache = { "cache-control": "max-age=5" };

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

/** GET /leaderboard/{dimension} and GET /series/{dimension}/{value}. */
export const handler = middy<APIGatewayProxyEventV2, HttpResponse>()
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .use(captureLambdaHandler(tracer, { captureResponse: false }))
  .use(httpErrors(logger))
  .handler(
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
