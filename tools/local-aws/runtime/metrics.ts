/**
 * The CloudWatch metrics the stack's alarms read, kept in memory: the emulated mapping's OffsetLag,
 * the emulated broker's consumer-group metrics (msk-metrics.ts), and the functions' own metrics,
 * taken from their embedded-metric-format log lines as CloudWatch Logs takes them on AWS
 * (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html).
 * It is no CloudWatch: no API, no retention, one statistic per query. Datapoints fall into
 * minutes of `minuteMs` (60,000 by default; a test may shrink it to run a quarter hour of alarm
 * evaluation in seconds, and the publishers then tick once per such minute).
 */

export type Dimensions = Readonly<Record<string, string>>;

export interface Datapoint {
  readonly namespace: string;
  readonly name: string;
  readonly dimensions: Dimensions;
  /** ms since the epoch. */
  readonly timestamp: number;
  readonly value: number;
}

/** A metric as an alarm names it: namespace, name and every dimension (CloudWatch matches the whole set). */
export interface MetricId {
  readonly namespace: string;
  readonly name: string;
  readonly dimensions: Dimensions;
}

export const STATISTICS = ["Sum", "Maximum", "Minimum", "Average", "SampleCount"] as const;
export type Statistic = (typeof STATISTICS)[number];

const sameDimensions = (a: Dimensions, b: Dimensions) =>
  Object.keys(a).length === Object.keys(b).length && Object.entries(a).every(([key, value]) => b[key] === value);

/** `values` reduced by `statistic`. Throws on an empty list (a period without datapoints has no value). */
export function statisticOf(statistic: Statistic, values: readonly number[]): number {
  if (values.length === 0) throw new Error(`no datapoints to take the ${statistic} of`);
  switch (statistic) {
    case "Sum":
      return values.reduce((a, b) => a + b, 0);
    case "Maximum":
      return Math.max(...values);
    case "Minimum":
      return Math.min(...values);
    case "Average":
      return values.reduce((a, b) => a + b, 0) / values.length;
    case "SampleCount":
      return values.length;
  }
}

export class MetricSink {
  readonly minuteMs: number;
  readonly #points: Datapoint[] = [];

  constructor({ minuteMs = 60_000 }: { minuteMs?: number } = {}) {
    if (!Number.isInteger(minuteMs) || minuteMs < 10)
      throw new Error(`MetricSink minuteMs must be an integer of 10 or more, got ${minuteMs}`);
    this.minuteMs = minuteMs;
  }

  /** The minute (index since the epoch, in this sink's minutes) `timestamp` falls in. */
  minuteOf(timestamp: number): number {
    return Math.floor(timestamp / this.minuteMs);
  }

  /** Records one datapoint. Throws when the value is not a finite number (CloudWatch refuses those too). */
  put(metric: MetricId, value: number, timestamp = Date.now()): void {
    if (!Number.isFinite(value)) throw new Error(`metric ${metric.namespace}/${metric.name}: value must be a finite number, got ${value}`);
    this.#points.push({ ...metric, timestamp, value });
  }

  /**
   * Takes the metrics of one log line of a function written in embedded metric format (a JSON
   * object with `_aws.CloudWatchMetrics`): each metric once per dimension set, with the values the
   * object holds. Other lines are ignored; a line that claims the format but breaks it throws,
   * naming the function, as CloudWatch would drop it and the alarm would then read nothing.
   */
  ingestLogLine(functionName: string, line: string): void {
    if (!line.startsWith("{") || !line.includes('"_aws"')) return;
    let document: Record<string, unknown>;
    try {
      document = JSON.parse(line) as Record<string, unknown>;
    } catch {
      return;
    }
    const aws = document._aws as { Timestamp?: unknown; CloudWatchMetrics?: unknown } | undefined;
    if (aws === undefined) return;
    const directives = aws.CloudWatchMetrics;
    if (typeof aws.Timestamp !== "number" || !Array.isArray(directives))
      throw new Error(`${functionName}: an embedded-metric line needs _aws.Timestamp (ms) and _aws.CloudWatchMetrics (array)`);
    for (const directive of directives as { Namespace?: unknown; Dimensions?: unknown; Metrics?: unknown }[]) {
      if (typeof directive.Namespace !== "string" || !Array.isArray(directive.Dimensions) || !Array.isArray(directive.Metrics))
        throw new Error(`${functionName}: an embedded-metric directive needs Namespace, Dimensions and Metrics`);
      for (const set of directive.Dimensions as string[][]) {
        const dimensions = Object.fromEntries(set.map((key) => [key, String(document[key])]));
        for (const { Name } of directive.Metrics as { Name: string }[]) {
          const raw = document[Name];
          for (const value of Array.isArray(raw) ? raw : [raw])
            this.put({ namespace: directive.Namespace, name: Name, dimensions }, Number(value), aws.Timestamp);
        }
      }
    }
  }

  /**
   * The metric's datapoints reduced by `statistic` per period of `periodMinutes` minutes, keyed by
   * the period's first minute; periods without a datapoint are absent (CloudWatch's missing data).
   */
  series(metric: MetricId, statistic: Statistic, periodMinutes = 1): Map<number, number> {
    const byPeriod = new Map<number, number[]>();
    for (const point of this.#points) {
      if (point.namespace !== metric.namespace || point.name !== metric.name || !sameDimensions(point.dimensions, metric.dimensions))
        continue;
      const minute = this.minuteOf(point.timestamp);
      const period = minute - (minute % periodMinutes);
      byPeriod.set(period, [...(byPeriod.get(period) ?? []), point.value]);
    }
    return new Map([...byPeriod].sort(([a], [b]) => a - b).map(([period, values]) => [period, statisticOf(statistic, values)]));
  }

  /** Every datapoint so far, oldest first (for a test's report). */
  datapoints(): readonly Datapoint[] {
    return [...this.#points].sort((a, b) => a.timestamp - b.timestamp);
  }
}
