import {
  type AthenaClient,
  GetQueryExecutionCommand,
  GetQueryResultsCommand,
  type GetQueryResultsCommandOutput,
  StartQueryExecutionCommand,
} from "@aws-sdk/client-athena";
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { GetTableCommand, type GlueClient } from "@aws-sdk/client-glue";
import { ListObjectsV2Command, type ListObjectsV2CommandOutput, type S3Client } from "@aws-sdk/client-s3";
import { AppError } from "#shared/errors/app-error";
import { InvariantError } from "#shared/errors/internal-errors";
import { sleep } from "#shared/retry/backoff";
import { createRebuildStore } from "./dynamodb-store.ts";
import { type LakeEngine, type RebuildPorts, type RebuildRequest, type RebuildSummary, runRebuild } from "./rebuild-core.ts";

export { describeRebuild, type RebuildProgress, type RebuildSummary } from "./rebuild-core.ts";

/**
 * `npm run rebuild` on AWS clients: the aggregates table in DynamoDB and a lake engine (Athena on
 * a deployed stack, Trino locally), wired to the rebuild's core (./rebuild-core.ts says what it does).
 */
export interface RebuildDeps extends Omit<RebuildPorts, "store"> {
  readonly dynamodb: Pick<DynamoDBClient, "send">;
  readonly table: string;
}

/** Rebuilds the request's window instances from the lake. Throws as runRebuild. */
export function rebuild(request: RebuildRequest, deps: RebuildDeps): Promise<RebuildSummary> {
  const { dynamodb, table, ...ports } = deps;
  return runRebuild(request, { ...ports, store: createRebuildStore(dynamodb, table) });
}

export interface AthenaOptions {
  /** The Glue database of the lake (stack parameter LakeDatabaseName). */
  readonly database: string;
  readonly workGroup: string;
  /** Where Athena writes results, when the workgroup names no location (s3://bucket/prefix/). */
  readonly outputLocation?: string;
  /** Pause between looks at a running query (default 1 s). */
  readonly pollMs?: number;
  readonly wait?: (ms: number) => Promise<void>;
}

/**
 * The lake engine on a deployed stack: Athena (Trino's engine) through the Glue catalog. Each SQL
 * statement is one query execution, polled until it ends, its rows paged 1,000 at a time
 * (GetQueryResults; the first row of a SELECT's answer is its header). Throws AppError
 * (ATHENA_QUERY_FAILED) with Athena's reason when a query fails or is cancelled, and the SDK's errors.
 */
export function athenaEngine(athena: Pick<AthenaClient, "send">, options: AthenaOptions): LakeEngine {
  const wait = options.wait ?? sleep;
  return {
    async rows(sql) {
      const started = await athena.send(
        new StartQueryExecutionCommand({
          QueryString: sql,
          QueryExecutionContext: { Catalog: "AwsDataCatalog", Database: options.database },
          WorkGroup: options.workGroup,
          ...(options.outputLocation !== undefined && { ResultConfiguration: { OutputLocation: options.outputLocation } }),
        }),
      );
      const id = started.QueryExecutionId;
      for (;;) {
        const { QueryExecution } = await athena.send(new GetQueryExecutionCommand({ QueryExecutionId: id }));
        const state = QueryExecution?.Status?.State;
        if (state === "SUCCEEDED") break;
        if (state === "FAILED" || state === "CANCELLED")
          throw new AppError(`Athena query ${id} ${state}: ${QueryExecution?.Status?.StateChangeReason ?? "no reason given"}`, {
            code: "ATHENA_QUERY_FAILED",
          });
        await wait(options.pollMs ?? 1_000);
      }
      const rows: (string | null)[][] = [];
      let token: string | undefined;
      let header = true;
      do {
        const page: GetQueryResultsCommandOutput = await athena.send(
          new GetQueryResultsCommand({ QueryExecutionId: id, NextToken: token, MaxResults: 1000 }),
        );
        for (const row of page.ResultSet?.Rows ?? []) {
          if (header) {
            header = false;
            continue;
          }
          rows.push((row.Data ?? []).map((datum) => datum.VarCharValue ?? null));
        }
        token = page.NextToken;
      } while (token !== undefined);
      return rows;
    },
  };
}

/** The lake's Glue table: where the first of its date partitions is looked for. */
export interface LakeTableRef {
  readonly database: string;
  readonly table: string;
}

const DATE = /^\d{4}-\d{2}-\d{2}$/;

/**
 * The lake's first date, as runRebuild's `firstLakeDate` port: the table's partition projection
 * names each date's objects `storage.location.template` with `${dt}` (s3://<bucket>/sales/dt=${dt}/),
 * and S3 lists a general purpose bucket's keys in ascending order of their names
 * (https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjectsV2.html), where yyyy-MM-dd sorts
 * as dates. So the first `dt=` folder S3 lists (one common prefix per folder, one call in all
 * unless names that are no date sort first) is the earliest date any row has, whatever range the
 * projection spans. Resolves epoch ms of that UTC midnight, undefined when the lake holds no
 * date folder. Throws InvariantError when the table has no such template, and the SDK's errors
 * (the caller needs glue:GetTable and s3:ListBucket).
 */
export function firstLakeDate(
  clients: { readonly glue: Pick<GlueClient, "send">; readonly s3: Pick<S3Client, "send"> },
  ref: LakeTableRef,
): () => Promise<number | undefined> {
  return async () => {
    const { Table } = await clients.glue.send(new GetTableCommand({ DatabaseName: ref.database, Name: ref.table }));
    const template = Table?.Parameters?.["storage.location.template"];
    const where = template === undefined ? null : /^s3:\/\/([^/]+)\/(.*)\$\{dt\}\/?$/.exec(template);
    if (where === null)
      throw new InvariantError(
        `the lake table ${ref.database}.${ref.table} has no storage.location.template ending in \${dt} (got ${JSON.stringify(template)})`,
      );
    const [, bucket = "", prefix = ""] = where;
    let token: string | undefined;
    do {
      const page: ListObjectsV2CommandOutput = await clients.s3.send(
        new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, Delimiter: "/", ContinuationToken: token, MaxKeys: 1 }),
      );
      for (const folder of page.CommonPrefixes ?? []) {
        const name = folder.Prefix?.slice(prefix.length).replace(/\/$/, "") ?? "";
        if (DATE.test(name) && Number.isFinite(Date.parse(`${name}T00:00:00Z`))) return Date.parse(`${name}T00:00:00Z`);
      }
      token = page.IsTruncated === true ? page.NextContinuationToken : undefined;
    } while (token !== undefined);
    return undefined;
  };
}
