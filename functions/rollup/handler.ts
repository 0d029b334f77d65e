import { config } from "./config.ts";
import { createHandler, productionDeps } from "./wiring.ts";

/** DynamoDB stream of the aggregates table: region and overall rollups of the window instances a batch touched. */
export const handler = createHandler(productionDeps(config));
