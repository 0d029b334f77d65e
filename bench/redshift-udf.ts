import { LocalRuntime, localClients, up } from "@sales-stream-analytics/local-aws";
import { decodeRows } from "#functions/redshift-udf/udf";
import { GlueAvroDecoder } from "#shared/avro/codec";
import { GlueSchemaRegistry } from "#shared/avro/registry";
import { currentSalesSchema, type Sale } from "#shared/sales/schema";
import { salesEncoders } from "#tools/pipeline/aggregates";
import { sampleSales } from "#tools/sales/generator";
import { benchReport } from "./report.ts";
import { measure, printTable } from "./support.ts";

/** Rows/s of f_sales_avro_to_json for 10,000-row batches as Redshift sends them (hex in, JSON out). */
const report = benchReport("redshift-udf");
await up();
const { glue } = localClients();
const encodePlain = await salesEncoders("none");
const encodeZlib = await salesEncoders("zlib");
const sales = sampleSales(10_000, { seed: 12 });
const plainRows = sales.map((sale, i) => [encodePlain(sale, i).toString("hex")]);
const zlibRows = sales.map((sale, i) => [encodeZlib(sale, i).toString("hex")]);
const deps = {
  decoder: new GlueAvroDecoder<Sale>(new GlueSchemaRegistry(glue), currentSalesSchema),
  latestVersion: () => Promise.reject(new Error("unused")),
  onError: "null" as const,
  logBadRow: () => undefined,
};
const runtime = await LocalRuntime.start({
  namespace: `bench-${Date.now().toString(36)}`,
  apiPort: 0,
  eventSources: false,
  log: () => undefined,
});
const fn = runtime.fn("RedshiftUdfFunction");
const rows = [
  await measure("UDF core, v1/v2 frames", sales.length, () => decodeRows({ arguments: plainRows }, deps)),
  await measure("UDF core, v1 plain / v2 zlib frames", sales.length, () => decodeRows({ arguments: zlibRows }, deps)),
  await measure("whole Lambda invocation (local container), v1/v2 frames", sales.length, async () => {
    const outcome = await fn.invoke({ request_id: "bench", num_records: plainRows.length, arguments: plainRows });
    if (!outcome.ok) throw new Error(outcome.error.errorMessage);
  }),
];
printTable(report.print, `f_sales_avro_to_json, batches of ${sales.length.toLocaleString("en-US")} rows (Node ${process.version})`, rows);
for (const row of rows) report.print(`${row.name}: ${(row.seconds * 1000).toFixed(0)} ms per 10,000-row batch`);
await runtime.stop();
glue.destroy();
report.save();
process.exit(0);
