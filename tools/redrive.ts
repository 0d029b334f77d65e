import { parseArgs } from "node:util";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { GlueClient } from "@aws-sdk/client-glue";
import { S3Client } from "@aws-sdk/client-s3";
import { SQSClient } from "@aws-sdk/client-sqs";
import { localClients, up } from "@sales-stream-analytics/local-aws";
import { describeSummary, progressLine, redrive } from "#functions/aggregate/redrive";
import { aggregationSettingsSpec } from "#functions/aggregate/settings";
import { GlueAvroDecoder } from "#shared/avro/codec";
import { GlueSchemaRegistry } from "#shared/avro/registry";
import { loadConfig } from "#shared/config/env";
import { currentSalesSchema, type Sale } from "#shared/sales/schema";
import { stackEnvironment } from "#tools/stack-environment";

/**
 * `npm run redrive -- --local | --stack <name> | --queue-url <url> --table <name>`: re-applies the
 * aggregate function's dead-lettered records exactly once (functions/aggregate/redrive.ts).
 * Without --local it uses the AWS SDK's default credentials and region, as the AWS CLI does.
 * Windows, lateness, TTLs and the country bound are the AggregateFunction's environment in
 * template.yaml, resolved with the stack's parameters (--stack) or the template's defaults;
 * --windows, --allowed-lateness and --window-ttl override them.
 */
const usage = `usage: npm run redrive -- (--local | --stack <name> | --queue-url <url> --table <aggregates table>)
       [--windows <list, e.g. 1h,1d>] [--allowed-lateness 10m] [--window-ttl 1m=2d,...] [--visibility-timeout <s>]`;
const { values } = parseArgs({
  options: {
    local: { type: "boolean", default: false },
    stack: { type: "string" },
    "queue-url": { type: "string" },
    table: { type: "string" },
    windows: { type: "string" },
    "allowed-lateness": { type: "string" },
    "window-ttl": { type: "string" },
    "visibility-timeout": { type: "string" },
    help: { type: "boolean", short: "h" },
  },
});
const modes = [values.local, values.stack !== undefined].filter(Boolean).length;
if (values.help === true || modes > 1 || (modes === 0 && (values["queue-url"] === undefined || values.table === undefined))) {
  console.error(usage);
  process.exit(values.help === true ? 0 : 2);
}

let clients: { sqs: SQSClient; s3: S3Client; dynamodb: DynamoDBClient; glue: GlueClient };
if (values.local) {
  await up();
  const local = localClients();
  clients = { sqs: local.sqs, s3: local.s3, dynamodb: local.dynamodb, glue: local.glue };
} else clients = { sqs: new SQSClient({}), s3: new S3Client({}), dynamodb: new DynamoDBClient({}), glue: new GlueClient({}) };
const stack = await stackEnvironment(values.stack);
const { DeadLetterQueueUrl, AggregatesTableName } = stack.outputs;
if (values.stack !== undefined && (DeadLetterQueueUrl === undefined || AggregatesTableName === undefined))
  throw new Error(`stack ${values.stack} has no DeadLetterQueueUrl or AggregatesTableName output: pass --queue-url and --table`);
const environment: Readonly<Record<string, string>> = {
  ...stack.environment("AggregateFunction"),
  ...(DeadLetterQueueUrl !== undefined && { DEAD_LETTER_QUEUE_URL: DeadLetterQueueUrl }),
  ...(AggregatesTableName !== undefined && { AGGREGATES_TABLE: AggregatesTableName }),
};
const queueUrl = values["queue-url"] ?? environment.DEAD_LETTER_QUEUE_URL;
const table = values.table ?? environment.AGGREGATES_TABLE;
if (queueUrl === undefined || table === undefined)
  throw new Error("no dead-letter queue URL or aggregates table: pass --queue-url and --table");
const settings = loadConfig(aggregationSettingsSpec, {
  ...environment,
  ...(values.windows !== undefined && { WINDOWS: values.windows }),
  ...(values["allowed-lateness"] !== undefined && { ALLOWED_LATENESS: values["allowed-lateness"] }),
  ...(values["window-ttl"] !== undefined && { WINDOW_TTL: values["window-ttl"] }),
});
const visibility = values["visibility-timeout"] === undefined ? undefined : Number(values["visibility-timeout"]);
if (visibility !== undefined && !(Number.isInteger(visibility) && visibility >= 30 && visibility <= 43_200)) {
  console.error("--visibility-timeout must be whole seconds in [30, 43200]");
  process.exit(2);
}

console.error(
  `redriving ${queueUrl} into ${table} (windows ${settings.windows.map((w) => w.name).join(",")}, allowed lateness ${settings.allowedLatenessMs / 1000} s)`,
);
const started = Date.now();
const summary = await redrive({
  ...clients,
  decoder: new GlueAvroDecoder<Sale>(new GlueSchemaRegistry(clients.glue), currentSalesSchema),
  queueUrl,
  table,
  settings,
  ...(visibility !== undefined && { visibilityTimeoutSeconds: visibility }),
  onProgress: (progress) => console.error(progressLine(progress)),
});
for (const line of describeSummary(summary)) console.log(line);
console.log(JSON.stringify({ ...summary, seconds: (Date.now() - started) / 1000 }));
process.exit(Object.keys(summary.stillFailing).length > 0 ? 1 : 0);
