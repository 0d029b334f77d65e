import { type LocalRuntime, samFunctions } from "@sales-stream-analytics/local-aws";
import type { AggregationSettings } from "#functions/aggregate/aggregate";
import type { LakeTables } from "#functions/aggregate/rebuild-sql";
import { aggregationSettingsSpec } from "#functions/aggregate/settings";
import { integer, loadConfig, text } from "#shared/config/env";

/** What a rebuild of a local runtime's copy of the stack reads and writes, as its template resolves them. */
export interface LocalRebuildTarget {
  /** The aggregate function's settings (windows, lateness, TTLs, the country bound). */
  readonly settings: AggregationSettings;
  /** The sales topic and its partition count, as the query function reads them. */
  readonly topic: string;
  readonly partitions: number;
  readonly table: string;
  /** The lake's Glue database (Trino's schema) and its table and deduplicating view. */
  readonly schema: string;
  readonly tables: LakeTables;
}

/**
 * The rebuild's target on a running local runtime (a namespaced one names its private copies),
 * for the end-to-end tests and the rebuild benchmark. Throws naming a setting the template
 * resolves to an invalid value.
 */
export function localRebuildTarget(runtime: LocalRuntime): LocalRebuildTarget {
  const environment = (id: string) => samFunctions(runtime.context).find((fn) => fn.logicalId === id)?.environment ?? {};
  const query = loadConfig({ topic: text("SALES_TOPIC"), partitions: integer("SALES_TOPIC_PARTITIONS", 6) }, environment("QueryFunction"));
  return {
    settings: loadConfig(aggregationSettingsSpec, environment("AggregateFunction")),
    ...query,
    table: runtime.resourceName("AggregatesTable"),
    schema: runtime.resourceName("LakeDatabase"),
    tables: { raw: runtime.resourceName("SalesTable"), once: runtime.resourceName("SalesOnceView") },
  };
}
