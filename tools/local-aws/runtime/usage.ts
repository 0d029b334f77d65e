import type { InvocationReport } from "./lambda.ts";
import type { DynamoDbCall, ServiceCall } from "./metering-proxy.ts";

/**
 * What a run of the local runtime would have asked of each AWS service, in the units AWS bills:
 * Lambda invocations and billed ms (duration and INIT each rounded up to the ms, per invocation),
 * HTTP API requests (metered in 512 KB increments), DynamoDB request units per table (as
 * ReturnConsumedCapacity reports them), requests to S3, SQS, Glue and the MSK API, and the bytes
 * of each function's log output. `LocalRuntime.start({ usage })` feeds one; it only adds up, and
 * `snapshot()` reads it. Firehose, the mappings and the topics keep their own counters (their `stats`).
 */

/** HTTP API requests are metered in 512 KB increments (https://aws.amazon.com/api-gateway/pricing/). */
export const HTTP_API_METERING_BYTES = 512 * 1024;

export interface FunctionUsage {
  memoryMb: number;
  invocations: number;
  failed: number;
  coldStarts: number;
  /** Handler durations, each rounded up to the ms. */
  billedMs: number;
  /** INIT durations of cold starts, each rounded up to the ms. */
  initBilledMs: number;
  /** Bytes of the events it was invoked with (Invoke payloads). */
  eventBytes: number;
  /** Bytes the function wrote to its log (each line and its newline, UTF-8): CloudWatch Logs ingestion. */
  logBytes: number;
}

export interface RouteUsage {
  requests: number;
  /** Requests as metered: each one ceil(bytes / 512 KB) (at least 1). */
  meteredRequests: number;
  maxRequestBytes: number;
}

export interface TableUsage {
  requests: number;
  readUnits: number;
  writeUnits: number;
  /** Requests DynamoDB refused (a failed condition): DynamoDB Local reports no units for them. */
  refused: number;
}

export interface UsageSnapshot {
  readonly functions: Readonly<Record<string, FunctionUsage>>;
  readonly routes: Readonly<Record<string, RouteUsage>>;
  readonly tables: Readonly<Record<string, TableUsage>>;
  /** Requests by service, then operation (`s3` -> `PutObject` -> n). */
  readonly services: Readonly<Record<string, Readonly<Record<string, number>>>>;
  /** S3 requests by bucket, then operation. */
  readonly buckets: Readonly<Record<string, Readonly<Record<string, number>>>>;
}

const copy = <T extends object>(map: Map<string, T>): Record<string, T> =>
  Object.fromEntries([...map].map(([key, value]) => [key, { ...value }]));

export class UsageMeter {
  readonly #functions = new Map<string, FunctionUsage>();
  readonly #routes = new Map<string, RouteUsage>();
  readonly #tables = new Map<string, TableUsage>();
  readonly #services = new Map<string, Record<string, number>>();
  readonly #buckets = new Map<string, Record<string, number>>();

  #fn(functionId: string, memoryMb = 0): FunctionUsage {
    let usage = this.#functions.get(functionId);
    if (usage === undefined) {
      usage = { memoryMb, invocations: 0, failed: 0, coldStarts: 0, billedMs: 0, initBilledMs: 0, eventBytes: 0, logBytes: 0 };
      this.#functions.set(functionId, usage);
    }
    if (memoryMb > 0) usage.memoryMb = memoryMb;
    return usage;
  }

  /** One invocation's report (LocalFunction's onInvocation). Throws on a negative or non-finite duration. */
  recordInvocation(report: InvocationReport): void {
    for (const [name, value] of [
      ["durationMs", report.durationMs],
      ["initMs", report.initMs ?? 0],
    ] as const)
      if (!Number.isFinite(value) || value < 0) throw new Error(`${report.functionId}: ${name} must be a finite number >= 0, got ${value}`);
    const usage = this.#fn(report.functionId, report.memoryMb);
    usage.invocations++;
    usage.eventBytes += report.eventBytes;
    if (!report.ok) usage.failed++;
    usage.billedMs += Math.ceil(report.durationMs);
    if (report.initMs !== undefined) {
      usage.coldStarts++;
      usage.initBilledMs += Math.ceil(report.initMs);
    }
  }

  /** One line a function logged (the runtime's log sink). Never throws. */
  recordLogLine(functionId: string, line: string): void {
    this.#fn(functionId).logBytes += Buffer.byteLength(line, "utf8") + 1;
  }

  /** One request the HTTP API routed to a function. Never throws. */
  recordApiRequest(routeKey: string, requestBytes: number): void {
    const usage = this.#routes.get(routeKey) ?? { requests: 0, meteredRequests: 0, maxRequestBytes: 0 };
    usage.requests++;
    usage.meteredRequests += Math.max(1, Math.ceil(requestBytes / HTTP_API_METERING_BYTES));
    usage.maxRequestBytes = Math.max(usage.maxRequestBytes, requestBytes);
    this.#routes.set(routeKey, usage);
  }

  /** One DynamoDB request (the DynamoDB meter). Never throws. */
  recordDynamoDb(call: DynamoDbCall): void {
    this.#count("dynamodb", call.operation);
    for (const { table, readUnits, writeUnits } of call.tables) {
      const usage = this.#table(table);
      usage.requests++;
      usage.readUnits += readUnits;
      usage.writeUnits += writeUnits;
    }
    if (call.tables.length === 0 && call.status >= 400) this.#table(call.table ?? "(unnamed)").refused++;
  }

  #table(table: string): TableUsage {
    let usage = this.#tables.get(table);
    if (usage === undefined) {
      usage = { requests: 0, readUnits: 0, writeUnits: 0, refused: 0 };
      this.#tables.set(table, usage);
    }
    return usage;
  }

  /** One request to moto (the service meter). Never throws. */
  recordServiceCall(call: ServiceCall): void {
    this.#count(call.service, call.operation);
    if (call.service === "s3" && call.bucket !== undefined) {
      const byOperation = this.#buckets.get(call.bucket) ?? {};
      byOperation[call.operation] = (byOperation[call.operation] ?? 0) + 1;
      this.#buckets.set(call.bucket, byOperation);
    }
  }

  #count(service: string, operation: string): void {
    const byOperation = this.#services.get(service) ?? {};
    byOperation[operation] = (byOperation[operation] ?? 0) + 1;
    this.#services.set(service, byOperation);
  }

  /** A copy of everything counted so far. Never throws. */
  snapshot(): UsageSnapshot {
    return {
      functions: copy(this.#functions),
      routes: copy(this.#routes),
      tables: copy(this.#tables),
      services: copy(this.#services),
      buckets: copy(this.#buckets),
    };
  }
}
