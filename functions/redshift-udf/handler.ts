import { config } from "./config.ts";
import { createHandler, productionDeps } from "./wiring.ts";

/** Redshift scalar Lambda UDF f_sales_avro_to_json (see docs/redshift.md). */
export const handler = createHandler(productionDeps(config));
