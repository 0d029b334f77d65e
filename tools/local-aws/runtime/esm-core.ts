import { setTimeout as sleep } from "node:timers/promises";
import { SendMessageCommand, type SQSClient } from "@aws-sdk/client-sqs";
import { exponentialDelay } from "../product.ts";
import { localQueueUrl } from "../stack/clients.ts";
import { localArn } from "../stack/settings.ts";
import type { InvokeResult } from "./lambda.ts";

/**
 * What Lambda's event source mappings for Kafka and for DynamoDB streams have in common, emulated
 * once: reading the event's batching, retry and on-failure settings from the template, the retry
 * loop (capped backoff, BisectBatchOnFunctionError, partial-batch resumption), and the on-failure
 * destination's message. Each mapping keeps what is its own: how it reads its source, its event
 * shape, how it reads a function's answer, and what "retry forever" means for it.
 */

/** How a function is invoked: a LocalFunction, or a test's wrapper around one. */
export interface Invokable {
  invoke(event: unknown): Promise<InvokeResult>;
}

// ---- The template's settings --------------------------------------------------------------------

/** Lambda's range for MaximumRetryAttempts on both mappings: -1 (infinite) to 10000. */
const MAX_RETRY_ATTEMPTS = 10_000;

/**
 * MaximumRetryAttempts of an event's Properties as Lambda reads it: -1 (absent, or -1) means no
 * limit; a numeric string is accepted (CloudFormation passes them). Throws naming `where` when it
 * is not an integer of -1 to 10000.
 */
export function retryLimitOf(properties: Readonly<Record<string, unknown>>, where: string): number {
  const raw = properties.MaximumRetryAttempts;
  const limit = raw === undefined ? -1 : typeof raw === "string" && /^-?\d+$/.test(raw.trim()) ? Number(raw) : raw;
  if (typeof limit !== "number" || !Number.isInteger(limit) || limit < -1 || limit > MAX_RETRY_ATTEMPTS) {
    throw new Error(`${where}.MaximumRetryAttempts must be an integer of -1 (infinite) to 10000, got ${JSON.stringify(raw)}`);
  }
  return limit;
}

/**
 * The SQS queue name of an event's `DestinationConfig.OnFailure.Destination` (a queue ARN), or
 * undefined when there is none. Never throws.
 */
export function onFailureQueueOf(properties: Readonly<Record<string, unknown>>): string | undefined {
  const destination = (properties.DestinationConfig as { OnFailure?: { Destination?: unknown } } | undefined)?.OnFailure?.Destination;
  return destination === undefined ? undefined : String(destination).split(":").pop();
}

/** BatchSize (default 100) and MaximumBatchingWindowInSeconds (each mapping's own default) in ms. Never throws. */
export function batchingOf(
  properties: Readonly<Record<string, unknown>>,
  defaultWindowSeconds: number,
): { batchSize: number; batchingWindowMs: number } {
  return {
    batchSize: Number(properties.BatchSize ?? 100),
    batchingWindowMs: Math.round(Number(properties.MaximumBatchingWindowInSeconds ?? defaultWindowSeconds) * 1000),
  };
}

// ---- Waiting ------------------------------------------------------------------------------------

/** How long a mapping waits between retries of a failing batch: doubling from baseMs, at most capMs. */
export interface RetryBackoff {
  readonly baseMs: number;
  readonly capMs: number;
}

/**
 * The emulator's default: 200 ms doubling to 5 s. Lambda documents no figure; its retry delay grows
 * without jitter (one poller per partition or shard: nothing to spread).
 */
export const DEFAULT_RETRY_BACKOFF: RetryBackoff = { baseMs: 200, capMs: 5000 };

/** Pauses that all end at once when the mapping stops, so stop() never waits out a retry delay. */
export class Pauses {
  readonly #wake = new AbortController();

  /** Waits `ms`, or less once wake() was called. Never rejects. */
  pause(ms: number): Promise<void> {
    // node's timer removes its abort listener when it fires: a batch retrying for hours adds none.
    return this.#wake.signal.aborted ? Promise.resolve() : sleep(ms, undefined, { signal: this.#wake.signal }).catch(() => undefined);
  }

  /** Ends every pause, now and later. */
  wake(): void {
    this.#wake.abort();
  }
}

// ---- The retry loop -----------------------------------------------------------------------------

/** What one invocation with a batch means for the mapping, as the mapping reads the function's answer. */
export type BatchOutcome =
  | { readonly kind: "success" }
  /** Records from `index` on are retried; those before it are done. */
  | { readonly kind: "partial"; readonly index: number }
  /** `functionError`: the function failed (not merely answered badly): only then is a batch bisected. */
  | { readonly kind: "failure"; readonly reason: string; readonly functionError: boolean };

/** A batch whose retries are used up, as handed to the on-failure destination. */
export interface ExhaustedBatch<R> {
  readonly records: readonly R[];
  /** Invocations that included these records (Lambda's approximateInvokeCount). */
  readonly invocations: number;
  /** The last attempt failed with a function error (not an unreadable answer). */
  readonly functionError: boolean;
  /** The last failure's type and message (never a record body). */
  readonly reason: string;
}

export interface RetryLoop<R> {
  /** Retries after the first attempt; Infinity retries until the batch succeeds. */
  readonly maxRetryAttempts: number;
  readonly bisectOnFunctionError: boolean;
  readonly backoff: RetryBackoff;
  readonly pauses: Pauses;
  /** False once the batch is to be abandoned uncommitted (the mapping stops, the partition moved). */
  current(): boolean;
  /** Invokes the function with `records` and reads its answer. Must not reject. */
  attempt(records: readonly R[]): Promise<BatchOutcome>;
  /** Told of every failed or partial attempt (`retries`: retries spent before it); for logs, stats, heartbeats. */
  failed(records: readonly R[], outcome: Exclude<BatchOutcome, { kind: "success" }>, retries: number): Promise<void> | void;
  /**
   * Hands records whose retries are used up to the destination (or drops them). Resolves true when
   * they are done, false when the mapping stopped before the destination took them.
   */
  exhausted(batch: ExhaustedBatch<R>): Promise<boolean>;
}

/**
 * Delivers `records` as Lambda's mappings do: on a partial answer the rest is retried; on a
 * function error the batch is retried whole, or split in halves first with bisectOnFunctionError
 * (a split spends no retry: each half carries the count so far); between retries the mapping
 * waits `backoff`; once maxRetryAttempts retries have failed the remainder goes to `exhausted`.
 * Resolves "done" when every record succeeded or went to `exhausted`, "abandoned" when current()
 * turned false (or `exhausted` resolved false) before that, with the retries spent. Rejects only
 * if a callback does.
 */
export async function deliverBatch<R>(
  records: readonly R[],
  loop: RetryLoop<R>,
  spent: { retries: number; invocations: number } = { retries: 0, invocations: 0 },
): Promise<{ kind: "done" } | { kind: "abandoned"; retries: number }> {
  let pending = records;
  let { retries, invocations } = spent;
  while (pending.length > 0) {
    if (!loop.current()) return { kind: "abandoned", retries };
    invocations++;
    const outcome = await loop.attempt(pending);
    if (outcome.kind === "success") return { kind: "done" };
    await loop.failed(pending, outcome, retries);
    if (outcome.kind === "partial") pending = pending.slice(outcome.index);
    else if (outcome.functionError && loop.bisectOnFunctionError && pending.length > 1) {
      const half = Math.ceil(pending.length / 2);
      const first = await deliverBatch(pending.slice(0, half), loop, { retries, invocations });
      if (first.kind === "abandoned") return first;
      return deliverBatch(pending.slice(half), loop, { retries, invocations });
    }
    if (retries >= loop.maxRetryAttempts) {
      const functionError = outcome.kind === "failure" && outcome.functionError;
      const reason = outcome.kind === "failure" ? outcome.reason : "the function reported batch item failures";
      const handed = await loop.exhausted({ records: pending, invocations, functionError, reason });
      return handed ? { kind: "done" } : { kind: "abandoned", retries };
    }
    retries++;
    await loop.pauses.pause(exponentialDelay(retries, loop.backoff));
  }
  return { kind: "done" };
}

// ---- The on-failure destination -----------------------------------------------------------------

/**
 * The message Lambda sends an on-failure destination for a batch whose retries are used up: the
 * shared envelope (requestContext, responseContext, version, timestamp) and the mapping's own batch
 * info under `infoKey` (KafkaBatchInfo, DDBStreamBatchInfo). Never throws.
 */
export function onFailureMessage(
  functionId: string,
  batch: Pick<ExhaustedBatch<unknown>, "invocations" | "functionError">,
  infoKey: string,
  info: object,
): Record<string, unknown> {
  return {
    requestContext: {
      requestId: crypto.randomUUID(),
      functionArn: localArn("lambda", `function:${functionId}`),
      condition: "RetryAttemptsExhausted",
      approximateInvokeCount: batch.invocations,
    },
    responseContext: { statusCode: 200, executedVersion: "$LATEST", ...(batch.functionError && { functionError: "Unhandled" }) },
    version: "1.0",
    timestamp: new Date().toISOString(),
    [infoKey]: info,
  };
}

/**
 * Sends `message` to the local SQS queue `queue`, retrying with backoff until it is taken, as the
 * source does not move on before the destination has the message. Resolves true once sent, false
 * when current() turned false first (the batch is then abandoned uncommitted).
 */
export async function sendToOnFailureQueue(
  sqs: SQSClient,
  queue: string,
  message: object,
  { current, pauses, backoff, log }: { current(): boolean; pauses: Pauses; backoff: RetryBackoff; log(line: string): void },
): Promise<boolean> {
  for (let attempt = 1; ; attempt++) {
    try {
      await sqs.send(new SendMessageCommand({ QueueUrl: localQueueUrl(queue), MessageBody: JSON.stringify(message) }));
      return true;
    } catch (error) {
      if (!current()) return false;
      log(`on-failure destination ${queue} refused (attempt ${attempt}): ${(error as Error).message}`);
      await pauses.pause(exponentialDelay(attempt, backoff));
    }
  }
}
