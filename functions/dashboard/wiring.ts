import type { Logger } from "@aws-lambda-powertools/logger";
import type { APIGatewayProxyEventV2 } from "aws-lambda";
import type { HttpResponse } from "#shared/http/responses";
import { httpLambdaHandler } from "#shared/lambda/handler";
import { observability } from "#shared/observability/powertools";
import { type PageAssets, type PageSettings, pageResponse } from "./page.ts";

/** What the dashboard handler serves; tests hand in their own files, handler.ts the bundled page. */
export interface DashboardDeps {
  readonly logger: Logger;
  readonly assets: PageAssets;
  readonly settings: PageSettings;
}

/** GET / and GET /dashboard/{asset} over `deps`. Never throws: an unknown file is a 404 naming the ones there are. */
export function createHandler(deps: DashboardDeps) {
  return httpLambdaHandler<APIGatewayProxyEventV2, HttpResponse>(deps).handler(async (event) =>
    pageResponse(event.pathParameters?.asset ?? "index.html", deps.assets, deps.settings),
  );
}

/** The real deps: the page files the template bundles and the function's settings. Cannot fail. */
export function productionDeps(settings: PageSettings, assets: PageAssets): DashboardDeps {
  return { logger: observability("dashboard").logger, assets, settings };
}
