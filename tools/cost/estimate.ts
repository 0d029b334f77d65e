import { FLINK_RECORDS_PER_KPU, HOURS_PER_MONTH, type ListPrice, type PriceId, prices } from "./prices.ts";

/*
 * The cost arithmetic, pure: measured usage in, priced lines out. Amounts are exact fractions of
 * bigints (no binary floating point on a sum), rounded only when printed.
 */

/** An exact non-negative fraction. */
export interface Ratio {
  readonly n: bigint;
  readonly d: bigint;
}

const gcd = (a: bigint, b: bigint): bigint => (b === 0n ? (a < 0n ? -a : a) : gcd(b, a % b));

/** n/d reduced. Throws when d is 0 or either is not an integer. */
export function ratio(n: bigint | number, d: bigint | number = 1n): Ratio {
  if (typeof n === "number" && !Number.isInteger(n)) throw new Error(`ratio: ${n} is not an integer`);
  if (typeof d === "number" && !Number.isInteger(d)) throw new Error(`ratio: ${d} is not an integer`);
  const [bn, bd] = [BigInt(n), BigInt(d)];
  if (bd === 0n) throw new Error("ratio: division by zero");
  const g = gcd(bn, bd) || 1n;
  const sign = bd < 0n ? -1n : 1n;
  return { n: (sign * bn) / g, d: (sign * bd) / g };
}

/** Exact decimal text ("0.0000133334") as a fraction. Throws naming the text when it is not one. */
export function decimal(text: string): Ratio {
  const match = /^(\d+)(?:\.(\d+))?$/.exec(text);
  if (match === null) throw new Error(`"${text}" is not a decimal number`);
  const fraction = match[2] ?? "";
  return ratio(BigInt(`${match[1]}${fraction}`), 10n ** BigInt(fraction.length));
}

export const add = (...terms: readonly Ratio[]): Ratio => terms.reduce((a, b) => ratio(a.n * b.d + b.n * a.d, a.d * b.d), ratio(0));
export const mul = (a: Ratio, b: Ratio): Ratio => ratio(a.n * b.n, a.d * b.d);
/** a / b; throws when b is 0. */
export const div = (a: Ratio, b: Ratio): Ratio => ratio(a.n * b.d, a.d * b.n);

/** `r` with `digits` decimals, rounded half up; thousands separated by commas. Never throws. */
export function formatRatio(r: Ratio, digits: number): string {
  const scale = 10n ** BigInt(digits);
  const scaled = (r.n * scale * 2n + r.d) / (2n * r.d);
  const whole = (scaled / scale).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  if (digits === 0) return whole;
  return `${whole}.${(scaled % scale).toString().padStart(digits, "0")}`;
}

/** US dollars, with cents, or with 4 decimals below a dollar (a figure per sale must not round to 0). */
export const formatUsd = (r: Ratio): string => `$${formatRatio(r, r.n < r.d ? 4 : 2)}`;

/** One function's measured invocations. */
export interface LambdaUsage {
  readonly functionId: string;
  readonly architecture: "arm64" | "x86_64";
  readonly memoryMb: number;
  readonly invocations: number;
  /** Handler durations, each rounded up to the ms, summed. */
  readonly billedMs: number;
  /** INIT durations, each rounded up to the ms, summed. */
  readonly initBilledMs: number;
}

/** What one measured run asked of AWS. All counts are integers. */
export interface MeasuredUsage {
  readonly sales: number;
  readonly posts: number;
  /** HTTP API requests as metered (512 KB increments). */
  readonly apiRequests: number;
  readonly lambda: readonly LambdaUsage[];
  /** DynamoDB request units, in halves (an eventually consistent read of up to 4 KB is half a unit). */
  readonly dynamodbReadHalfUnits: number;
  readonly dynamodbWriteHalfUnits: number;
  readonly streamGetRecords: number;
  readonly s3Puts: number;
  readonly s3Gets: number;
  readonly sqsRequests: number;
  /** Firehose: the greater of bytes ingested and bytes delivered (MSK source). */
  readonly firehoseIngestBytes: number;
  readonly firehoseConvertedBytes: number;
  readonly firehoseObjects: number;
  readonly firehoseDeliveredBytes: number;
  readonly mskBytesIn: number;
  readonly mskBytesOut: number;
  readonly logBytes: number;
  /** Bytes the VPC functions sent through interface endpoints (requests to Glue and the MSK API). */
  readonly endpointBytes: number;
}

/** A priced line: `quantity` of `unit`, and its cost (null: the price is not known). */
export interface CostLine {
  readonly service: string;
  readonly item: string;
  readonly quantity: Ratio;
  readonly unit: string;
  readonly usd: Ratio | null;
}

const GB = 1_000_000_000n;
const GIB = 1n << 30n;

function line(id: PriceId, quantity: Ratio, item?: string): CostLine {
  const price: ListPrice = prices[id];
  return {
    service: price.service,
    item: item ?? price.item,
    quantity,
    unit: price.unit,
    usd: price.usd === null ? null : div(mul(quantity, decimal(price.usd)), ratio(price.per)),
  };
}

/** The run's variable cost, line by line. Throws when a count is not a non-negative integer. */
export function variableCost(usage: MeasuredUsage): CostLine[] {
  for (const [key, value] of Object.entries(usage))
    if (typeof value === "number" && (!Number.isInteger(value) || value < 0))
      throw new Error(`usage.${key} must be a non-negative integer, got ${value}`);
  const lambda = usage.lambda.flatMap((fn) => {
    // GB-s = MB/1024 x ms/1000, INIT included.
    const gbSeconds = ratio(BigInt(fn.memoryMb) * BigInt(fn.billedMs + fn.initBilledMs), 1_024_000n);
    return [
      line("lambdaRequest", ratio(fn.invocations), `${fn.functionId}: requests`),
      line(
        fn.architecture === "arm64" ? "lambdaArmGbSecond" : "lambdaX86GbSecond",
        gbSeconds,
        `${fn.functionId}: duration (${fn.memoryMb} MB x ${fn.billedMs} ms run + ${fn.initBilledMs} ms INIT)`,
      ),
    ];
  });
  return [
    line("httpApiRequest", ratio(usage.apiRequests)),
    ...lambda,
    line("dynamodbWriteUnit", ratio(usage.dynamodbWriteHalfUnits, 2)),
    line("dynamodbReadUnit", ratio(usage.dynamodbReadHalfUnits, 2)),
    line("dynamodbStreamReadByLambda", ratio(usage.streamGetRecords)),
    line("s3Put", ratio(usage.s3Puts)),
    line("s3Get", ratio(usage.s3Gets)),
    line("sqsRequest", ratio(usage.sqsRequests)),
    line("firehoseMskIngest", ratio(BigInt(usage.firehoseIngestBytes), GB)),
    line("firehoseFormatConversion", ratio(BigInt(usage.firehoseConvertedBytes), GB)),
    line("firehoseDynamicPartitioningGb", ratio(BigInt(usage.firehoseDeliveredBytes), GB)),
    line("firehoseDynamicPartitioningObjects", ratio(usage.firehoseObjects)),
    line("mskDataIn", ratio(BigInt(usage.mskBytesIn), GIB)),
    line("mskDataOut", ratio(BigInt(usage.mskBytesOut), GIB)),
    line("cloudwatchLogsIngestion", ratio(BigInt(usage.logBytes), GB)),
    line("interfaceEndpointData", ratio(BigInt(usage.endpointBytes), GB)),
  ];
}

/** What the stack costs a month whatever the traffic. */
export interface FixedInputs {
  readonly partitions: number;
  /** Interface endpoints (0 with CreateVpcEndpoints=false) and the AZs each is in. */
  readonly interfaceEndpoints: number;
  readonly availabilityZones: number;
  /** Metrics the alarms read (a metric math alarm counts each of its metrics). */
  readonly alarmMetrics: number;
  /** Distinct custom metrics (name x dimension values) the functions emit. */
  readonly customMetrics: number;
  readonly kmsKeys: number;
}

/** The fixed monthly lines (730 hours). Throws when an input is not a non-negative integer. */
export function fixedMonthlyCost(inputs: FixedInputs): CostLine[] {
  for (const [key, value] of Object.entries(inputs))
    if (!Number.isInteger(value) || value < 0) throw new Error(`fixed.${key} must be a non-negative integer, got ${value}`);
  const hours = ratio(HOURS_PER_MONTH);
  return [
    line("mskClusterHour", hours),
    line("mskPartitionHour", mul(hours, ratio(inputs.partitions)), `partition-hours (${inputs.partitions} partitions)`),
    line(
      "interfaceEndpointHour",
      mul(hours, ratio(inputs.interfaceEndpoints * inputs.availabilityZones)),
      `interface endpoint-hours (${inputs.interfaceEndpoints} endpoints x ${inputs.availabilityZones} AZs)`,
    ),
    line("cloudwatchAlarmMetric", ratio(inputs.alarmMetrics)),
    line("cloudwatchMetric", ratio(inputs.customMetrics)),
    line("kmsKey", ratio(inputs.kmsKeys)),
  ];
}

/** The sum of the priced lines and the lines left unpriced. Never throws. */
export function total(lines: readonly CostLine[]): { usd: Ratio; unpriced: CostLine[] } {
  return {
    usd: add(...lines.flatMap((l) => (l.usd === null ? [] : [l.usd]))),
    unpriced: lines.filter((l) => l.usd === null && l.quantity.n !== 0n),
  };
}

/** `lines` scaled by `factor` (a run's figures per million sales, per month...). Never throws. */
export const scaled = (lines: readonly CostLine[], factor: Ratio): CostLine[] =>
  lines.map((l) => ({ ...l, quantity: mul(l.quantity, factor), usd: l.usd === null ? null : mul(l.usd, factor) }));

/** Sales in a month at `perSecond` (730 hours). */
export const salesPerMonth = (perSecond: number): Ratio => ratio(BigInt(perSecond) * BigInt(HOURS_PER_MONTH) * 3600n);

/**
 * The KPUs a Flink job would run at `perSecond` records: enough for the rate at
 * FLINK_RECORDS_PER_KPU (at least one), plus the orchestration KPU every application is charged.
 * Throws when the rate is negative or not an integer.
 */
export function flinkKpus(perSecond: number): { processing: number; orchestration: number } {
  if (!Number.isInteger(perSecond) || perSecond < 0) throw new Error(`rate must be a non-negative integer, got ${perSecond}`);
  return { processing: Math.max(1, Math.ceil(perSecond / FLINK_RECORDS_PER_KPU.recordsPerSecond)), orchestration: 1 };
}

/** The KPU-hours of a month at `perSecond`, priced (null when the KPU-hour price is not known). */
export function flinkMonthly(perSecond: number): CostLine {
  const kpus = flinkKpus(perSecond);
  return line(
    "flinkKpuHour",
    ratio((kpus.processing + kpus.orchestration) * HOURS_PER_MONTH),
    `KPU-hours (${kpus.processing} + ${kpus.orchestration} orchestration KPU x ${HOURS_PER_MONTH} h)`,
  );
}
