import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import middy from "@middy/core";
import type { APIGatewayProxyEventV2 } from "aws-lambda";
import { httpErrors } from "#shared/http/middleware";
import type { HttpResponse } from "#shared/http/responses";
import { observability } from "#shared/observability/powertools";
import { config } from "./config.ts";
import api from "./page/api.mjs";
import dashboard from "./page/dashboard.mjs";
import index from "./page/index.html";
import style from "./page/style.css";
import { type PageAssets, pageResponse } from "./page.ts";

const { logger } = observability("dashboard");
const script = "text/javascript; charset=utf-8";
const assets: PageAssets = new Map([
  ["index.html", { body: index, contentType: "text/html; charset=utf-8" }],
  ["style.css", { body: style, contentType: "text/css; charset=utf-8" }],
  ["dashboard.mjs", { body: dashboard, contentType: script }],
  ["api.mjs", { body: api, contentType: script }],
]);

/** GET / and GET /dashboard/{asset}: the live dashboard's static page, which reads the query API. */
export const handler = middy<APIGatewayProxyEventV2, HttpResponse>()
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .use(httpErrors(logger))
  .handler(async (event) => pageResponse(event.pathParameters?.asset ?? "index.html", assets, config));
