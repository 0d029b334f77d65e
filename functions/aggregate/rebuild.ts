import {
  type AthenaClient,
  GetQueryExecutionCommand,
  GetQueryResultsCommand,
  type GetQueryResultsCommandOutput,
  StartQueryExecutionCommand,
} from "@aws-sdk/client-athena";
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { AppError } from "#shared/errors/app-error";
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
