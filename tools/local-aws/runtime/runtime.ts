import type { Server } from "node:http";
import { join } from "node:path";
import { S3Client } from "@aws-sdk/client-s3";
import type { Admin } from "kafkajs";
import { localClients } from "../stack/clients.ts";
import { localStackContext, namespacedStackContext } from "../stack/context.ts";
import { adminCredentialProvider, type TemporaryIdentity, temporaryIdentity } from "../stack/identities.ts";
import { endpoints, localAws, paths, ports } from "../stack/settings.ts";
import { type SamFunction, samFunctions } from "../template/functions.ts";
import { functionPolicyStatements, motoEnforceable } from "../template/iam.ts";
import { physicalName, resolveValue, type StackContext } from "../template/intrinsics.ts";
import { declaredTopics, deployedAttributes, provision, unprovision } from "../template/provision.ts";
import { DynamoDbStreamEventSourceMapping, dynamoDbStreamMappings } from "./dynamodb-stream.ts";
import type { RetryBackoff } from "./esm-core.ts";
import { FirehoseEmulator, firehoseGroupId, firehoseStreams } from "./firehose.ts";
import { type HttpRoute, httpRoutes, startHttpApi } from "./http-api.ts";
import { KafkaEventSourceMapping, mskMappings } from "./kafka-esm.ts";
import { LocalFunction, type LogSink } from "./lambda.ts";
import { type MeteringProxy, startDynamoDbMeter, startServiceMeter } from "./metering-proxy.ts";
import type { MetricSink } from "./metrics.ts";
import { MskMetricsEmulator } from "./msk-metrics.ts";
import type { UsageMeter } from "./usage.ts";

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
  /**
   * Run the template against a private copy of its resources (namespacedStackContext): topic,
   * tables, queue, bucket, Glue registry, schema and catalog, consumer groups, and per-function
   * moto identities holding the template's policies on those resources. start() provisions them,
   * stop() deletes them all. Benchmarks and tests use it so that nothing they write reaches the
   * resources `npm start` serves.
   */
  readonly namespace?: string;
  /**
   * Where the metrics the template's alarms read go: the functions' embedded-metric log lines, the
   * Kafka mappings' OffsetLag and the broker's consumer-group metrics (MskMetricsEmulator). No
   * alarm is evaluated here; a test evaluates the template's alarms over it (alarms.ts).
   */
  readonly metrics?: MetricSink;
  /**
   * Counts what the run would be billed for (usage.ts): each invocation's duration and INIT, the
   * HTTP API's requests, the functions' log bytes, and every request the functions and Firehose
   * make to DynamoDB (with the units it reports) and to moto (S3, SQS, Glue, the MSK API), through
   * recording proxies the functions reach by their endpoint variables (metering-proxy.ts).
   */
  readonly usage?: UsageMeter;
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
  #mskMetrics: MskMetricsEmulator | undefined;
  /** The template as this runtime resolved it (a namespaced one names its private resources). */
  readonly context: StackContext;
  readonly namespace: string | undefined;
  #server: Server | undefined;
  #clients: ReturnType<typeof localClients> | undefined;
  #identities: TemporaryIdentity[] = [];
  #meters: MeteringProxy[] = [];
  #firehoseS3: S3Client | undefined;
  #log: LogSink = prefixedLog;

  private constructor(
    functions: ReadonlyMap<string, LocalFunction>,
    routes: readonly HttpRoute[],
    context: StackContext,
    namespace: string | undefined,
  ) {
    this.functions = functions;
    this.routes = routes;
    this.context = context;
    this.namespace = namespace;
  }

  /** The name this runtime gives a resource of the template (its private copy's, when namespaced). */
  resourceName(logicalId: string): string {
    return physicalName(this.context, logicalId);
  }

  /** The sales topic this runtime's functions produce to and read. */
  get salesTopic(): string {
    return String(resolveValue(this.context, { Ref: "SalesTopicName" }, "SalesTopicName"));
  }

  /** Base URL of the local HTTP API (the real port, also when started on port 0). */
  get apiUrl(): string {
    const address = this.#server?.address();
    return typeof address === "object" && address !== null ? `http://127.0.0.1:${address.port}` : "";
  }

  /**
   * Starts the functions, the HTTP API and (unless eventSources is false) the mappings and Firehose
   * streams; with a namespace, first provisions its private resources and identities. Throws naming
   * what could not start (a namespace's resources are removed again before it throws).
   */
  static async start(options: RuntimeOptions = {}): Promise<LocalRuntime> {
    const namespace = options.namespace;
    const ctx = namespace === undefined ? localStackContext() : namespacedStackContext(namespace);
    const definitions: SamFunction[] = samFunctions(ctx);
    const usage = options.usage;
    const functionIds = new Set(definitions.map((fn) => fn.logicalId));
    const log = withUsage(withMetrics(options.log ?? prefixedLog, options.metrics), usage, functionIds);
    const clients = localClients();
    const identities =
      namespace === undefined
        ? new Map<string, TemporaryIdentity>()
        : await provisionNamespace(ctx, definitions, clients).catch((error: unknown) => {
            for (const client of [clients.sqs, clients.s3, clients.dynamodb, clients.dynamodbStreams, clients.glue, clients.iam])
              client.destroy();
            throw error;
          });
    // The functions' environment as a deployment gives it: what only exists once the resources do
    // (a schema version's id, the topics resource's brokers) read back from the provisioned stack.
    const deployed = await deployedAttributes(ctx, clients, endpoints.kafkaBrokers).catch(async (error: unknown) => {
      if (namespace !== undefined) await removeNamespace(ctx, definitions, clients, [...identities.values()]).catch(() => undefined);
      for (const client of [clients.sqs, clients.s3, clients.dynamodb, clients.dynamodbStreams, clients.glue, clients.iam])
        client.destroy();
      throw new Error(`the stack ${ctx.stackName} is not provisioned as template.yaml declares it: ${(error as Error).message}`, {
        cause: error,
      });
    });
    const deployedCtx: StackContext = { ...ctx, deployed };
    const deployedDefinitions = samFunctions(deployedCtx);
    // Lambda's MSK mapping invokes up to one batch per partition at once: a mapped function gets
    // that many containers (4 otherwise), so partitions do not queue for one.
    const partitions = Math.max(4, ...declaredTopics(ctx).map((topic) => topic.partitions));
    const mapped = new Set(mskMappings(deployedDefinitions).map((mapping) => mapping.functionId));
    const meters =
      usage === undefined
        ? []
        : await Promise.all([
            startDynamoDbMeter(endpoints.dynamodb, (call) => usage.recordDynamoDb(call)),
            startServiceMeter(endpoints.moto, (call) => usage.recordServiceCall(call)),
          ]);
    const [dynamodbMeter, motoMeter] = meters;
    const meteredEnv: Record<string, string> =
      dynamodbMeter === undefined || motoMeter === undefined
        ? {}
        : {
            AWS_ENDPOINT_URL_DYNAMODB: dynamodbMeter.url,
            AWS_ENDPOINT_URL_S3: motoMeter.url,
            AWS_ENDPOINT_URL_SQS: motoMeter.url,
            AWS_ENDPOINT_URL_GLUE: motoMeter.url,
            AWS_ENDPOINT_URL_KAFKA: motoMeter.url,
          };
    const functions = new Map(
      deployedDefinitions.map((fn) => [
        fn.logicalId,
        new LocalFunction(fn, log, {
          extraEnv: { ...meteredEnv, ...options.env?.[fn.logicalId] },
          ...(mapped.has(fn.logicalId) && { maxConcurrency: partitions }),
          ...(identities.has(fn.logicalId) && { credentials: identities.get(fn.logicalId) }),
          ...(usage !== undefined && { onInvocation: (report) => usage.recordInvocation(report) }),
        }),
      ]),
    );
    const routes = httpRoutes(deployedDefinitions);
    const runtime = new LocalRuntime(functions, routes, deployedCtx, namespace);
    runtime.#meters = meters;
    runtime.#clients = clients;
    runtime.#log = log;
    runtime.#identities = [...identities.values()];
    try {
      await runtime.#startParts(deployedDefinitions, options, log);
    } catch (error) {
      await runtime.stop().catch(() => undefined);
      throw error;
    }
    return runtime;
  }

  async #startParts(definitions: SamFunction[], options: RuntimeOptions, log: LogSink): Promise<void> {
    const ctx = this.context;
    const clients = this.#clients as ReturnType<typeof localClients>;
    const usage = options.usage;
    this.#server = await startHttpApi(
      this.routes,
      this.functions,
      options.apiPort ?? ports.api,
      "127.0.0.1",
      usage === undefined ? undefined : (route, bytes) => usage.recordApiRequest(route, bytes),
    );
    if (options.eventSources !== false) {
      for (const mapping of mskMappings(definitions)) {
        const esm = new KafkaEventSourceMapping(mapping, this.fn(mapping.functionId), clients.kafka, clients.sqs, log, {
          ...(options.mskRetryBackoff !== undefined && { backoff: options.mskRetryBackoff }),
          ...(options.metrics !== undefined && {
            metrics: { sink: options.metrics, functionName: physicalName(ctx, mapping.functionId) },
          }),
        });
        await esm.start();
        this.mappings.push(esm);
      }
      if (options.metrics !== undefined) {
        const watches = mskMappings(definitions).flatMap((m) =>
          m.topics.map((topic) => ({ clusterName: m.clusterArn.split("/")[1] ?? m.clusterArn, groupId: m.consumerGroupId, topic })),
        );
        this.#mskMetrics = new MskMetricsEmulator(clients.kafka, options.metrics, watches);
        await this.#mskMetrics.start();
      }
      const streamClients = { dynamodb: clients.dynamodb, streams: clients.dynamodbStreams, sqs: clients.sqs };
      for (const mapping of dynamoDbStreamMappings(definitions)) {
        const tableName = options.streamTables?.[mapping.functionId] ?? mapping.tableName;
        // Like Lambda's mapping, the template's keeps its position across runs (a private table's starts afresh).
        const checkpointFile =
          tableName === mapping.tableName && this.namespace === undefined
            ? join(paths.run, `stream-${mapping.functionId}-${mapping.eventName}.json`)
            : undefined;
        const esm = new DynamoDbStreamEventSourceMapping({ ...mapping, tableName }, this.fn(mapping.functionId), streamClients, log, {
          checkpointFile,
        });
        await esm.start();
        this.streamMappings.push(esm);
      }
      // Metered, Firehose writes to S3 through the service meter, so its PUTs are counted with the functions' requests.
      const motoMeter = this.#meters[1];
      const firehoseS3 =
        motoMeter === undefined
          ? clients.s3
          : new S3Client({ region: localAws.region, credentials: adminCredentialProvider, endpoint: motoMeter.url, forcePathStyle: true });
      if (firehoseS3 !== clients.s3) this.#firehoseS3 = firehoseS3;
      for (const stream of firehoseStreams(ctx)) {
        const transform = stream.transformFunctionId === undefined ? undefined : this.fn(stream.transformFunctionId);
        const firehose = new FirehoseEmulator(stream, transform, clients.kafka, firehoseS3, log);
        await firehose.start();
        this.firehoses.push(firehose);
      }
    }
  }

  /** A function by logical id; throws naming the known ones. */
  fn(logicalId: string): LocalFunction {
    const fn = this.functions.get(logicalId);
    if (fn === undefined) throw new Error(`template.yaml has no function ${logicalId}; known: ${[...this.functions.keys()].join(", ")}`);
    return fn;
  }

  /**
   * Stops everything it started; a namespaced runtime then deletes its resources, consumer groups
   * and identities (throws naming what it could not delete). Logs how long each step took.
   */
  async stop(): Promise<void> {
    // Each step's duration goes to the log: a slow teardown (a consumer group that stays
    // non-empty until its session times out) then says which step it waited on.
    const started = Date.now();
    const step = async (name: string, work: () => Promise<unknown>) => {
      const from = Date.now();
      this.#log("runtime", `stop: ${name}...`);
      try {
        await work();
      } finally {
        this.#log("runtime", `stop: ${name} took ${((Date.now() - from) / 1000).toFixed(1)} s`);
      }
    };
    const server = this.#server;
    this.#server = undefined;
    if (server !== undefined) {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
    // One step per reader, all at once: a reader stuck in its stop is then named in the log.
    const mskMetrics = this.#mskMetrics;
    this.#mskMetrics = undefined;
    await Promise.all([
      ...(mskMetrics === undefined ? [] : [step("MSK metrics", () => mskMetrics.stop())]),
      ...this.mappings.splice(0).map((m) => step(`MSK mapping of ${m.mapping.functionId}`, () => m.stop())),
      ...this.streamMappings.splice(0).map((m) => step(`stream mapping of ${m.mapping.functionId}`, () => m.stop())),
      ...this.firehoses.splice(0).map((f) => step(`Firehose ${f.stream.name}`, () => f.stop())),
    ]);
    await step("functions", () => Promise.all([...this.functions.values()].map((fn) => fn.stop())));
    await Promise.all(this.#meters.splice(0).map((meter) => meter.close()));
    this.#firehoseS3?.destroy();
    this.#firehoseS3 = undefined;
    const clients = this.#clients;
    this.#clients = undefined;
    if (clients === undefined) return;
    try {
      const namespace = this.namespace;
      if (namespace !== undefined)
        await step(`namespace ${namespace}`, () =>
          removeNamespace(this.context, samFunctions(this.context), clients, this.#identities.splice(0)),
        );
    } finally {
      for (const client of [clients.sqs, clients.s3, clients.dynamodb, clients.dynamodbStreams, clients.glue, clients.iam])
        client.destroy();
      this.#log("runtime", `stopped in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    }
  }
}

/** `log`, also feeding the functions' embedded-metric lines to `metrics` (a malformed one is logged, not thrown). */
function withMetrics(log: LogSink, metrics: MetricSink | undefined): LogSink {
  if (metrics === undefined) return log;
  return (name, line) => {
    try {
      metrics.ingestLogLine(name, line);
    } catch (error) {
      log("runtime", `metrics of ${name} dropped: ${(error as Error).message}`);
    }
    log(name, line);
  };
}

/** `log`, also counting the bytes each function logs into `usage` (lines of the runtime's own parts are not counted). */
function withUsage(log: LogSink, usage: UsageMeter | undefined, functionIds: ReadonlySet<string>): LogSink {
  if (usage === undefined) return log;
  return (name, line) => {
    if (functionIds.has(name)) usage.recordLogLine(name, line);
    log(name, line);
  };
}

/** Provisions a namespace's resources and one moto identity per function; throws (having removed what it made) on failure. */
async function provisionNamespace(
  ctx: StackContext,
  definitions: readonly SamFunction[],
  clients: ReturnType<typeof localClients>,
): Promise<Map<string, TemporaryIdentity>> {
  const identities = new Map<string, TemporaryIdentity>();
  const admin = clients.kafka.admin();
  await admin.connect();
  try {
    // No seedIds: moto's generator is seeded for the served stack's ids only.
    await provision(ctx, { kafkaAdmin: admin, ...clients });
    for (const fn of definitions) {
      const statements = motoEnforceable(functionPolicyStatements(ctx, fn.logicalId));
      identities.set(fn.logicalId, await temporaryIdentity(clients.iam, `${ctx.stackName}-${fn.logicalId}`.slice(0, 55), statements));
    }
    return identities;
  } catch (error) {
    await admin.disconnect();
    await removeNamespace(ctx, definitions, clients, [...identities.values()]).catch(() => undefined);
    throw error;
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

/**
 * Deletes those of `groups` that exist. A group is refused while it still has members: a consumer
 * stopped while it was rejoining after a broker restart stays a member until its session (30 s)
 * or rebalance (60 s) times out. Retried for up to 100 s; throws naming the groups still there.
 */
async function deleteGroups(admin: Admin, groups: readonly string[]): Promise<void> {
  const deadline = Date.now() + 100_000;
  for (;;) {
    const existing = new Set((await admin.listGroups()).groups.map((group) => group.groupId));
    const left = groups.filter((group) => existing.has(group));
    if (left.length === 0) return;
    try {
      await admin.deleteGroups(left);
      return;
    } catch (error) {
      const reasons = ((error as { groups?: { groupId: string; error?: { type?: string } }[] }).groups ?? [])
        .map((group) => `${group.groupId} ${group.error?.type ?? "?"}`)
        .join(", ");
      if (Date.now() > deadline)
        throw new Error(`consumer groups ${left.join(", ")}: ${(error as Error).message} (${reasons})`, { cause: error });
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  }
}

/** Deletes a namespace's consumer groups, resources and identities; throws naming what it could not delete, after trying everything. */
async function removeNamespace(
  ctx: StackContext,
  definitions: readonly SamFunction[],
  clients: ReturnType<typeof localClients>,
  identities: readonly TemporaryIdentity[],
): Promise<void> {
  const failures: string[] = [];
  const admin = clients.kafka.admin();
  await admin.connect();
  try {
    const groups = [...mskMappings(definitions).map((m) => m.consumerGroupId), ...firehoseStreams(ctx).map(firehoseGroupId)];
    await deleteGroups(admin, groups).catch((error: Error) => failures.push(error.message));
    await unprovision(ctx, { kafkaAdmin: admin, ...clients }).catch((error: Error) => failures.push(error.message));
  } finally {
    await admin.disconnect();
  }
  for (const identity of identities)
    await identity.drop().catch((error: Error) => failures.push(`iam user ${identity.userName}: ${error.message}`));
  if (failures.length > 0) throw new Error(`removing namespace ${ctx.stackName} left resources behind: ${failures.join("; ")}`);
}
