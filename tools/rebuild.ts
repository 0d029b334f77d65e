import { parseArgs } from "node:util";
import { AthenaClient } from "@aws-sdk/client-athena";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { GlueClient } from "@aws-sdk/client-glue";
import { S3Client } from "@aws-sdk/client-s3";
import { localClients, physicalName, startTrino, trinoQuery, up } from "@sales-stream-analytics/local-aws";
import { athenaEngine, describeRebuild, firstLakeDate, rebuild } from "#functions/aggregate/rebuild";
import type { LakeEngine } from "#functions/aggregate/rebuild-core";
import { aggregationSettingsSpec } from "#functions/aggregate/settings";
import { integer, loadConfig, text } from "#shared/config/env";
import { parseIsoInstant } from "#shared/time/instant";
import { parseDuration, parseWindows } from "#shared/windows/windows";
import { stackEnvironment } from "#tools/stack-environment";

/**
 * `npm run rebuild -- (--local | --stack <name>) --from <ISO> --to <ISO> [--restate] [--windows ...]`:
 * recomputes every window instance in an event-time range from the lake (docs/rebuild.md). Locally
 * the lake engine is the stack's Trino (started if it is not running); on a deployed stack, Athena
 * with the AWS SDK's default credentials and region, as the AWS CLI uses them. Windows, lateness,
 * TTLs and the country bound are the AggregateFunction's environment as the stack resolves it;
 * the topic and its partitions the QueryFunction's.
 */
const usage = `usage: npm run rebuild -- (--local | --stack <name>) --from <ISO> --to <ISO>
       [--restate] [--windows 1m,1h,...] [--reason <text>] [--lake-wait 15m]
       [--athena-workgroup primary] [--athena-output s3://bucket/prefix/] [--block-size 1000000]`;
const { values } = parseArgs({
  options: {
    local: { type: "boolean", default: false },
    stack: { type: "string" },
    from: { type: "string" },
    to: { type: "string" },
    restate: { type: "boolean", default: false },
    windows: { type: "string" },
    reason: { type: "string" },
    "lake-wait": { type: "string", default: "15m" },
    "athena-workgroup": { type: "string", default: "primary" },
    "athena-output": { type: "string" },
    "block-size": { type: "string", default: "1000000" },
    help: { type: "boolean", short: "h" },
  },
});
const from = values.from === undefined ? undefined : parseIsoInstant(values.from);
const to = values.to === undefined ? undefined : parseIsoInstant(values.to);
if (values.help === true || values.local === (values.stack !== undefined) || from === undefined || to === undefined || to <= from) {
  if (values.help !== true && (from === undefined || to === undefined || (to !== undefined && from !== undefined && to <= from)))
    console.error("--from and --to must be ISO-8601 instants with a zone, --to after --from");
  console.error(usage);
  process.exit(values.help === true ? 0 : 2);
}

const stack = await stackEnvironment(values.stack);
const settings = loadConfig(aggregationSettingsSpec, stack.environment("AggregateFunction"));
const query = loadConfig(
  { topic: text("SALES_TOPIC"), partitions: integer("SALES_TOPIC_PARTITIONS", 6, { min: 1, max: 100 }) },
  stack.environment("QueryFunction"),
);
// The all-time window reads the whole lake; the other configured windows are the default.
const windows = values.windows === undefined ? settings.windows.filter((spec) => !spec.unbounded) : parseWindows(values.windows);
const lakeWaitMs = parseDuration(values["lake-wait"] as string);
const blockSize = Number(values["block-size"]);
if (!Number.isSafeInteger(blockSize) || blockSize < 1)
  throw new Error(`--block-size must be a positive whole number; got "${values["block-size"]}"`);

let dynamodb: DynamoDBClient;
let lake: LakeEngine;
let table: string;
let tables: { raw: string; once: string };
let lakeStart: () => Promise<number | undefined>;
if (values.local) {
  await up();
  await startTrino();
  const clients = localClients();
  dynamodb = clients.dynamodb;
  table = String(stack.environment("AggregateFunction").AGGREGATES_TABLE);
  const schema = physicalName(stack.context, "LakeDatabase");
  tables = { raw: physicalName(stack.context, "SalesTable"), once: physicalName(stack.context, "SalesOnceView") };
  lake = { rows: async (sql) => (await trinoQuery(sql, { schema })).rows };
  lakeStart = firstLakeDate(clients, { database: schema, table: tables.raw });
} else {
  const { AggregatesTableName, LakeTable, LakeOnceView, LakeBucketName } = stack.outputs;
  if (AggregatesTableName === undefined || LakeTable === undefined || LakeOnceView === undefined)
    throw new Error(`stack ${values.stack} has no AggregatesTableName, LakeTable or LakeOnceView output`);
  dynamodb = new DynamoDBClient({});
  table = AggregatesTableName;
  const [database = "", raw = ""] = LakeTable.split(".");
  tables = { raw, once: LakeOnceView.split(".")[1] ?? "" };
  lakeStart = firstLakeDate({ glue: new GlueClient({}), s3: new S3Client({}) }, { database, table: raw });
  lake = athenaEngine(new AthenaClient({}), {
    database,
    workGroup: values["athena-workgroup"] as string,
    outputLocation:
      values["athena-output"] ?? (LakeBucketName === undefined ? undefined : `s3://${LakeBucketName}/athena-results/rebuild/`),
  });
}

const reason =
  values.reason ?? (values.restate ? "restated from the lake: late sales folded in" : "rebuilt from the lake by the live rule");
console.error(
  `rebuilding ${windows.map((w) => w.name).join(",")} from ${new Date(from).toISOString()} to ${new Date(to).toISOString()}${values.restate ? " (restating: late sales count)" : ""} into ${table}`,
);
const started = Date.now();
const summary = await rebuild(
  { from, to, restate: values.restate === true, windows, reason },
  {
    dynamodb,
    table,
    lake,
    tables,
    settings,
    topic: query.topic,
    partitions: query.partitions,
    blockSize,
    lakeWaitMs,
    firstLakeDate: lakeStart,
    onProgress: (p) =>
      console.error(
        `  ${p.window} round ${p.round}: ${p.done}/${p.instances} windows, ${p.rebuilt} rebuilt, ${p.unchanged} unchanged, ${p.deferred} deferred (${p.deferredBy.live} live past the cut, ${p.deferredBy.lake} lake behind, ${p.deferredBy.conflict} conflicts), ${p.groups} groups read`,
      ),
  },
);
const seconds = (Date.now() - started) / 1000;
for (const line of describeRebuild(summary, seconds)) console.log(line);
process.exit(summary.deferred.length > 0 ? 1 : 0);
