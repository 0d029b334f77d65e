import { config } from "./config.ts";
import { createHandler, productionDeps } from "./wiring.ts";

/** MSK event source mapping on the sales topic: windowed aggregates in DynamoDB, exactly once. */
export const handler = createHandler(productionDeps(config));
