import { config } from "./config.ts";
import { createHandler, productionDeps } from "./wiring.ts";

/** Firehose (MSK source) transformation: Glue-framed Avro -> JSON lines with a `dt` partition key. */
export const handler = createHandler(productionDeps(config));
