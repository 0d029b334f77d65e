import { createHash } from "node:crypto";
import * as v from "valibot";
import { type SliceItem, sliceId } from "#shared/aggregates/slices";
import type { GlueAvroDecoder } from "#shared/avro/codec";
import { CodecError, RegistryUnavailableError } from "#shared/avro/errors";
import { InvariantError } from "#shared/errors/internal-errors";
import { centsOf } from "#shared/money/cents";
import { backoffDelay, sleep } from "#shared/retry/backoff";
import type { Sale } from "#shared/sales/schema";
import { type AggregationSettings, aggregate, planBatch, type SaleRecord } from "./aggregate.ts";
import type { DeadLetterMessage, ObjectRef } from "./dead-letters.ts";
import type { AggregateStore } from "./process-batch.ts";

/**
 * `npm run redrive`: re-applies the aggregate function's dead-lettered records, exactly once,
 * once their cause is fixed (a schema version registered, a bug fixed).
 *
 * A slice applies only records past its offset, and the partition has moved on since a record
 * was dead-lettered, so the aggregator would take a redriven record as a duplicate. The redrive
 * applies it outside that rule instead, in one TransactWriteItems: the record's slice updates
 * (each conditional on the version read, as the aggregator writes them, version bumped so the
 * rollups recompute), a marker `redriven#<topic-partition>#<offset>` put only if absent, and the
 * partition's redriven count. A record whose marker exists was applied before; its message is
 * deleted and counted "already applied". A message is deleted only after its transaction
 * committed.
 *
 * Window rule: a redriven record amends every window instance whose slice has not expired (TTL),
 * closed ones (past the allowed lateness) too, which the summary counts; it is never counted as
 * late. Windows whose slice expired are skipped (counted). The marker makes either way count
 * the record at most once.
 */

/** Why a dead-lettered record was not applied this run (besides the codec's own codes). */
export const RedriveReason = {
  emptyValue: "EMPTY_VALUE",
  outOfRange: "OUT_OF_RANGE",
  undecodable: "UNDECODABLE",
  refMissing: "VALUE_OBJECT_MISSING",
  refMismatch: "VALUE_OBJECT_MISMATCH",
  /** The partition's watermark is not past the record yet: the batch that dead-lettered it has not finished. */
  notSettled: "PARTITION_NOT_SETTLED",
  /** The record's slices kept changing under every attempt (the aggregator is busy on the partition). */
  conflicts: "SLICE_CONFLICTS",
} as const;

/** A queue message: an aggregate dead letter, or something else that must stay in the queue. */
export type QueueMessage =
  | { readonly kind: "record"; readonly letter: DeadLetterMessage }
  | { readonly kind: "other"; readonly what: string; readonly hint: string };

const ObjectRefShape = v.object({ bucket: v.string(), key: v.string(), bytes: v.number(), sha256: v.string() });
const LetterShape = v.object({
  topic: v.pipe(v.string(), v.minLength(1)),
  partition: v.pipe(v.number(), v.integer(), v.minValue(0)),
  offset: v.pipe(v.number(), v.integer(), v.minValue(0)),
  timestamp: v.number(),
  key: v.optional(v.string()),
  value: v.optional(v.string()),
  keyRef: v.optional(ObjectRefShape),
  valueRef: v.optional(ObjectRefShape),
  reason: v.object({ code: v.string(), message: v.string() }),
  source: v.string(),
});

/** What a message body is; never throws (an unreadable body is "other" with a hint). */
export function parseQueueMessage(body: string | undefined): QueueMessage {
  let json: unknown;
  try {
    json = JSON.parse(body ?? "");
  } catch {
    return { kind: "other", what: "not JSON", hint: "not a dead letter of this product: inspect it and delete it by hand" };
  }
  if (typeof json === "object" && json !== null) {
    if ("DDBStreamBatchInfo" in json)
      return {
        kind: "other",
        what: "rollup stream batch",
        hint: "not a record: the rollup function gave up on a table stream batch; run npm run rollups -- --table <table> --partitions <n>, then delete the message",
      };
    if ("KafkaBatchInfo" in json)
      return {
        kind: "other",
        what: "skipped Kafka batch",
        hint: "not a record: the aggregate mapping skipped a batch (offsets in KafkaBatchInfo); see docs/operations.md, The dead-letter queue",
      };
  }
  const parsed = v.safeParse(LetterShape, json);
  if (!parsed.success)
    return { kind: "other", what: "unknown message", hint: "not an aggregate dead letter: inspect it and delete it by hand" };
  const letter = parsed.output;
  if (letter.source !== "aggregate")
    return {
      kind: "other",
      what: `${letter.source} dead letter`,
      hint: `not the aggregate function's: redrive does not apply ${letter.source} records`,
    };
  if (letter.value === undefined && letter.valueRef === undefined)
    return { kind: "other", what: "unknown message", hint: "a dead letter with neither value nor valueRef: inspect it by hand" };
  return { kind: "record", letter: letter as DeadLetterMessage };
}

/** The slice writes of one redriven record, and what they amount to. */
export interface RedrivePlan {
  /** Slices to write (version still the one read): the record folded in, offsets never moved back. */
  readonly items: readonly SliceItem[];
  /** Window instances amended although closed (their end + allowed lateness is behind the partition's watermark). */
  readonly closedWindows: number;
  /** Window instances skipped because their slice's TTL passed. */
  readonly expiredWindows: number;
  /** (record, window) pairs counted under OTHER_COUNTRIES because the slice was full of countries. */
  readonly folded: number;
}

/**
 * Folds one redriven record into its stored slices with the aggregator's own code (windows,
 * dimensions, regions, country folding, exact cents): `aggregate` with every stored offset set
 * aside and no watermark, so the record counts even though the slices are past its offset, and
 * never as late. Each written slice keeps the larger of its offset and the record's, so a
 * redelivery of the record's batch cannot apply it again. Pure. Throws as `aggregate` does
 * (a sum past the exact range).
 */
export function planRedrive(
  record: SaleRecord,
  stored: ReadonlyMap<string, SliceItem>,
  watermarkEventTime: number,
  settings: AggregationSettings,
  nowMs: number,
): RedrivePlan {
  const plan = planBatch([record], settings);
  const setAside = new Map([...stored].map(([id, item]) => [id, { ...item, offset: -1 }]));
  const result = aggregate(plan, setAside, new Map(), { ...settings, now: () => nowMs });
  const nowSeconds = nowMs / 1000;
  const items: SliceItem[] = [];
  let expiredWindows = 0;
  let closedWindows = 0;
  let folded = 0;
  for (const item of result.items) {
    const id = sliceId(item.window, item.start, item.topicPartition);
    // Slices expire WindowTtl after their last write, and a window written until its end lives at
    // least that long past it. Past that, a window whose slice is gone (or expired) has lost its
    // figures: a slice holding only this record would be a partial window, so it is skipped.
    const kept = stored.get(id);
    const gone = kept === undefined || (kept.expiresAt !== undefined && kept.expiresAt <= nowSeconds);
    const ttl = settings.ttlSeconds.get(item.window);
    if (gone && ttl !== undefined && item.end / 1000 + ttl <= nowSeconds) {
      expiredWindows++;
      continue;
    }
    if (item.end + settings.allowedLatenessMs <= watermarkEventTime) closedWindows++;
    folded += result.folded.get(id) ?? 0;
    items.push({ ...item, offset: Math.max(stored.get(id)?.offset ?? -1, record.offset) });
  }
  return { items, closedWindows, expiredWindows, folded };
}

/** What a run did. Counts only, never record bodies or customer ids. */
export interface RedriveSummary {
  /** Distinct messages received. */
  messages: number;
  applied: number;
  alreadyApplied: number;
  /** Records left in the queue, by reason code. */
  readonly stillFailing: Record<string, number>;
  /** Messages that are not aggregate dead letters, left in the queue, by kind; `hints` says what to do with each kind. */
  readonly skipped: Record<string, number>;
  readonly hints: Record<string, string>;
  closedWindowsAmended: number;
  expiredWindowsSkipped: number;
  foldedCountries: number;
}

export const emptySummary = (): RedriveSummary => ({
  messages: 0,
  applied: 0,
  alreadyApplied: 0,
  stillFailing: {},
  skipped: {},
  hints: {},
  closedWindowsAmended: 0,
  expiredWindowsSkipped: 0,
  foldedCountries: 0,
});

const total = (counts: Record<string, number>) => Object.values(counts).reduce((sum, n) => sum + n, 0);
const listed = (counts: Record<string, number>) =>
  Object.entries(counts)
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([code, n]) => `${code} ${n}`)
    .join(", ");

/** One progress line: counts so far. */
export function progressLine(summary: RedriveSummary): string {
  return `${summary.messages} messages: ${summary.applied} applied, ${summary.alreadyApplied} already applied, ${total(summary.stillFailing)} still failing, ${total(summary.skipped)} not records`;
}

/** The closing report, line by line; says plainly when nothing was applied. */
export function describeSummary(summary: RedriveSummary): string[] {
  const lines: string[] = [];
  if (summary.messages === 0) lines.push("The dead-letter queue is empty: nothing to redrive.");
  else if (summary.applied === 0) lines.push(`Nothing applied (${summary.messages} messages looked at).`);
  lines.push(
    `applied: ${summary.applied}` +
      (summary.applied > 0
        ? ` (closed windows amended: ${summary.closedWindowsAmended}, expired windows skipped: ${summary.expiredWindowsSkipped}, countries folded: ${summary.foldedCountries})`
        : ""),
  );
  lines.push(`already applied (deleted): ${summary.alreadyApplied}`);
  const failing = total(summary.stillFailing);
  lines.push(`still failing (left in the queue): ${failing}${failing > 0 ? ` - ${listed(summary.stillFailing)}` : ""}`);
  const skipped = total(summary.skipped);
  lines.push(`not records (left in the queue): ${skipped}`);
  for (const [what, n] of Object.entries(summary.skipped)) lines.push(`  ${n} ${what}: ${summary.hints[what] ?? ""}`);
  lines.push(
    "Each record is applied at most once (marker redriven#<topic-partition>#<offset>, written with its slices); it amends every window whose slice has not expired, closed windows too, and is never counted late.",
  );
  return lines;
}

/** A message as the queue hands it out: its id, body and the receipt handle of this receive. */
export interface ReceivedMessage {
  readonly id: string | undefined;
  readonly body: string | undefined;
  readonly receipt: string | undefined;
}

/** The dead-letter queue as the redrive uses it (SQS in `npm run redrive`). Every method throws when the queue cannot be reached. */
export interface RedriveQueue {
  /** Up to 10 messages, hidden from other consumers while the run works; none when the queue has no visible message. */
  receive(): Promise<readonly ReceivedMessage[]>;
  /** Deletes messages whose record was applied; throws when the queue refuses any. */
  remove(messages: readonly ReceivedMessage[]): Promise<void>;
  /** Makes kept messages visible again at once (failures are left to the visibility timeout). */
  release(messages: readonly ReceivedMessage[]): Promise<void>;
}

/** Reads an offloaded key or value; undefined when the object is gone. Throws when the object store cannot be reached. */
export type ObjectReader = (ref: ObjectRef) => Promise<Uint8Array | undefined>;

/** What the redrive needs of the aggregates table (functions/aggregate/dynamodb-store.ts). Every method throws on DynamoDB errors. */
export interface RedriveStore extends Pick<AggregateStore, "readSlices" | "readWatermarks"> {
  /** Whether the record's marker exists (read strongly consistent): it was redriven before. */
  isRedriven(topicPartition: string, offset: number): Promise<boolean>;
  /**
   * Writes the record's slices (each conditional on the version read), its marker (only if absent)
   * and the partition's redriven count in one transaction; "cancelled" when a condition failed
   * or the transaction conflicted (read again and plan again).
   */
  applyRedrive(
    slices: readonly SliceItem[],
    record: { readonly topicPartition: string; readonly offset: number; readonly reason: string; readonly at: number },
  ): Promise<"applied" | "cancelled">;
}

export interface RedrivePorts {
  readonly queue: RedriveQueue;
  readonly objects: ObjectReader;
  readonly store: RedriveStore;
  readonly decoder: Pick<GlueAvroDecoder<Sale>, "load" | "decode">;
  readonly settings: AggregationSettings;
  readonly now?: () => number;
  /** Called after each batch of messages with the counts so far. */
  readonly onProgress?: (summary: RedriveSummary) => void;
  /** Transaction attempts per record when its slices keep changing (default 10). */
  readonly maxAttempts?: number;
}

type Outcome = { readonly delete: boolean };

/**
 * Reads the whole queue once and redrives every aggregate dead letter (see the file comment).
 * Messages it leaves (records still failing, messages that are not records) are made visible
 * again before it returns or throws. Throws on table, queue or object store failures and on
 * errors that are bugs rather than bad data (never deleting a message it did not apply); a
 * registry outage counts the batch's records as still failing (SCHEMA_REGISTRY_UNAVAILABLE).
 */
export async function runRedrive(ports: RedrivePorts): Promise<RedriveSummary> {
  const summary = emptySummary();
  // Messages received and not deleted, by id, with their latest receipt handle: whatever happens,
  // they are shown again at the end.
  const held = new Map<string, ReceivedMessage>();
  const seen = new Set<string>();
  try {
    for (;;) {
      const messages = await ports.queue.receive();
      // Every message is received and hidden at least once: an empty answer means none is left to look at.
      if (messages.length === 0) break;
      // One kept earlier comes back when its visibility times out (a long run): hidden again by
      // this receive, it is not looked at twice; its new handle is the one to release.
      for (const m of messages) if (held.has(m.id as string)) held.set(m.id as string, m);
      const fresh = messages.filter((m) => m.id !== undefined && !seen.has(m.id));
      for (const m of fresh) {
        seen.add(m.id as string);
        held.set(m.id as string, m);
      }
      if (fresh.length === 0) continue;
      summary.messages += fresh.length;
      const outcomes = await redriveBatch(fresh, ports, summary);
      const done = fresh.filter((_, i) => outcomes[i]?.delete === true);
      for (let i = 0; i < done.length; i += 10) await ports.queue.remove(done.slice(i, i + 10));
      for (const m of done) held.delete(m.id as string);
      ports.onProgress?.(summary);
    }
  } finally {
    const kept = [...held.values()];
    for (let i = 0; i < kept.length; i += 10) await ports.queue.release(kept.slice(i, i + 10));
  }
  return summary;
}

async function redriveBatch(messages: readonly ReceivedMessage[], ports: RedrivePorts, summary: RedriveSummary): Promise<Outcome[]> {
  const fail = (code: string): Outcome => {
    summary.stillFailing[code] = (summary.stillFailing[code] ?? 0) + 1;
    return { delete: false };
  };
  const parsed = messages.map((m) => parseQueueMessage(m.body));
  const frames = await Promise.all(
    parsed.map(async (message) => (message.kind === "record" ? valueBytes(ports.objects, message.letter) : undefined)),
  );
  let registryDown: RegistryUnavailableError | undefined;
  try {
    await ports.decoder.load(frames.filter((f): f is Buffer => Buffer.isBuffer(f)));
  } catch (error) {
    if (!(error instanceof RegistryUnavailableError)) throw error;
    registryDown = error;
  }
  const outcomes: Outcome[] = [];
  for (const [i, message] of parsed.entries()) {
    if (message.kind === "other") {
      summary.skipped[message.what] = (summary.skipped[message.what] ?? 0) + 1;
      summary.hints[message.what] = message.hint;
      outcomes.push({ delete: false });
      continue;
    }
    const frame = frames[i];
    if (!Buffer.isBuffer(frame)) {
      outcomes.push(fail(frame ?? RedriveReason.undecodable));
      continue;
    }
    if (registryDown !== undefined) {
      outcomes.push(fail(registryDown.code));
      continue;
    }
    const decoded = decodeSale(ports.decoder, frame);
    if (typeof decoded === "string") {
      outcomes.push(fail(decoded));
      continue;
    }
    const { letter } = message;
    const record: SaleRecord = { topicPartition: `${letter.topic}-${letter.partition}`, offset: letter.offset, sale: decoded };
    const result = await applyRecord(record, letter.reason.code, ports);
    if (result.kind === "failing") outcomes.push(fail(result.code));
    else {
      if (result.kind === "already") summary.alreadyApplied++;
      else {
        summary.applied++;
        summary.closedWindowsAmended += result.plan.closedWindows;
        summary.expiredWindowsSkipped += result.plan.expiredWindows;
        summary.foldedCountries += result.plan.folded;
      }
      outcomes.push({ delete: true });
    }
  }
  return outcomes;
}

/** The record's value bytes (inline, or from the object store checked against size and sha256), or the reason code it has none. */
async function valueBytes(objects: ObjectReader, letter: DeadLetterMessage): Promise<Buffer | string> {
  if (letter.valueRef === undefined) {
    const value = Buffer.from(letter.value ?? "", "base64");
    return value.length === 0 ? RedriveReason.emptyValue : value;
  }
  const ref = letter.valueRef;
  const found = await objects(ref);
  if (found === undefined) return RedriveReason.refMissing;
  const bytes = Buffer.from(found);
  if (bytes.length !== ref.bytes || createHash("sha256").update(bytes).digest("hex") !== ref.sha256) return RedriveReason.refMismatch;
  return bytes;
}

/** A sale, or the reason code it is still poison: the codec's, or the checks the aggregator makes before folding. */
function decodeSale(decoder: Pick<GlueAvroDecoder<Sale>, "decode">, frame: Buffer): Sale | string {
  let sale: Sale;
  try {
    sale = decoder.decode(frame);
  } catch (error) {
    if (error instanceof CodecError) return error.code;
    throw error;
  }
  // The same checks processBatch makes: a date a window can hold, an amount that adds exactly.
  if (!(Math.abs(sale.payment_date) <= 8.64e15)) return RedriveReason.outOfRange;
  try {
    centsOf(sale.amount);
  } catch {
    return RedriveReason.undecodable;
  }
  return sale;
}

type Applied =
  | { readonly kind: "applied"; readonly plan: RedrivePlan }
  | { readonly kind: "already" }
  | { readonly kind: "failing"; readonly code: string };

/** DynamoDB's limit on the items of one transaction. */
const MAX_TRANSACTION_ITEMS = 100;

/**
 * Applies one record in one transaction (slices + marker + count), re-reading and planning again
 * when a concurrent write cancels it. Throws on table errors other than a cancellation.
 */
async function applyRecord(record: SaleRecord, reason: string, ports: RedrivePorts): Promise<Applied> {
  const now = ports.now ?? Date.now;
  const slices = planBatch([record], ports.settings).slices;
  const maxAttempts = ports.maxAttempts ?? 10;
  for (let attempt = 1; attempt <= maxAttempts; attempt++) {
    if (attempt > 1) await sleep(backoffDelay(attempt - 1, { baseMs: 50, capMs: 2_000 }));
    const [redriven, watermarks, stored] = await Promise.all([
      ports.store.isRedriven(record.topicPartition, record.offset),
      ports.store.readWatermarks([record.topicPartition]),
      ports.store.readSlices(slices),
    ]);
    if (redriven) return { kind: "already" };
    const watermark = watermarks.get(record.topicPartition);
    // Until the watermark covers the record, the batch that dead-lettered it may still be writing
    // slices with records below it; moving a slice's offset past them then would lose them.
    if (watermark === undefined || watermark.offset < record.offset) return { kind: "failing", code: RedriveReason.notSettled };
    const plan = planRedrive(record, stored, watermark.eventTime, ports.settings, now());
    if (plan.items.length + 2 > MAX_TRANSACTION_ITEMS)
      throw new InvariantError(`a record touches ${plan.items.length} slices; one transaction holds at most ${MAX_TRANSACTION_ITEMS - 2}`);
    // A slice written since it was read, the marker written by a concurrent run, or a
    // transaction conflict: read again; the marker read decides "already applied".
    const outcome = await ports.store.applyRedrive(plan.items, {
      topicPartition: record.topicPartition,
      offset: record.offset,
      reason,
      at: now(),
    });
    if (outcome === "applied") return { kind: "applied", plan };
  }
  return { kind: "failing", code: RedriveReason.conflicts };
}
