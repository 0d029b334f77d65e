import { parseArgs } from "node:util";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { localClients, up } from "@sales-stream-analytics/local-aws";
import { backfillRollups } from "#functions/rollup/backfill";
import { createRollupStore } from "#functions/rollup/dynamodb-store";

/**
 * `npm run rollups -- --table <name> --partitions <n> [--local]`: rolls up every window instance
 * of an aggregates table (see functions/rollup/backfill.ts). Without --local it uses the AWS SDK's
 * default credentials and region, as the AWS CLI does; with --local, the local stack.
 */
const { values } = parseArgs({
  options: {
    table: { type: "string" },
    partitions: { type: "string" },
    local: { type: "boolean", default: false },
    help: { type: "boolean", short: "h" },
  },
});
const partitions = Number(values.partitions);
if (values.help === true || values.table === undefined || !Number.isInteger(partitions) || partitions < 1) {
  console.error("usage: npm run rollups -- --table <aggregates table> --partitions <SalesTopicPartitions> [--local]");
  process.exit(values.help === true ? 0 : 2);
}
let client: DynamoDBClient;
if (values.local) {
  await up();
  client = localClients().dynamodb;
} else client = new DynamoDBClient({});
const started = Date.now();
const summary = await backfillRollups(createRollupStore(client, values.table, partitions), {
  partitions,
  onPage: (progress) => console.error(`${progress.slices} slices scanned, ${progress.written} rollups written`),
});
console.log(JSON.stringify({ ...summary, seconds: (Date.now() - started) / 1000 }));
process.exit(summary.failedWindows > 0 ? 1 : 0);
