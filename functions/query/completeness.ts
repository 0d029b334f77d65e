/**
 * When a window is closed, and how complete a window's figures are, from the partitions'
 * watermark items: the max event time each partition has seen and the wall-clock time of its
 * last batch.
 *
 * A partition stops holding a window (end E) open once
 * - its watermark has passed E + allowed lateness (what it still receives for the window is late), or
 * - it is idle, and E + allowed lateness + idle timeout has passed on the wall clock.
 * Idle means no batch for the idle timeout (or none ever): with nothing delivered there is nothing
 * to wait for. So an empty partition cannot hold windows open, and a window closes at the latest
 * lateness + idle timeout after its end once nothing arrives. A partition that still delivers
 * batches holds a window until its own watermark passes it, however far behind it is.
 *
 * What remains (docs/aggregation.md, Live figures, says it too): without the topic's end offsets, a
 * mapping that has stopped delivering (stalled, or retrying one failing batch) looks idle after
 * the timeout, so its windows may close before its records are in; the OffsetLag alarm reports
 * that case. And a partition that wakes after being idle adds records dated in a window it did not
 * hold to that window if they are within its own watermark's lateness: the window shows `open`
 * again until that partition passes it or goes idle again.
 */

/** What a partition's watermark item says: max event time seen, wall-clock time of its last batch. */
export interface PartitionMark {
  /** Undefined while the partition has seen only undecodable records. */
  readonly eventTime: number | undefined;
  /** Undefined on items written before the aggregator recorded it: such a partition is never idle. */
  readonly lastBatchAt: number | undefined;
  /** Records of this partition dead-lettered and not yet re-applied by `npm run redrive` (0 when unknown). */
  readonly pendingDeadLetters?: number;
}

export interface ClosingRule {
  readonly partitions: number;
  readonly allowedLatenessMs: number;
  readonly idleTimeoutMs: number;
}

/**
 * - `reporting`: delivered a batch within the idle timeout, and its newest sale is within the
 *   allowed lateness of now;
 * - `lagging`: delivered a batch within the idle timeout, but its newest sale is older than that
 *   (working through a backlog or a backfill): it holds windows open until it passes them;
 * - `idle`: no batch for the idle timeout, or none yet: it holds no window open past lateness + idle timeout.
 */
export type PartitionState = "reporting" | "lagging" | "idle";

/** The state of one partition at wall-clock time `now`. Pure; never throws. */
export function partitionState(mark: PartitionMark | undefined, now: number, rule: ClosingRule): PartitionState {
  if (mark === undefined) return "idle";
  if (mark.lastBatchAt !== undefined && now - mark.lastBatchAt >= rule.idleTimeoutMs) return "idle";
  if (mark.eventTime === undefined || now - mark.eventTime > rule.allowedLatenessMs) return "lagging";
  return "reporting";
}

/** The time up to which a partition holds no window open: windows ending at or before it are closed for it. */
function partitionHorizon(mark: PartitionMark | undefined, state: PartitionState, now: number, rule: ClosingRule): number {
  const byWatermark = mark?.eventTime === undefined ? Number.NEGATIVE_INFINITY : mark.eventTime - rule.allowedLatenessMs;
  const byIdleness = state === "idle" ? now - rule.allowedLatenessMs - rule.idleTimeoutMs : Number.NEGATIVE_INFINITY;
  return Math.max(byWatermark, byIdleness);
}

/** Every partition's mark, state and horizon at `now`, and what they add up to. */
export interface PartitionsView {
  readonly now: number;
  readonly states: readonly PartitionState[];
  readonly horizons: readonly number[];
  /** Windows ending at or before this are closed on every partition (-Infinity: none is). */
  readonly closedUntil: number;
  /** Max event time over every partition (undefined before any sale). */
  readonly latestEventTime: number | undefined;
  /** Dead-lettered records not yet redriven, over every partition. */
  readonly pendingDeadLetters: number;
  /** Least event time over the partitions that are not idle (undefined when none has one). */
  readonly leastActiveEventTime: number | undefined;
}

/** Judges partitions 0..partitions-1 at `now` (a missing mark is a partition that never delivered). Pure; never throws. */
export function judgePartitions(marks: ReadonlyMap<number, PartitionMark>, now: number, rule: ClosingRule): PartitionsView {
  const states: PartitionState[] = [];
  const horizons: number[] = [];
  let latest: number | undefined;
  let leastActive: number | undefined;
  let pendingDeadLetters = 0;
  for (let partition = 0; partition < rule.partitions; partition++) {
    const mark = marks.get(partition);
    const state = partitionState(mark, now, rule);
    states.push(state);
    horizons.push(partitionHorizon(mark, state, now, rule));
    pendingDeadLetters += mark?.pendingDeadLetters ?? 0;
    const eventTime = mark?.eventTime;
    if (eventTime === undefined) continue;
    if (latest === undefined || eventTime > latest) latest = eventTime;
    if (state !== "idle" && (leastActive === undefined || eventTime < leastActive)) leastActive = eventTime;
  }
  return {
    now,
    states,
    horizons,
    closedUntil: Math.min(...horizons),
    latestEventTime: latest,
    pendingDeadLetters,
    leastActiveEventTime: leastActive,
  };
}

/** The `completeness` of a window as the API answers it. */
export interface CompletenessView {
  /** The wall-clock time the partitions were judged at. */
  readonly asOf: string;
  readonly partitions: number;
  readonly reporting: number;
  readonly lagging: number;
  readonly idle: number;
  /** Partitions that still hold this window open (0 once it is closed). */
  readonly waitingFor: number;
  /** Least watermark of the partitions that are not idle (null when none has one). */
  readonly leastWatermark: string | null;
  /** Greatest watermark of all partitions (null before any sale). */
  readonly latestWatermark: string | null;
  /** asOf minus leastWatermark, in milliseconds: how far the slowest delivering partition trails the clock. */
  readonly lagMs: number | null;
  /**
   * Records dead-lettered (undecodable, unknown schema version...) and not yet re-applied by
   * `npm run redrive`, on every partition: their window is unknown, so while this is above 0 any
   * window's figures may lack them.
   */
  readonly pendingDeadLetters: number;
}

const iso = (ms: number) => new Date(ms).toISOString();

/** How complete the window ending at `end` is, seen from `view`. Pure; never throws. */
export function completenessOf(view: PartitionsView, end: number): CompletenessView {
  const count = (state: PartitionState) => view.states.filter((s) => s === state).length;
  return {
    asOf: iso(view.now),
    partitions: view.states.length,
    reporting: count("reporting"),
    lagging: count("lagging"),
    idle: count("idle"),
    waitingFor: view.horizons.filter((horizon) => end > horizon).length,
    leastWatermark: view.leastActiveEventTime === undefined ? null : iso(view.leastActiveEventTime),
    latestWatermark: view.latestEventTime === undefined ? null : iso(view.latestEventTime),
    lagMs: view.leastActiveEventTime === undefined ? null : Math.max(0, view.now - view.leastActiveEventTime),
    pendingDeadLetters: view.pendingDeadLetters,
  };
}
