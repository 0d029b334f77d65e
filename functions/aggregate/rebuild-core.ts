import { addPartial, type Metrics } from "#shared/aggregates/metrics";
import { type Revision, type SliceItem, sliceId } from "#shared/aggregates/slices";
import { AppError } from "#shared/errors/app-error";
import { formatCents } from "#shared/money/cents";
import { sleep } from "#shared/retry/backoff";
import { type WindowSpec, windowStarts } from "#shared/windows/windows";
import { type AggregationSettings, aggregate, type SaleRecord } from "./aggregate.ts";
import { groupRecord, groupsSql, type LakeRead, type LakeTables, lakeCountsSql } from "./rebuild-sql.ts";

/**
 * The rebuild: every window instance of an event-time range recomputed from the lake, by the
 * aggregation core, and swapped in for the stored slices one window instance at a time.
 *
 * - The lake engine (Athena, or Trino locally) reads the deduplicated lake, computes each sale's
 *   watermark at arrival and adds up the sales every window treats alike (./rebuild-sql.ts); the
 *   core's `aggregate` folds those groups into slices: window assignment, lateness and exact sums
 *   are the live path's own code.
 * - Exactly once with the live path: the rebuild reads each partition up to the offset the live
 *   path had applied when it began (its watermark item). A rebuilt slice records that offset, as a live slice records the last one it applied, so
 *   live batches apply on top of it and skip what it counted. A window instance whose stored slice
 *   has already applied a later offset (live sales arrived in it meanwhile), or for which the lake
 *   holds fewer sales than the live path counted (Firehose has not delivered them yet), is not
 *   swapped; it is tried again in a later round.
 * - A reader sees all old or all new figures of a window instance: its slices are replaced in one
 *   transaction, conditioned on the versions read, and readers take them as one snapshot.
 */

/** Runs SQL on the lake's database; every value of a row as the engine gives it (numbers or text), null as null. */
export interface LakeEngine {
  rows(sql: string): Promise<readonly (readonly unknown[])[]>;
}

/** What the rebuild needs of the aggregates table (./rebuild.ts on DynamoDB). */
export interface RebuildStore {
  /** Each partition's progress on the live path (its watermark item): the last offset applied, and its dead letters so far. */
  progress(topicPartitions: readonly string[]): Promise<ReadonlyMap<string, { offset: number; eventTime: number }>>;
  /** Starts of the window spec's instances in [fromStart, toStart] that have a stored slice of any of these partitions (eventually consistent). */
  starts(window: string, topicPartitions: readonly string[], fromStart: number, toStart: number): Promise<ReadonlySet<number>>;
  /** Every partition's slice of a window instance, read as one snapshot; absent slices are left out. */
  instance(window: string, start: number, topicPartitions: readonly string[]): Promise<SliceItem[]>;
  /**
   * Puts these slices in one transaction, each on condition that its stored version is still the
   * one read (`version`; 0: none stored): "conflict" when one changed. Throws on other failures.
   */
  replace(slices: readonly SliceItem[]): Promise<"replaced" | "conflict">;
}

export interface RebuildRequest {
  /** Event-time range, epoch ms [from, to): every window instance that overlaps it is rebuilt whole. */
  readonly from: number;
  readonly to: number;
  /** Fold late sales in (a restatement) instead of the live rule. */
  readonly restate: boolean;
  /** The window specs to rebuild (the all-time window reads the whole lake). */
  readonly windows: readonly WindowSpec[];
  /** What the API shows as the revision's reason. */
  readonly reason: string;
}

export interface RebuildPorts {
  readonly lake: LakeEngine;
  readonly tables: LakeTables;
  readonly store: RebuildStore;
  /** Lateness, TTLs and the country bound: the aggregate function's own (its `windows` are ignored: the request's count). */
  readonly settings: AggregationSettings;
  readonly topic: string;
  readonly partitions: number;
  /** Offsets per block of the watermark's prefix max (default 1,000,000). */
  readonly blockSize?: number;
  /** How long deferred window instances are tried again (default 15 min: past Firehose's longest buffer interval). */
  readonly lakeWaitMs?: number;
  /**
   * The lake's first date (epoch ms of a UTC midnight; undefined when it holds no rows), found
   * without listing every date partition projection spans (./rebuild.ts: firstLakeDate). The
   * all-time window's read starts there; without it, it names every date since 1970, each one an
   * S3 listing for the engine (measured in docs/rebuild.md).
   */
  readonly firstLakeDate?: () => Promise<number | undefined>;
  /** Pause between looks at the lake (default 15 s). */
  readonly pollMs?: number;
  readonly now?: () => number;
  readonly wait?: (ms: number) => Promise<void>;
  readonly onProgress?: (progress: RebuildProgress) => void;
}

/**
 * Why a window instance was not swapped this round:
 * - `live`: one of its stored slices applied an offset past the cut (live sales arrived in it
 *   after the rebuild read the cuts), so its figures hold sales the rebuild did not read;
 * - `lake`: the lake holds fewer of a partition's sales in it than the live path counted (Firehose
 *   has not delivered them yet);
 * - `conflict`: live writes changed its slices between the rebuild's read and its transaction, five times.
 */
export type DeferReason = "live" | "lake" | "conflict";

export interface RebuildProgress {
  readonly window: string;
  readonly round: number;
  readonly instances: number;
  readonly done: number;
  readonly rebuilt: number;
  readonly unchanged: number;
  readonly deferred: number;
  /** The deferred instances by reason. */
  readonly deferredBy: Readonly<Record<DeferReason, number>>;
  readonly groups: number;
}

/** A figure the rebuild changed: one value of one window instance, before and after (every partition added). */
export interface ChangedFigure {
  readonly window: string;
  readonly start: number;
  /** "country#France", "region#Europe", "all#all". */
  readonly value: string;
  readonly before: Metrics | undefined;
  readonly after: Metrics | undefined;
}

export interface RebuildSummary {
  /** Window instances whose slices were replaced. */
  readonly rebuilt: number;
  /** Window instances whose figures the lake confirmed as stored: left alone. */
  readonly unchanged: number;
  /** Window instances not swapped when the wait ran out, with the reason of their last round. */
  readonly deferred: readonly { readonly window: string; readonly start: number; readonly reason: DeferReason }[];
  /** Sales in the range, each once (the view). */
  readonly salesRead: number;
  /** Rows of the range delivered more than once (a retried Firehose delivery), dropped by the view. */
  readonly duplicatesDropped: number;
  /** Groups of sales the engine answered, over every window spec read. */
  readonly groups: number;
  readonly changes: readonly ChangedFigure[];
  /** Per partition, the offset the rebuild covered up to. */
  readonly cuts: ReadonlyMap<string, number>;
  readonly rounds: number;
}

/** The rebuild's refusal of a request it cannot meet. */
export class RebuildError extends AppError {
  constructor(message: string, code: "TOO_MANY_PARTITIONS") {
    super(message, { code });
  }
}

/** Window instances swapped concurrently. */
const SWAPS_AT_ONCE = 16;

/** Most slices one TransactWriteItems replaces (DynamoDB's limit of 100 items per transaction). */
export const MAX_PARTITIONS = 100;

const iso = (ms: number) => new Date(ms).toISOString();
const sameMetrics = (a: Metrics | undefined, b: Metrics | undefined) =>
  a === b ||
  (a !== undefined &&
    b !== undefined &&
    a.orders === b.orders &&
    a.sales === b.sales &&
    a.min === b.min &&
    a.max === b.max &&
    a.late === b.late);

/** Starts of the spec's windows that overlap [from, to), first and last. */
function instancesOf(spec: WindowSpec, from: number, to: number): { first: number; last: number } {
  if (spec.unbounded) return { first: 0, last: 0 };
  const first = windowStarts(spec, from)[0] as number;
  const last = windowStarts(spec, to - 1).at(-1) as number;
  return { first, last };
}

/**
 * Rebuilds every window instance of the request's specs that overlaps [from, to). Resolves the
 * summary (instances rebuilt, unchanged and still deferred, sales read, duplicates dropped, figures
 * changed). An instance the lake cannot replace yet (live sales applied past the cut, or fewer
 * sales in the lake than the live path counted: Firehose has not delivered them) is tried again
 * each `pollMs` until `lakeWaitMs` has passed, then reported as deferred. Throws RebuildError
 * (TOO_MANY_PARTITIONS) past 100 partitions; the engine's and the store's errors otherwise. A rerun is safe: it replaces nothing the lake confirms.
 */
export async function runRebuild(request: RebuildRequest, ports: RebuildPorts): Promise<RebuildSummary> {
  if (ports.partitions > MAX_PARTITIONS)
    throw new RebuildError(
      `a window instance's ${ports.partitions} slices do not fit one transaction (at most ${MAX_PARTITIONS})`,
      "TOO_MANY_PARTITIONS",
    );
  const now = ports.now ?? Date.now;
  const wait = ports.wait ?? sleep;
  const lakeWaitMs = ports.lakeWaitMs ?? 900_000;
  const pollMs = ports.pollMs ?? 15_000;
  const topicPartitions = Array.from({ length: ports.partitions }, (_, p) => `${ports.topic}-${p}`);
  const revision: Revision = { at: now(), reason: request.reason };
  const deadline = now() + lakeWaitMs;

  const [countRow] = await ports.lake.rows(lakeCountsSql(request.from, request.to, ports.tables));
  const delivered = Number(countRow?.[0] ?? 0);
  const salesRead = Number(countRow?.[1] ?? 0);

  let pending = request.windows.map((spec) => ({ spec, deferred: undefined as ReadonlyMap<number, DeferReason> | undefined }));
  let rebuilt = 0;
  let unchanged = 0;
  let groups = 0;
  let rounds = 0;
  let cuts = new Map<string, number>();
  const changes: ChangedFigure[] = [];
  while (pending.length > 0) {
    rounds++;
    const cut = await liveCuts(ports, topicPartitions);
    cuts = new Map(cut.offsets);
    const next: typeof pending = [];
    for (const { spec, deferred } of pending) {
      const only = deferred === undefined ? undefined : new Set(deferred.keys());
      const outcome = await rebuildSpec(spec, only, request, ports, {
        cuts: cut.offsets,
        latestEventTime: cut.latestEventTime,
        revision,
        round: rounds,
      });
      rebuilt += outcome.rebuilt;
      unchanged += outcome.unchanged;
      groups += outcome.groups;
      changes.push(...outcome.changes);
      if (outcome.deferred.size > 0) next.push({ spec, deferred: outcome.deferred });
    }
    pending = next;
    if (pending.length === 0 || now() + pollMs > deadline) break;
    await wait(pollMs);
  }
  return {
    rebuilt,
    unchanged,
    deferred: pending.flatMap(({ spec, deferred }) =>
      [...(deferred ?? [])].map(([start, reason]) => ({ window: spec.name, start, reason })),
    ),
    salesRead,
    duplicatesDropped: delivered - salesRead,
    groups,
    changes,
    cuts,
    rounds,
  };
}

/** Per partition, the offset the live path has applied (its watermark item), and the latest event time any had seen. */
async function liveCuts(ports: RebuildPorts, topicPartitions: readonly string[]): Promise<Cuts> {
  const offsets = new Map<string, number>();
  let latestEventTime = Number.NEGATIVE_INFINITY;
  for (const [tp, { offset, eventTime }] of await ports.store.progress(topicPartitions)) {
    if (offset >= 0) offsets.set(tp, offset);
    if (eventTime > latestEventTime) latestEventTime = eventTime;
  }
  return { offsets, latestEventTime };
}

interface Cuts {
  readonly offsets: ReadonlyMap<string, number>;
  readonly latestEventTime: number;
}

interface SpecOutcome {
  rebuilt: number;
  unchanged: number;
  groups: number;
  deferred: Map<number, DeferReason>;
  changes: ChangedFigure[];
}

/** Rebuilds one spec's instances in the range (or only `only`): one lake read, folded a grain at a time. */
async function rebuildSpec(
  spec: WindowSpec,
  only: ReadonlySet<number> | undefined,
  request: RebuildRequest,
  ports: RebuildPorts,
  round: { cuts: ReadonlyMap<string, number>; latestEventTime: number; revision: Revision; round: number },
): Promise<SpecOutcome> {
  const outcome: SpecOutcome = { rebuilt: 0, unchanged: 0, groups: 0, deferred: new Map(), changes: [] };
  const span = instancesOf(spec, request.from, request.to);
  const first = only === undefined ? span.first : Math.min(...only);
  const last = only === undefined ? span.last : Math.max(...only);
  const instances = spec.unbounded ? 1 : (last - first) / spec.advanceMs + 1;
  const wanted = (start: number) => start >= first && start <= last && (only === undefined || only.has(start));
  const settings: AggregationSettings = { ...ports.settings, windows: [spec] };
  const latenessMs = request.restate ? undefined : ports.settings.allowedLatenessMs;
  const byPartition = new Map([...round.cuts].map(([tp, offset]) => [Number(tp.slice(tp.lastIndexOf("-") + 1)), offset]));
  const report = (done: number) =>
    ports.onProgress?.({
      window: spec.name,
      round: round.round,
      instances: only?.size ?? instances,
      done,
      rebuilt: outcome.rebuilt,
      unchanged: outcome.unchanged,
      deferred: outcome.deferred.size,
      deferredBy: {
        live: [...outcome.deferred.values()].filter((reason) => reason === "live").length,
        lake: [...outcome.deferred.values()].filter((reason) => reason === "lake").length,
        conflict: [...outcome.deferred.values()].filter((reason) => reason === "conflict").length,
      },
      groups: outcome.groups,
    });

  // The rebuilt slices of the instances not finished yet, by slice id (offsets kept at -1: groups
  // come in grain order, not offset order, and each carries its own watermark).
  const open = new Map<string, SliceItem>();
  const topicPartitions = Array.from({ length: ports.partitions }, (_, p) => `${ports.topic}-${p}`);
  // Instances with neither stored slices nor sales in the lake need no read: most of a sparse range.
  const stored = await ports.store.starts(spec.name, topicPartitions, first, last);
  const hasFigures = (start: number) => stored.has(start) || topicPartitions.some((tp) => open.has(sliceId(spec.name, start, tp)));
  let nextStart = first;
  let done = 0;
  // Swaps in flight, up to SWAPS_AT_ONCE, across grains: with sales in every minute each grain
  // finishes one 1m instance, so waiting for a grain's swaps before reading on would swap them one
  // at a time. A finished instance's slices leave `open` when its swap starts, and no later grain
  // touches them. The first failure stops new swaps and is thrown once those in flight settle.
  const swapping = new Set<Promise<void>>();
  let failure: { error: unknown } | undefined;
  let reported = 0;
  const startSwap = async (start: number) => {
    while (swapping.size >= SWAPS_AT_ONCE) await Promise.race(swapping);
    if (failure !== undefined) return;
    const swap: Promise<void> = swapInstance(spec, start, open, ports, round, outcome)
      .then(
        () => {
          done++;
          if (done - reported >= 500) {
            reported = done;
            report(done);
          }
        },
        (error: unknown) => {
          failure ??= { error };
        },
      )
      .finally(() => swapping.delete(swap));
    swapping.add(swap);
  };
  const finishBefore = async (grain: number) => {
    // Every instance that ends at or before this grain has all its sales folded: swapped while
    // the next grains are read (each is its own snapshot read and transaction).
    const ready: number[] = [];
    for (; nextStart <= last && (spec.unbounded ? grain === Number.POSITIVE_INFINITY : nextStart + spec.sizeMs <= grain); ) {
      if (wanted(nextStart)) {
        if (hasFigures(nextStart)) ready.push(nextStart);
        else {
          outcome.unchanged++;
          done++;
        }
      }
      nextStart = spec.unbounded ? Number.POSITIVE_INFINITY : nextStart + spec.advanceMs;
    }
    for (const start of ready) await startSwap(start);
    if (failure !== undefined) throw failure.error;
  };

  try {
    // The all-time window holds every sale the lake has: from its first date on (none: no read).
    const from = spec.unbounded && ports.firstLakeDate !== undefined ? await ports.firstLakeDate() : first;
    if (byPartition.size > 0 && from !== undefined) {
      const read: LakeRead = {
        spec,
        from,
        to: spec.unbounded ? Number.POSITIVE_INFINITY : last + spec.sizeMs,
        latenessMs,
        cuts: byPartition,
        latestEventTime: round.latestEventTime,
        blockSize: ports.blockSize ?? 1_000_000,
      };
      const rows = await ports.lake.rows(groupsSql(read, ports.tables));
      let batch: SaleRecord[] = [];
      let grain: number | undefined;
      const fold = () => {
        if (batch.length === 0) return;
        const stored = new Map<string, SliceItem>();
        for (const record of batch)
          for (const start of windowStarts(spec, record.sale.payment_date)) {
            const id = sliceId(spec.name, start, record.topicPartition);
            const slice = open.get(id);
            if (slice !== undefined) stored.set(id, slice);
          }
        for (const item of aggregate(batch, stored, new Map(), settings).items)
          if (wanted(item.start)) open.set(sliceId(item.window, item.start, item.topicPartition), { ...item, offset: -1 });
        outcome.groups += batch.length;
        batch = [];
      };
      for (const row of rows) {
        const record = groupRecord(row, ports.topic, latenessMs);
        if (record.sale.payment_date !== grain) {
          fold();
          grain = record.sale.payment_date;
          await finishBefore(grain);
        }
        batch.push(record);
      }
      fold();
    }
    await finishBefore(Number.POSITIVE_INFINITY);
  } finally {
    await Promise.all(swapping);
  }
  if (failure !== undefined) throw failure.error;
  report(done);
  return outcome;
}

/**
 * Swaps one window instance's rebuilt slices in: unless its stored slices already applied an
 * offset past the cut (deferred), or hold the same figures (unchanged). A transaction that meets a
 * concurrent live write is read and tried again (5 times), then deferred.
 */
async function swapInstance(
  spec: WindowSpec,
  start: number,
  open: Map<string, SliceItem>,
  ports: RebuildPorts,
  round: { cuts: ReadonlyMap<string, number>; revision: Revision },
  outcome: SpecOutcome,
): Promise<void> {
  const topicPartitions = Array.from({ length: ports.partitions }, (_, p) => `${ports.topic}-${p}`);
  const rebuilt = new Map<string, SliceItem>();
  for (const tp of topicPartitions) {
    const id = sliceId(spec.name, start, tp);
    const slice = open.get(id);
    if (slice !== undefined) rebuilt.set(tp, slice);
    open.delete(id);
  }
  for (let attempt = 1; attempt <= 5; attempt++) {
    const stored = new Map((await ports.store.instance(spec.name, start, topicPartitions)).map((slice) => [slice.topicPartition, slice]));
    if ([...stored.values()].some((slice) => slice.offset > (round.cuts.get(slice.topicPartition) ?? -1))) {
      outcome.deferred.set(start, "live");
      return;
    }
    // The lake must hold at least what the live path counted in the instance (applied or late):
    // fewer means Firehose has not delivered some of it yet.
    const counted = (slice: SliceItem | undefined) => {
      const all = slice?.values.get("all#all");
      return all === undefined ? 0n : all.orders + all.late;
    };
    if (topicPartitions.some((tp) => counted(rebuilt.get(tp)) < counted(stored.get(tp)))) {
      outcome.deferred.set(start, "lake");
      return;
    }
    const before = new Map<string, Metrics>();
    const after = new Map<string, Metrics>();
    for (const slice of stored.values()) for (const [key, metrics] of slice.values) addPartial(before, key, metrics);
    for (const slice of rebuilt.values()) for (const [key, metrics] of slice.values) addPartial(after, key, metrics);
    const samePartials = topicPartitions.every((tp) => {
      const a = stored.get(tp)?.values ?? new Map<string, Metrics>();
      const b = rebuilt.get(tp)?.values ?? new Map<string, Metrics>();
      return a.size === b.size && [...a].every(([key, metrics]) => sameMetrics(metrics, b.get(key)));
    });
    if (samePartials) {
      outcome.unchanged++;
      return;
    }
    const end = start + spec.sizeMs;
    const slices: SliceItem[] = [];
    for (const tp of topicPartitions) {
      const current = stored.get(tp);
      const fresh = rebuilt.get(tp);
      if (current === undefined && fresh === undefined) continue;
      slices.push({
        window: spec.name,
        start,
        end,
        topicPartition: tp,
        version: current?.version ?? 0,
        // The cut: live batches apply past it, and skip what the lake counted.
        offset: round.cuts.get(tp) ?? -1,
        values: fresh?.values ?? new Map(),
        expiresAt: fresh?.expiresAt ?? current?.expiresAt,
        revised: round.revision,
      });
    }
    if ((await ports.store.replace(slices)) === "replaced") {
      outcome.rebuilt++;
      for (const key of new Set([...before.keys(), ...after.keys()])) {
        if (!sameMetrics(before.get(key), after.get(key)))
          outcome.changes.push({ window: spec.name, start, value: key, before: before.get(key), after: after.get(key) });
      }
      return;
    }
  }
  outcome.deferred.set(start, "conflict");
}

const deferNotes: Record<DeferReason, string> = {
  live: "live sales arrived in it after the rebuild began",
  lake: "the lake holds fewer of its sales than the live path counted: Firehose has not delivered them yet",
  conflict: "live writes kept changing it during the swap",
};

/** The summary as lines for a person: counts, then the changed figures (old -> new, the first `limit`). Never throws. */
export function describeRebuild(summary: RebuildSummary, seconds: number, limit = 200): string[] {
  const show = (m: Metrics | undefined) => (m === undefined ? "none" : `${m.orders} orders ${formatCents(m.sales)} (late ${m.late})`);
  const lines = [
    `window instances rebuilt: ${summary.rebuilt}, unchanged: ${summary.unchanged}, deferred: ${summary.deferred.length} (${summary.rounds} round${summary.rounds === 1 ? "" : "s"})`,
    `sales read: ${summary.salesRead}, duplicates dropped: ${summary.duplicatesDropped}, groups folded: ${summary.groups}`,
    `took ${seconds.toFixed(1)} s: ${seconds > 0 ? Math.round(summary.salesRead / seconds) : summary.salesRead} sales/s`,
    `figures changed: ${summary.changes.length}`,
    ...summary.changes.slice(0, limit).map((c) => `  ${c.window} ${iso(c.start)} ${c.value}: ${show(c.before)} -> ${show(c.after)}`),
    ...(summary.changes.length > limit ? [`  ... and ${summary.changes.length - limit} more`] : []),
    ...summary.deferred.map((d) => `  deferred: ${d.window} ${iso(d.start)} (${deferNotes[d.reason]}; run again)`),
  ];
  return lines;
}
