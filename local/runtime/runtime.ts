import type { Server } from "node:http";
import { join } from "node:path";
import { localClients } from "../stack/clients.ts";
import { localStackContext } from "../stack/context.ts";
import { paths, ports } from "../stack/settings.ts";
import { type SamFunction, samFunctions } from "../template/functions.ts";
import { DynamoDbStreamEventSourceMapping, dynamoDbStreamMappings } from "./dynamodb-stream.ts";
import { FirehoseEmulator, firehoseStreams } from "./firehose.ts";
import { type HttpRoute, httpRoutes, startHttpApi } from "./http-api.ts";
import { KafkaEventSourceMapping, mskMappings, type RetryBackoff } from "./kafka-esm.ts";
import { LocalFunction, type LogSink } from "./lambda.ts";

export interface RuntimeOptions {
  readonly apiPort?: number;
  readonly log?: LogSink;
  /** Run the template's event source mappings (MSK, DynamoDB streams) and Firehose streams (default true). */
  readonly eventSources?: boolean;
  /** Environment overrides by function logical id (a private topic or table in tests). */
  readonly env?: Readonly<Record<string, Readonly<Record<string, string>>>>;
  /**
   * Table names by function logical id: that function's DynamoDB stream mappings read this table's
   * stream instead of the template's (a test's private table, the one its env override names).
   */
  readonly streamTables?: Readonly<Record<string, string>>;
  /**
   * Delay between retries of a failing Kafka batch (default DEFAULT_RETRY_BACKOFF). A shorter one
   * lets a test see many retries of an outage in little time; the retry count is the template's.
   */
  readonly mskRetryBackoff?: RetryBackoff;
}

/** Log lines of every function, prefixed with its name, on stdout. */
export const prefixedLog: LogSink = (name, line) => process.stdout.write(`[${name}] ${line}\n`);

/**
 * The managed parts of the template emulated in this process: every function as warm local
 * containers, the HttpApi routes on loopback, the MSK and DynamoDB stream event source mappings
 * and the Firehose streams. The real servers (Kafka, DynamoDB Local, moto) must already run (see stack.ts).
 */
export class LocalRuntime {
  readonly functions: ReadonlyMap<string, LocalFunction>;
  readonly routes: readonly HttpRoute[];
  readonly mappings: KafkaEventSourceMapping[] = [];
  readonly streamMappings: DynamoDbStreamEventSourceMapping[] = [];
  readonly firehoses: FirehoseEmulator[] = [];
  #server: Server | undefined;
  #clients: ReturnType<typeof localClients> | undefined;

  private constructor(functions: ReadonlyMap<string, LocalFunction>, routes: readonly HttpRoute[]) {
    this.functions = functions;
    this.routes = routes;
  }

  /** Base URL of the local HTTP API (the real port, also when started on port 0). */
  get apiUrl(): string {
    const address = this.#server?.address();
    return typeof address === "object" && address !== null ? `http://127.0.0.1:${address.port}` : "";
  }

  static async start(options: RuntimeOptions = {}): Promise<LocalRuntime> {
    const ctx = localStackContext();
    const definitions: SamFunction[] = samFunctions(ctx);
    const log = options.log ?? prefixedLog;
    const functions = new Map(
      definitions.map((fn) => [fn.logicalId, new LocalFunction(fn, log, { extraEnv: { ...options.env?.[fn.logicalId] } })]),
    );
    const routes = httpRoutes(definitions);
    const runtime = new LocalRuntime(functions, routes);
    runtime.#server = await startHttpApi(routes, functions, options.apiPort ?? ports.api);
    if (options.eventSources !== false) {
      const clients = localClients();
      runtime.#clients = clients;
      for (const mapping of mskMappings(definitions)) {
        const esm = new KafkaEventSourceMapping(mapping, runtime.fn(mapping.functionId), clients.kafka, clients.sqs, log, {
          ...(options.mskRetryBackoff !== undefined && { backoff: options.mskRetryBackoff }),
        });
        await esm.start();
        runtime.mappings.push(esm);
      }
      const streamClients = { dynamodb: clients.dynamodb, streams: clients.dynamodbStreams, sqs: clients.sqs };
      for (const mapping of dynamoDbStreamMappings(definitions)) {
        const tableName = options.streamTables?.[mapping.functionId] ?? mapping.tableName;
        // Like Lambda's mapping, the template's keeps its position across runs (a private table's starts afresh).
        const checkpointFile =
          tableName === mapping.tableName ? join(paths.run, `stream-${mapping.functionId}-${mapping.eventName}.json`) : undefined;
        const esm = new DynamoDbStreamEventSourceMapping({ ...mapping, tableName }, runtime.fn(mapping.functionId), streamClients, log, {
          checkpointFile,
        });
        await esm.start();
        runtime.streamMappings.push(esm);
      }
      for (const stream of firehoseStreams(ctx)) {
        const transform = stream.transformFunctionId === undefined ? undefined : runtime.fn(stream.transformFunctionId);
        const firehose = new FirehoseEmulator(stream, transform, clients.kafka, clients.s3, log);
        await firehose.start();
        runtime.firehoses.push(firehose);
      }
    }
    return runtime;
  }

  /** A function by logical id; throws naming the known ones. */
  fn(logicalId: string): LocalFunction {
    const fn = this.functions.get(logicalId);
    if (fn === undefined) throw new Error(`template.yaml has no function ${logicalId}; known: ${[...this.functions.keys()].join(", ")}`);
    return fn;
  }

  async stop(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    if (server !== undefined) {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
    await Promise.all([
      ...this.mappings.splice(0).map((mapping) => mapping.stop()),
      ...this.streamMappings.splice(0).map((mapping) => mapping.stop()),
      ...this.firehoses.splice(0).map((firehose) => firehose.stop()),
    ]);
    await Promise.all([...this.functions.values()].map((fn) => fn.stop()));
    this.#clients?.sqs.destroy();
    this.#clients?.s3.destroy();
    this.#clients?.dynamodb.destroy();
    this.#clients?.dynamodbStreams.destroy();
  }
}
