import { config } from "./config.ts";
import { createHandler, productionDeps } from "./wiring.ts";

/** POST /sales (HTTP API, payload 2.0). */
export const handler = createHandler(productionDeps(config));
