import { config } from "./config.ts";
import { createHandler, productionDeps } from "./wiring.ts";

/** GET /leaderboard/{dimension} and GET /series/{dimension}/{value}. */
export const handler = createHandler(productionDeps(config));
