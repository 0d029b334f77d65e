import { readFileSync, writeFileSync } from "node:fs";
import { DescribeTableCommand, type DynamoDBClient } from "@aws-sdk/client-dynamodb";
import {
  type _Record,
  DescribeStreamCommand,
  type DynamoDBStreamsClient,
  ExpiredIteratorException,
  GetRecordsCommand,
  GetShardIteratorCommand,
  type Shard,
  type AttributeValue as StreamAttributeValue,
  TrimmedDataAccessException,
} from "@aws-sdk/client-dynamodb-streams";
import type { SQSClient } from "@aws-sdk/client-sqs";
import { localAws } from "../stack/settings.ts";
import type { SamFunction } from "../template/functions.ts";
import {
  type BatchOutcome,
  batchingOf,
  DEFAULT_RETRY_BACKOFF,
  deliverBatch,
  type ExhaustedBatch,
  type Invokable,
  onFailureMessage,
  onFailureQueueOf,
  Pauses,
  retryLimitOf,
  sendToOnFailureQueue,
} from "./esm-core.ts";
import { compileFilterPattern, type FilterPattern, passesFilters } from "./event-filter.ts";
import type { InvokeResult, LogSink } from "./lambda.ts";

export type { BatchOutcome, Invokable } from "./esm-core.ts";

/** A DynamoDB event of a function in template.yaml, as the stream mapping emulator needs it. */
export interface DynamoDbStreamMapping {
  readonly functionId: string;
  readonly eventName: string;
  /** The table whose stream is read: the template's, or a test's private table put in its place. */
  readonly tableName: string;
  readonly startingPosition: "TRIM_HORIZON" | "LATEST";
  readonly batchSize: number;
  readonly batchingWindowMs: number;
  /** Compiled FilterCriteria patterns; empty delivers every record. */
  readonly filters: readonly FilterPattern[];
  readonly reportBatchItemFailures: boolean;
  readonly bisectBatchOnFunctionError: boolean;
  readonly maxRetryAttempts: number;
  /** SQS queue name of the on-failure destination, if any. */
  readonly onFailureQueue: string | undefined;
}

/** What MaximumRetryAttempts -1 (or absent) means locally for a stream: 10 retries, not the records' 24 h. */
export const STREAM_INFINITE_RETRIES = 10;

/** The table a stream ARN belongs to (`arn:aws:dynamodb:<region>:<account>:table/<name>/stream/<label>`), or undefined. */
export function tableOfStreamArn(arn: string): string | undefined {
  return /^arn:aws[\w-]*:dynamodb:[^:]*:[^:]*:table\/([^/]+)\/stream\/.+$/.exec(arn)?.[1];
}

/**
 * The DynamoDB events of the template's functions (Enabled: false ones left out). The template's
 * `!GetAtt Table.StreamArn` resolves to a placeholder label (intrinsics.ts); only its table name is
 * used: the emulator asks DynamoDB Local for the table's current stream when it starts. Throws
 * naming the event when its Stream is not a table stream ARN, its StartingPosition is not
 * TRIM_HORIZON or LATEST, MaximumRetryAttempts is not an integer of -1 to 10000, a filter pattern
 * is unsupported, or it asks for tumbling windows.
 */
export function dynamoDbStreamMappings(functions: readonly SamFunction[]): DynamoDbStreamMapping[] {
  return functions.flatMap((fn) =>
    Object.entries(fn.events)
      .filter(([, event]) => event.Type === "DynamoDB" && event.Properties.Enabled !== false)
      .map(([eventName, { Properties: p }]) => {
        const where = `Resources.${fn.logicalId}.Properties.Events.${eventName}.Properties`;
        const tableName = tableOfStreamArn(String(p.Stream));
        if (tableName === undefined) throw new Error(`${where}.Stream: not a DynamoDB table stream ARN: ${String(p.Stream)}`);
        const startingPosition = p.StartingPosition;
        if (startingPosition !== "TRIM_HORIZON" && startingPosition !== "LATEST") {
          throw new Error(`${where}.StartingPosition must be TRIM_HORIZON or LATEST, got ${JSON.stringify(startingPosition)}`);
        }
        // A tumbling window changes the event (state, window bounds) and the response; nothing here emulates it.
        if (p.TumblingWindowInSeconds !== undefined)
          throw new Error(`${where}.TumblingWindowInSeconds is not supported by the local stack`);
        const filters = ((p.FilterCriteria as { Filters?: { Pattern?: unknown }[] } | undefined)?.Filters ?? []).map((filter, i) => {
          const at = `${where}.FilterCriteria.Filters[${i}].Pattern`;
          const pattern = compileFilterPattern(String(filter.Pattern), at);
          // Lambda filters DynamoDB stream records on their "dynamodb" key only (eventName and the
          // other top-level fields cannot be filtered on); a pattern that would pass here must pass there.
          const other = Object.keys(pattern).find((key) => key !== "dynamodb");
          if (other !== undefined) throw new Error(`${at}: DynamoDB event filters may only name "dynamodb", not "${other}"`);
          return pattern;
        });
        // Lambda retries a failing stream batch until its records expire (24 h) by default; locally
        // "forever" is STREAM_INFINITE_RETRIES, so a poison batch reaches the destination in seconds.
        const limit = retryLimitOf(p, where);
        return {
          functionId: fn.logicalId,
          eventName,
          tableName,
          startingPosition,
          // A stream mapping invokes as soon as it has records unless a window is set.
          ...batchingOf(p, 0),
          filters,
          reportBatchItemFailures: ((p.FunctionResponseTypes as string[] | undefined) ?? []).includes("ReportBatchItemFailures"),
          bisectBatchOnFunctionError: p.BisectBatchOnFunctionError === true || p.BisectBatchOnFunctionError === "true",
          maxRetryAttempts: limit < 0 ? STREAM_INFINITE_RETRIES : limit,
          onFailureQueue: onFailureQueueOf(p),
        };
      }),
  );
}

// ---- The event, as Lambda builds it -------------------------------------------------------------

/** A DynamoDB attribute value as Lambda's stream event carries it (binary as base64 text). */
export type EventAttributeValue =
  | { S: string }
  | { N: string }
  | { B: string }
  | { SS: string[] }
  | { NS: string[] }
  | { BS: string[] }
  | { M: Record<string, EventAttributeValue> }
  | { L: EventAttributeValue[] }
  | { NULL: boolean }
  | { BOOL: boolean };

/** One record of the `aws:dynamodb` event Lambda hands a function. */
export interface StreamEventRecord {
  readonly eventID: string;
  readonly eventName: "INSERT" | "MODIFY" | "REMOVE";
  readonly eventVersion: string;
  readonly eventSource: "aws:dynamodb";
  readonly awsRegion: string;
  readonly dynamodb: {
    /** Epoch seconds, as a number (the Streams API's own JSON has it so; the SDK turns it into a Date). */
    readonly ApproximateCreationDateTime: number;
    readonly Keys: Record<string, EventAttributeValue>;
    readonly NewImage?: Record<string, EventAttributeValue>;
    readonly OldImage?: Record<string, EventAttributeValue>;
    readonly SequenceNumber: string;
    readonly SizeBytes: number;
    readonly StreamViewType: string;
  };
  readonly eventSourceARN: string;
  /** Present on deletions by TTL: `{type: "Service", principalId: "dynamodb.amazonaws.com"}`. */
  readonly userIdentity?: { readonly type: string; readonly principalId: string };
}

const base64 = (bytes: Uint8Array) => Buffer.from(bytes).toString("base64");

/** An SDK attribute value in the event's JSON form. Throws on a member the SDK did not know. */
export function eventAttributeValue(value: StreamAttributeValue): EventAttributeValue {
  if (value.S !== undefined) return { S: value.S };
  if (value.N !== undefined) return { N: value.N };
  if (value.B !== undefined) return { B: base64(value.B) };
  if (value.SS !== undefined) return { SS: [...value.SS] };
  if (value.NS !== undefined) return { NS: [...value.NS] };
  if (value.BS !== undefined) return { BS: value.BS.map(base64) };
  if (value.M !== undefined) return { M: eventImage(value.M) };
  if (value.L !== undefined) return { L: value.L.map(eventAttributeValue) };
  if (value.NULL !== undefined) return { NULL: value.NULL };
  if (value.BOOL !== undefined) return { BOOL: value.BOOL };
  throw new Error(`unknown DynamoDB attribute value member: ${Object.keys(value).join(", ")}`);
}

const eventImage = (image: Record<string, StreamAttributeValue>) =>
  Object.fromEntries(Object.entries(image).map(([name, value]) => [name, eventAttributeValue(value)]));

/**
 * DynamoDB Local's stream ARN (region "ddblocal", account 000000000000) as the local stack's own
 * region and account name it, so events carry the ARN a function would see in this stack.
 */
export function publicStreamArn(localArn: string): string {
  return localArn.replace(/^arn:aws:dynamodb:[^:]*:[^:]*:/, `arn:aws:dynamodb:${localAws.region}:${localAws.accountId}:`);
}

/**
 * A Streams API record as the event record Lambda delivers: the key order of AWS's examples,
 * ApproximateCreationDateTime in epoch seconds, binary values base64, images only when the stream
 * view has them. Throws naming the field when the record lacks one Lambda always sends.
 */
export function toStreamEventRecord(record: _Record, eventSourceArn: string): StreamEventRecord {
  const change = record.dynamodb;
  const sequenceNumber = change?.SequenceNumber;
  if (change === undefined || sequenceNumber === undefined || record.eventID === undefined || record.eventName === undefined) {
    throw new Error(`stream record ${record.eventID ?? "(no eventID)"} lacks eventID, eventName or dynamodb.SequenceNumber`);
  }
  const created = change.ApproximateCreationDateTime;
  const identity = record.userIdentity;
  return {
    eventID: record.eventID,
    eventName: record.eventName,
    eventVersion: record.eventVersion ?? "1.1",
    eventSource: "aws:dynamodb",
    awsRegion: localAws.region,
    dynamodb: {
      ApproximateCreationDateTime: created === undefined ? Math.floor(Date.now() / 1000) : Math.floor(created.getTime() / 1000),
      Keys: eventImage(change.Keys ?? {}),
      ...(change.NewImage !== undefined && { NewImage: eventImage(change.NewImage) }),
      ...(change.OldImage !== undefined && { OldImage: eventImage(change.OldImage) }),
      SequenceNumber: sequenceNumber,
      SizeBytes: change.SizeBytes ?? 0,
      StreamViewType: change.StreamViewType ?? "KEYS_ONLY",
    },
    eventSourceARN: eventSourceArn,
    ...(identity?.Type !== undefined &&
      identity.PrincipalId !== undefined && {
        userIdentity: { type: identity.Type, principalId: identity.PrincipalId },
      }),
  };
}

const keyStrings = (keys: Record<string, EventAttributeValue>): Record<string, string> =>
  Object.fromEntries(
    Object.entries(keys).map(([name, value]) => [name, "S" in value ? value.S : "N" in value ? value.N : JSON.stringify(value)]),
  );

// ---- The function's answer ----------------------------------------------------------------------

const sequenceOrder = (a: string, b: string) => {
  const x = BigInt(a);
  const y = BigInt(b);
  return x < y ? -1 : x > y ? 1 : 0;
};

/**
 * Reads an invocation's result as Lambda does for a stream batch: a function error fails the whole
 * batch. With ReportBatchItemFailures, `{batchItemFailures: [{itemIdentifier: <SequenceNumber>}]}`
 * marks the batch done up to the lowest reported sequence number; no response, no list or an empty
 * list is success; an identifier that is missing, empty, not a string, or not a sequence number of
 * the batch fails the whole batch. Without ReportBatchItemFailures the result is ignored. Never throws.
 */
export function batchOutcome(result: InvokeResult, batch: readonly StreamEventRecord[], reportBatchItemFailures: boolean): BatchOutcome {
  if (!result.ok) return { kind: "failure", reason: `${result.error.errorType}: ${result.error.errorMessage}`, functionError: true };
  const response = result.result;
  if (!reportBatchItemFailures || response === null || typeof response !== "object") return { kind: "success" };
  const failures = (response as { batchItemFailures?: unknown }).batchItemFailures;
  if (failures === undefined || failures === null) return { kind: "success" };
  if (!Array.isArray(failures)) return { kind: "failure", reason: "batchItemFailures is not a list", functionError: false };
  if (failures.length === 0) return { kind: "success" };
  const positions = new Map(batch.map((record, index) => [record.dynamodb.SequenceNumber, index]));
  let lowest: string | undefined;
  for (const failure of failures) {
    const id = (failure as { itemIdentifier?: unknown } | null)?.itemIdentifier;
    if (typeof id !== "string" || id === "" || !positions.has(id)) {
      return {
        kind: "failure",
        reason: `batchItemFailures names ${JSON.stringify(id)}, not a sequence number of the batch`,
        functionError: false,
      };
    }
    if (lowest === undefined || sequenceOrder(id, lowest) < 0) lowest = id;
  }
  return { kind: "partial", index: positions.get(lowest as string) ?? 0 };
}

// ---- Shards -------------------------------------------------------------------------------------

interface ShardState {
  readonly id: string;
  iterator: string | undefined;
  /** Sequence number of the last record read (delivered, filtered out, or waiting in `buffer`). */
  lastRead: string | undefined;
  /** Where to start when there is no iterator and nothing was read yet. */
  start: "TRIM_HORIZON" | "LATEST";
  /** Records that passed the filters, not yet delivered. */
  buffer: StreamEventRecord[];
  firstBufferedAt: number;
  /** The shard is closed and every record of it was read. */
  ended: boolean;
}

export interface StreamMappingStats {
  /** Invocations the mapping made (retries and bisected halves included). */
  batches: number;
  /** Records delivered at least once (each counted once, however often it was retried). */
  records: number;
  /** Records read from the stream that the filters dropped. */
  filteredOut: number;
  failedInvocations: number;
  partialFailures: number;
  sentToDestination: number;
  /** GetRecords requests (free for a Lambda trigger, billed as streams read request units for any other reader). */
  getRecordsRequests: number;
}

/**
 * One batch's way through the mapping, in ms since the epoch: when its first record was read from
 * the stream, when the function was first invoked with it, and when the mapping was done with it
 * (retries, bisection and the on-failure destination included). `keys` are the records' key
 * attributes as strings (S or N), in batch order.
 */
export interface StreamBatchTiming {
  readonly shardId: string;
  readonly keys: readonly Readonly<Record<string, string>>[];
  readonly readAt: number;
  readonly invokedAt: number;
  readonly doneAt: number;
}

export interface StreamMappingClients {
  readonly dynamodb: DynamoDBClient;
  readonly streams: DynamoDBStreamsClient;
  readonly sqs: SQSClient;
}

/** Lambda polls a DynamoDB stream's shards four times a second. */
const pollIntervalMs = 250;

/**
 * The Lambda event source mapping for a DynamoDB stream, emulated against DynamoDB Local's Streams
 * API: its shard polled (DynamoDB Local keeps one per stream), records filtered by the mapping's
 * FilterCriteria, batches of up to BatchSize gathered within the batching window, the `aws:dynamodb`
 * event, and Lambda's error handling: ReportBatchItemFailures resumes from the lowest reported
 * sequence number; a function error retries the batch (split in halves first with
 * BisectBatchOnFunctionError, which spends no retry), and after MaximumRetryAttempts the records go
 * to the on-failure destination as a DDBStreamBatchInfo message and the shard moves on.
 *
 * Not emulated: MaximumRecordAgeInSeconds, ParallelizationFactor (one batch per shard at a time),
 * tumbling windows, the 6 MB payload limit, and shard rollover and lineage (DynamoDB Local keeps
 * one open shard per stream, across restarts too, so no child shard ever waits for a parent). A retry after a partial failure re-sends the rest of the same batch;
 * Lambda re-reads from that sequence number and may add newer records.
 */
export class DynamoDbStreamEventSourceMapping {
  readonly mapping: DynamoDbStreamMapping;
  readonly stats: StreamMappingStats = {
    batches: 0,
    records: 0,
    filteredOut: 0,
    failedInvocations: 0,
    partialFailures: 0,
    sentToDestination: 0,
    getRecordsRequests: 0,
  };
  /** Told of every batch once it is done (benchmarks break a record's delay down with it); must not throw. */
  onBatch: ((timing: StreamBatchTiming) => void) | undefined;
  readonly #fn: Invokable;
  readonly #clients: StreamMappingClients;
  readonly #log: LogSink;
  readonly #shards = new Map<string, ShardState>();
  #streamArn = "";
  #eventSourceArn = "";
  #running = false;
  #loop: Promise<void> | undefined;
  readonly #pauses = new Pauses();
  /** Poll cycles begun so far; a drain waits for an idle cycle that began after it was asked. */
  #cyclesBegun = 0;
  #drains: { after: number; resolve: () => void; reject: (error: Error) => void }[] = [];
  #lastProblem = "";

  readonly #checkpointFile: string | undefined;
  #checkpoint: Record<string, string> = {};

  /**
   * `checkpointFile`: where the mapping keeps each shard's position, so that a mapping started
   * again on the same stream resumes where the last one stopped, as Lambda's mapping does across
   * deployments (`npm start` twice, or each test file's runtime). Without one it starts at the
   * StartingPosition every time.
   */
  constructor(
    mapping: DynamoDbStreamMapping,
    fn: Invokable,
    clients: StreamMappingClients,
    log: LogSink,
    { checkpointFile }: { checkpointFile?: string } = {},
  ) {
    this.mapping = mapping;
    this.#fn = fn;
    this.#clients = clients;
    this.#log = log;
    this.#checkpointFile = checkpointFile;
  }

  /** Positions saved for this stream (another stream's, e.g. a table made again since, are ignored). */
  #loadCheckpoint(): Record<string, string> {
    if (this.#checkpointFile === undefined) return {};
    try {
      const saved = JSON.parse(readFileSync(this.#checkpointFile, "utf8")) as { streamArn?: string; shards?: Record<string, string> };
      return saved.streamArn === this.#streamArn ? { ...saved.shards } : {};
    } catch {
      return {}; // none yet, or unreadable: start at the StartingPosition
    }
  }

  #saveCheckpoint(shardId: string, sequenceNumber: string): void {
    if (this.#checkpointFile === undefined || this.#checkpoint[shardId] === sequenceNumber) return;
    this.#checkpoint[shardId] = sequenceNumber;
    writeFileSync(this.#checkpointFile, JSON.stringify({ streamArn: this.#streamArn, shards: this.#checkpoint }));
  }

  /** The ARN of the stream read, as events name it (set by start). */
  get streamArn(): string {
    return this.#eventSourceArn;
  }

  /**
   * Finds the table's current stream and starts polling it. Throws naming the table when it does
   * not exist or has no stream enabled.
   */
  async start(): Promise<void> {
    const table = await this.#clients.dynamodb
      .send(new DescribeTableCommand({ TableName: this.mapping.tableName }))
      .catch((error: Error) => {
        throw new Error(`${this.#name}: cannot describe table ${this.mapping.tableName}: ${error.message}`, { cause: error });
      });
    const arn = table.Table?.LatestStreamArn;
    if (arn === undefined || table.Table?.StreamSpecification?.StreamEnabled !== true) {
      throw new Error(`${this.#name}: table ${this.mapping.tableName} has no stream enabled (StreamSpecification)`);
    }
    this.#streamArn = arn;
    this.#eventSourceArn = publicStreamArn(arn);
    this.#checkpoint = this.#loadCheckpoint();
    // Shards listed now start at the saved position, else at the mapping's StartingPosition;
    // shards that appear later are new and read from their start.
    for (const shard of await this.#describeShards()) {
      if (shard.ShardId === undefined) continue;
      const saved = this.#checkpoint[shard.ShardId];
      this.#shards.set(shard.ShardId, {
        id: shard.ShardId,
        iterator: undefined,
        lastRead: saved,
        start: this.mapping.startingPosition,
        buffer: [],
        firstBufferedAt: 0,
        ended: false,
      });
    }
    // LATEST means the records written after start() returns: take those iterators now, not at the first poll.
    for (const shard of this.#shards.values()) if (shard.start === "LATEST") shard.iterator = await this.#iterator(shard);
    this.#running = true;
    this.#loop = this.#run();
  }

  /**
   * Resolves once every record written to the table before the call has been delivered and its
   * batch acknowledged (or sent to the on-failure destination, or filtered out): a poll cycle begun
   * after the call found nothing new on any shard and nothing waiting. Rejects if the mapping stops first.
   */
  drain(): Promise<void> {
    if (!this.#running) return Promise.reject(new Error(`${this.#name} is not running`));
    return new Promise((resolve, reject) => this.#drains.push({ after: this.#cyclesBegun, resolve, reject }));
  }

  /** Stops polling once the batch in flight (if any) is settled or its retries are abandoned. */
  async stop(): Promise<void> {
    this.#running = false;
    this.#pauses.wake();
    await this.#loop;
    for (const drain of this.#drains.splice(0)) drain.reject(new Error(`${this.#name} stopped before it drained`));
  }

  get #name(): string {
    return `${this.mapping.functionId}.${this.mapping.eventName} stream mapping`;
  }

  async #describeShards(): Promise<Shard[]> {
    const shards: Shard[] = [];
    let after: string | undefined;
    do {
      const page = await this.#clients.streams.send(
        new DescribeStreamCommand({ StreamArn: this.#streamArn, ExclusiveStartShardId: after }),
      );
      shards.push(...(page.StreamDescription?.Shards ?? []));
      after = page.StreamDescription?.LastEvaluatedShardId;
    } while (after !== undefined);
    return shards;
  }

  async #run(): Promise<void> {
    while (this.#running) {
      const cycle = ++this.#cyclesBegun;
      let idle: boolean;
      let read: boolean;
      try {
        ({ idle, read } = await this.#cycle());
        this.#lastProblem = "";
      } catch (error) {
        const problem = (error as Error).message;
        // One line per distinct problem (DynamoDB Local restarting, a dropped table), not one per poll.
        if (problem !== this.#lastProblem) this.#log(this.mapping.functionId, `[stream] ${this.#name}: polling failed: ${problem}`);
        this.#lastProblem = problem;
        await this.#pauses.pause(1000);
        continue;
      }
      if (idle && this.#running) {
        const settled = this.#drains.filter((drain) => drain.after < cycle);
        this.#drains = this.#drains.filter((drain) => drain.after >= cycle);
        for (const drain of settled) drain.resolve();
      }
      // Keep reading while full batches flow; otherwise poll four times a second as Lambda does
      // (sooner when a waiting batch's window ends first): a batch waiting on its window gains
      // nothing from a tight loop of reads, which only loads DynamoDB Local.
      if (!read || this.#waitingOnWindow()) await this.#pauses.pause(this.#nextPollMs());
    }
  }

  /** A poll interval, or less when a buffered batch's window ends sooner (Lambda invokes when it ends, not at the next poll). */
  #nextPollMs(): number {
    let next = pollIntervalMs;
    for (const shard of this.#shards.values()) {
      if (shard.buffer.length > 0) next = Math.min(next, shard.firstBufferedAt + this.mapping.batchingWindowMs - Date.now());
    }
    return Math.max(next, 5);
  }

  #waitingOnWindow(): boolean {
    return [...this.#shards.values()].some((shard) => shard.buffer.length > 0);
  }

  /** One pass over every readable shard: idle when no shard had anything new or waiting; read when some shard gave records. */
  async #cycle(): Promise<{ idle: boolean; read: boolean }> {
    for (const shard of await this.#describeShards()) {
      if (shard.ShardId === undefined || this.#shards.has(shard.ShardId)) continue;
      this.#shards.set(shard.ShardId, {
        id: shard.ShardId,
        iterator: undefined,
        lastRead: undefined,
        start: "TRIM_HORIZON",
        buffer: [],
        firstBufferedAt: 0,
        ended: false,
      });
    }
    let idle = true;
    let read = false;
    // DynamoDB Local keeps one shard per stream, never closed or split (a restart keeps it too), so
    // there is no lineage to follow: each listed shard is read in turn. (On AWS shards roll over
    // about every four hours and a child waits for its parent; nothing here needs that.)
    for (const shard of this.#shards.values()) {
      if (!this.#running) break;
      if (shard.ended && shard.buffer.length === 0) continue;
      const polled = await this.#poll(shard);
      if (!polled.idle) idle = false;
      if (polled.read) read = true;
    }
    return { idle: idle && !this.#waitingOnWindow(), read };
  }

  /** Reads one page of a shard and delivers what is due: idle when the shard had nothing new, read when it gave records. */
  async #poll(shard: ShardState): Promise<{ idle: boolean; read: boolean }> {
    if (shard.iterator === undefined && !shard.ended) shard.iterator = await this.#iterator(shard);
    let fresh = 0;
    if (shard.iterator !== undefined && shard.buffer.length < this.mapping.batchSize) {
      this.stats.getRecordsRequests++;
      const page = await this.#clients.streams
        // A full page (1000, the API's most) whatever is buffered: filtered-out records take no room, and what
        // passes beyond one batch waits for the next.
        .send(new GetRecordsCommand({ ShardIterator: shard.iterator, Limit: 1000 }))
        .catch((error: unknown) => {
          // An iterator lives 15 minutes; a trimmed position restarts at the oldest record still kept.
          if (error instanceof ExpiredIteratorException) return undefined;
          if (error instanceof TrimmedDataAccessException) {
            shard.lastRead = undefined;
            shard.start = "TRIM_HORIZON";
            return undefined;
          }
          throw error;
        });
      if (page === undefined) {
        shard.iterator = undefined;
        return { idle: false, read: false };
      }
      for (const raw of page.Records ?? []) {
        const record = toStreamEventRecord(raw, this.#eventSourceArn);
        shard.lastRead = record.dynamodb.SequenceNumber;
        fresh++;
        if (!passesFilters(this.mapping.filters, record)) {
          this.stats.filteredOut++;
          continue;
        }
        if (shard.buffer.length === 0) shard.firstBufferedAt = Date.now();
        shard.buffer.push(record);
      }
      shard.iterator = page.NextShardIterator;
      if (page.NextShardIterator === undefined) shard.ended = true;
    }
    let delivered = false;
    // Full batches go at once; a smaller one when its window has passed or the shard has ended.
    while (
      this.#running &&
      (shard.buffer.length >= this.mapping.batchSize ||
        (shard.buffer.length > 0 && (shard.ended || Date.now() - shard.firstBufferedAt >= this.mapping.batchingWindowMs)))
    ) {
      const batch = shard.buffer.splice(0, this.mapping.batchSize);
      const readAt = shard.firstBufferedAt;
      const invokedAt = Date.now();
      delivered = true;
      this.stats.records += batch.length;
      if (!(await this.#process(shard.id, batch))) {
        const range = `${batch[0]?.dynamodb.SequenceNumber}..${batch.at(-1)?.dynamodb.SequenceNumber}`;
        this.#log(this.mapping.functionId, `[stream] ${this.#name}: stopped before batch ${shard.id} ${range} was done`);
        return { idle: false, read: fresh > 0 };
      }
      this.#saveCheckpoint(shard.id, batch.at(-1)?.dynamodb.SequenceNumber as string);
      this.onBatch?.({
        shardId: shard.id,
        keys: batch.map((record) => keyStrings(record.dynamodb.Keys)),
        readAt,
        invokedAt,
        doneAt: Date.now(),
      });
      if (shard.buffer.length > 0) shard.firstBufferedAt = Date.now();
    }
    // Everything read is done (delivered or filtered out): a restart need not read it again.
    if (shard.buffer.length === 0 && shard.lastRead !== undefined) this.#saveCheckpoint(shard.id, shard.lastRead);
    return { idle: fresh === 0 && shard.buffer.length === 0 && !delivered, read: fresh > 0 };
  }

  async #iterator(shard: ShardState): Promise<string | undefined> {
    const input =
      shard.lastRead !== undefined
        ? { ShardIteratorType: "AFTER_SEQUENCE_NUMBER" as const, SequenceNumber: shard.lastRead }
        : { ShardIteratorType: shard.start };
    const answer = await this.#clients.streams.send(
      new GetShardIteratorCommand({ StreamArn: this.#streamArn, ShardId: shard.id, ...input }),
    );
    return answer.ShardIterator;
  }

  /**
   * Delivers `records` until they are done, by the shared retry loop (esm-core.ts): retried from
   * the lowest failed sequence number, split in halves on a function error with
   * BisectBatchOnFunctionError, sent to the destination after MaximumRetryAttempts. Resolves true
   * once every record is done, false when the mapping stopped first.
   */
  async #process(shardId: string, records: StreamEventRecord[]): Promise<boolean> {
    const rangeOf = (batch: readonly StreamEventRecord[]) =>
      `${batch[0]?.dynamodb.SequenceNumber}..${batch.at(-1)?.dynamodb.SequenceNumber}`;
    const delivered = await deliverBatch(records, {
      maxRetryAttempts: this.mapping.maxRetryAttempts,
      bisectOnFunctionError: this.mapping.bisectBatchOnFunctionError,
      backoff: DEFAULT_RETRY_BACKOFF,
      pauses: this.#pauses,
      current: () => this.#running,
      attempt: async (pending) => {
        this.stats.batches++;
        // A LocalFunction never rejects; any other invoker's rejection counts as a failed invocation, not a lost batch.
        const result = await this.#fn
          .invoke({ Records: pending })
          .catch((error: Error): InvokeResult => ({ ok: false, error: { errorType: error.name, errorMessage: error.message } }));
        return batchOutcome(result, pending, this.mapping.reportBatchItemFailures);
      },
      failed: (pending, outcome, retries) => {
        if (outcome.kind === "failure") {
          this.stats.failedInvocations++;
          this.#log(
            this.mapping.functionId,
            `[stream] batch ${shardId} ${rangeOf(pending)} failed (attempt ${retries + 1}): ${outcome.reason}`,
          );
        } else {
          this.stats.partialFailures++;
          this.#log(
            this.mapping.functionId,
            `[stream] batch ${shardId} ${rangeOf(pending)}: the function reported failures from ${pending[outcome.index]?.dynamodb.SequenceNumber} on`,
          );
        }
      },
      exhausted: (batch) => this.#sendToDestination(shardId, batch),
    });
    return delivered.kind === "done";
  }

  async #sendToDestination(shardId: string, batch: ExhaustedBatch<StreamEventRecord>): Promise<boolean> {
    const { records } = batch;
    const first = records[0]?.dynamodb;
    const last = records.at(-1)?.dynamodb;
    if (this.mapping.onFailureQueue === undefined) {
      this.#log(
        this.mapping.functionId,
        `[stream] ${records.length} record(s) of ${shardId} (${first?.SequenceNumber}..${last?.SequenceNumber}) discarded after retries (no on-failure destination)`,
      );
      return true;
    }
    const arrival = (seconds: number | undefined) => new Date((seconds ?? 0) * 1000).toISOString().replace(/\.\d{3}Z$/, "Z");
    const message = onFailureMessage(this.mapping.functionId, batch, "DDBStreamBatchInfo", {
      shardId,
      startSequenceNumber: first?.SequenceNumber,
      endSequenceNumber: last?.SequenceNumber,
      approximateArrivalOfFirstRecord: arrival(first?.ApproximateCreationDateTime),
      approximateArrivalOfLastRecord: arrival(last?.ApproximateCreationDateTime),
      batchSize: records.length,
      streamArn: this.#eventSourceArn,
    });
    // The shard does not move on until the destination has the message, as on AWS.
    const sent = await sendToOnFailureQueue(this.#clients.sqs, this.mapping.onFailureQueue, message, {
      current: () => this.#running,
      pauses: this.#pauses,
      backoff: DEFAULT_RETRY_BACKOFF,
      log: (line) => this.#log(this.mapping.functionId, `[stream] ${line}`),
    });
    if (sent) this.stats.sentToDestination++;
    return sent;
  }
}
