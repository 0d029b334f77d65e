import { InvariantError } from "#shared/errors/internal-errors";
import { latestWindowStart, type WindowSpec } from "#shared/windows/windows";
import type { SaleRecord } from "./aggregate.ts";

/**
 * The SQL a rebuild runs on the lake (Athena, or Trino locally: the same dialect), and how its rows
 * become records for the aggregation core. The engine does what grows with history: it reads the
 * Parquet lake through the deduplicating view, computes each sale's watermark at arrival (the max
 * event time its partition had seen before it, in offset order) and adds up the sales that every
 * window and the lateness rule treat alike. The core (./aggregate.ts) then decides window
 * membership and lateness and adds the exact sums, as it does for live batches.
 */

/** The lake's table and view names (stack outputs LakeTable, LakeOnceView, without the database). */
export interface LakeTables {
  /** Every delivered row, a retried delivery's twice. */
  readonly raw: string;
  /** One row per (dt, kafka_partition, kafka_offset). */
  readonly once: string;
}

/** One read of the lake for one window spec. */
export interface LakeRead {
  readonly spec: WindowSpec;
  /**
   * Event-time range to fold, epoch ms [from, to): the whole of every window instance rebuilt. For
   * the all-time window, `from` is the lake's first date (every sale is at or after it) and `to` is unused.
   */
  readonly from: number;
  readonly to: number;
  /** The live rule's allowed lateness (ms); undefined to restate (late sales folded in). */
  readonly latenessMs: number | undefined;
  /** Per partition, the last offset the read covers (what the live path had applied when the rebuild began). */
  readonly cuts: ReadonlyMap<number, number>;
  /**
   * The latest event time any partition had seen at its cut (its watermark): no sale up to the
   * cuts is later, so the watermark's read stops at that date (partition projection then lists
   * only those dates).
   */
  readonly latestEventTime: number;
  /**
   * Offsets per block of the watermark's prefix max: each block's running max is one window
   * function over at most this many rows, and the blocks before it add their maxima, so no node
   * sorts a whole partition.
   */
  readonly blockSize: number;
}

/** Event time before any sale (below year -271821): "no sale seen yet". */
const NO_SALE = "-8640000000000000";
const EPOCH = "TIMESTAMP '1970-01-01 00:00:00.000'";

const gcd = (a: number, b: number): number => (b === 0 ? Math.abs(a) : gcd(b, a % b));

/**
 * The grain of a spec's windows: the longest step that divides every window start and end, so
 * sales in one grain belong to the same windows and are late for the same ones. Never throws.
 */
export function grainOf(spec: WindowSpec): number {
  // Windows aligned to another origin than the epoch (ISO weeks start on a Monday) shift the grid.
  return gcd(gcd(spec.advanceMs, spec.sizeMs), latestWindowStart(spec, 0));
}

const timestamp = (ms: number) => `TIMESTAMP '${new Date(ms).toISOString().replace("T", " ").replace("Z", "")}'`;
const date = (ms: number) => `'${new Date(ms).toISOString().slice(0, 10)}'`;
/** floor(expr / step) * step in integers, for negative values too (SQL's % keeps the dividend's sign). */
const floorTo = (expr: string, step: number) => `(${expr}) - ((((${expr}) % ${step}) + ${step}) % ${step})`;

function cutValues(cuts: ReadonlyMap<number, number>): string {
  if (cuts.size === 0) throw new InvariantError("a lake read needs at least one partition with an offset to read up to");
  const rows = [...cuts].map(([partition, offset]) => {
    if (!Number.isSafeInteger(partition) || !Number.isSafeInteger(offset))
      throw new InvariantError(`partition ${partition} offset ${offset} is not a whole number`);
    return `(${partition}, BIGINT '${offset}')`;
  });
  return `cut (kafka_partition, last_offset) AS (VALUES ${rows.join(", ")})`;
}

/**
 * The SQL that answers one LakeRead: per (kafka_partition, country, grain of event time, lateness
 * class), the sales' count, exact sum, min and max amounts and last offset, ordered by grain. The
 * lateness class is the greatest grain boundary at or below the sale's watermark minus the
 * lateness (never below its own grain): window ends are grain boundaries, so a window ends at or
 * before it exactly when the window ended `lateness` or more before the watermark. Sales before
 * `from` are left out of the watermark: they cannot make a sale late for a window ending after
 * `from`. Throws InvariantError on a read with no partition.
 */
export function groupsSql(read: LakeRead, tables: LakeTables): string {
  const { spec, from, to, latenessMs, blockSize } = read;
  const grain = spec.unbounded ? 0 : grainOf(spec);
  const bucket = spec.unbounded ? "BIGINT '0'" : floorTo("t", grain);
  const columns = "s.kafka_partition, s.kafka_offset, s.country, s.amount";
  const eventTime = `date_diff('millisecond', ${EPOCH}, s.payment_date) AS t`;
  const join = `${tables.once} s JOIN cut c ON s.kafka_partition = c.kafka_partition AND s.kafka_offset <= c.last_offset`;
  const inRange = spec.unbounded ? "TRUE" : `s.payment_date >= ${timestamp(from)} AND s.payment_date < ${timestamp(to)}`;
  const select = (cutoff: string) =>
    `SELECT kafka_partition, country, ${bucket} AS bucket, ${cutoff} AS cutoff, count(*) AS orders,
  CAST(sum(amount) AS varchar) AS sales, CAST(min(amount) AS varchar) AS least, CAST(max(amount) AS varchar) AS greatest,
  max(kafka_offset) AS last_offset`;
  const order = "GROUP BY 1, 2, 3, 4\nORDER BY bucket, kafka_partition, country, cutoff";
  // The all-time window never closes: no lateness to compute.
  if (latenessMs === undefined || spec.unbounded) {
    // Partition projection lists every date named: the all-time window's run from the lake's first
    // date to the latest sale only.
    const dates = spec.unbounded
      ? `s.dt BETWEEN ${date(from)} AND ${date(Math.max(from, read.latestEventTime))}`
      : `s.dt BETWEEN ${date(from)} AND ${date(to - 1)}`;
    return `WITH ${cutValues(read.cuts)},
ranged AS (
  SELECT ${columns}, ${eventTime}
  FROM ${join}
  WHERE ${dates} AND ${inRange}
)
${select("CAST(NULL AS bigint)")}
FROM ranged
${order}`;
  }
  const lateBy = `wm - ${latenessMs}`;
  return `WITH ${cutValues(read.cuts)},
seen AS (
  SELECT ${columns}, ${eventTime}
  FROM ${join}
  WHERE s.dt BETWEEN ${date(from)} AND ${date(Math.max(from, read.latestEventTime))} AND s.payment_date >= ${timestamp(from)}
),
in_block AS (
  SELECT *, max(t) OVER (PARTITION BY kafka_partition, kafka_offset / ${blockSize} ORDER BY kafka_offset
    ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS before_in_block
  FROM seen
),
blocks AS (
  SELECT kafka_partition, block, max(block_max) OVER (PARTITION BY kafka_partition ORDER BY block
    ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS before_block
  FROM (SELECT kafka_partition, kafka_offset / ${blockSize} AS block, max(t) AS block_max FROM seen GROUP BY 1, 2)
),
ranged AS (
  SELECT r.kafka_partition, r.kafka_offset, r.country, r.amount, r.t,
    greatest(coalesce(r.before_in_block, ${NO_SALE}), coalesce(b.before_block, ${NO_SALE})) AS wm
  FROM in_block r JOIN blocks b ON r.kafka_partition = b.kafka_partition AND r.kafka_offset / ${blockSize} = b.block
  WHERE r.t >= ${from} AND r.t < ${to}
)
${select(`greatest(${bucket}, ${floorTo(lateBy, grain)})`)}
FROM ranged
${order}`;
}

/** A row of groupsSql's answer as a record for the aggregation core; throws InvariantError naming the row when it is not one. */
export function groupRecord(row: readonly unknown[], topic: string, latenessMs: number | undefined): SaleRecord {
  const [partition, country, bucket, cutoff, orders, sales, least, greatest, lastOffset] = row.map((cell) =>
    cell === null || cell === undefined ? null : String(cell),
  );
  const whole = (text: string | null | undefined) => (text === null || text === undefined ? Number.NaN : Number(text));
  const numbers = [whole(partition), whole(bucket), whole(orders), whole(lastOffset)];
  if (numbers.some((value) => !Number.isSafeInteger(value)) || country == null || sales == null || least == null || greatest == null)
    throw new InvariantError(`the lake answered a row that is not a group of sales: ${JSON.stringify(row.slice(2))}`);
  const [p, start, count, offset] = numbers as [number, number, number, number];
  const known = cutoff === null || latenessMs === undefined ? Number.NEGATIVE_INFINITY : whole(cutoff) + latenessMs;
  return {
    topicPartition: `${topic}-${p}`,
    offset,
    sale: { country, payment_date: start, amount: sales },
    // The class boundary plus the lateness decides every window as the sale's own watermark would.
    watermark: known,
    group: { orders: count, min: least, max: greatest },
  };
}

/** The sales in an event-time range, in the table (a retried delivery's rows twice) and in the view (once). Never throws. */
export function lakeCountsSql(from: number, to: number, tables: LakeTables): string {
  const where = `dt BETWEEN ${date(from)} AND ${date(to - 1)} AND payment_date >= ${timestamp(from)} AND payment_date < ${timestamp(to)}`;
  return `SELECT (SELECT count(*) FROM ${tables.raw} WHERE ${where}) AS delivered, (SELECT count(*) FROM ${tables.once} WHERE ${where}) AS once`;
}
