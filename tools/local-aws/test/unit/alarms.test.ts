import { describe, expect, it } from "vitest";
import { type AlarmProperties, evaluateAlarm, evaluateExpression } from "../../runtime/alarms.ts";
import { MetricSink } from "../../runtime/metrics.ts";
import { localStackContext } from "../../stack/context.ts";
import { resolveValue } from "../../template/intrinsics.ts";

const MINUTE = 60_000;
const at = (minute: number) => minute * MINUTE + 1000;
const metric = (name: string, dimensions: Record<string, string> = {}) => ({ namespace: "Test", name, dimensions });

/** A one-metric alarm over Test/Errors (Sum, 1 minute), breaching above 0. */
const errorsAlarm = (overrides: Partial<AlarmProperties> = {}): AlarmProperties => ({
  AlarmName: "errors",
  Namespace: "Test",
  MetricName: "Errors",
  Statistic: "Sum",
  Period: 60,
  EvaluationPeriods: 3,
  Threshold: 0,
  ComparisonOperator: "GreaterThanThreshold",
  ...overrides,
});

const states = (alarm: AlarmProperties, sink: MetricSink, from: number, to: number) =>
  evaluateAlarm(alarm, sink, from, to).map((e) => e.state);

describe("the metric sink: datapoints by minute, and the functions' embedded-metric lines", () => {
  it("reduces each minute's datapoints by the statistic and leaves minutes without data missing", () => {
    const sink = new MetricSink();
    for (const [minute, value] of [
      [1, 2],
      [1, 5],
      [3, 4],
    ] as const)
      sink.put(metric("Lag"), value, at(minute));
    expect([...sink.series(metric("Lag"), "Maximum")]).toEqual([
      [1, 5],
      [3, 4],
    ]);
    expect([...sink.series(metric("Lag"), "Sum")]).toEqual([
      [1, 7],
      [3, 4],
    ]);
    expect([...sink.series(metric("Lag"), "SampleCount", 5)]).toEqual([[0, 3]]);
    // CloudWatch matches the whole dimension set.
    expect(sink.series(metric("Lag", { FunctionName: "f" }), "Maximum").size).toBe(0);
  });

  it("takes each metric of an embedded-metric line once per dimension set, at the line's timestamp", () => {
    const sink = new MetricSink();
    const line = {
      _aws: {
        Timestamp: at(7),
        CloudWatchMetrics: [
          { Namespace: "SalesStreamAnalytics", Dimensions: [["service"]], Metrics: [{ Name: "WatermarkAdvances", Unit: "Count" }] },
        ],
      },
      service: "aggregate",
      WatermarkAdvances: 3,
      RecordsIn: 9,
    };
    sink.ingestLogLine("AggregateFunction", JSON.stringify(line));
    sink.ingestLogLine("AggregateFunction", '{"level":"INFO","message":"batch aggregated"}');
    sink.ingestLogLine("AggregateFunction", "START RequestId: 1");
    const advances = { namespace: "SalesStreamAnalytics", name: "WatermarkAdvances", dimensions: { service: "aggregate" } };
    expect([...sink.series(advances, "Sum")]).toEqual([[7, 3]]);
    // RecordsIn is in the object but not declared in the directive: CloudWatch takes only declared metrics.
    expect(sink.datapoints()).toHaveLength(1);
    expect(() => sink.ingestLogLine("F", JSON.stringify({ _aws: { CloudWatchMetrics: [] } }))).toThrow("F: an embedded-metric line needs");
  });

  it("shrinks a minute for a test that compresses time, and refuses a senseless one", () => {
    const sink = new MetricSink({ minuteMs: 1000 });
    expect(sink.minuteOf(61_500)).toBe(61);
    expect(() => new MetricSink({ minuteMs: 0 })).toThrow("minuteMs");
  });
});

describe("CloudWatch's alarm rules: M of the last N periods, and missing data", () => {
  it("goes to ALARM once M of the last N periods breach, and back to OK", () => {
    const sink = new MetricSink();
    for (const minute of [2, 4, 5]) sink.put(metric("Errors"), 1, at(minute));
    for (const minute of [0, 1, 3, 6, 7, 8]) sink.put(metric("Errors"), 0, at(minute));
    expect(states(errorsAlarm({ DatapointsToAlarm: 2 }), sink, 2, 8)).toEqual(["OK", "OK", "ALARM", "ALARM", "ALARM", "OK", "OK"]);
    expect(states(errorsAlarm(), sink, 2, 8)).toEqual(["OK", "OK", "OK", "OK", "OK", "OK", "OK"]);
  });

  it("counts missing periods as TreatMissingData says", () => {
    const sink = new MetricSink();
    sink.put(metric("Errors"), 1, at(4));
    const alarm = (treat: string) => errorsAlarm({ TreatMissingData: treat, EvaluationPeriods: "3", DatapointsToAlarm: "1" });
    expect(states(alarm("notBreaching"), sink, 3, 8)).toEqual(["OK", "ALARM", "ALARM", "ALARM", "OK", "OK"]);
    expect(states(alarm("breaching"), sink, 3, 8)).toEqual(["ALARM", "ALARM", "ALARM", "ALARM", "ALARM", "ALARM"]);
    expect(states(alarm("missing"), sink, 0, 8)).toEqual([
      "INSUFFICIENT_DATA",
      "INSUFFICIENT_DATA",
      "INSUFFICIENT_DATA",
      "INSUFFICIENT_DATA",
      "ALARM",
      "ALARM",
      "ALARM",
      "INSUFFICIENT_DATA",
      "INSUFFICIENT_DATA",
    ]);
    // ignore: with no data at all in the range, the state stays what it was.
    expect(states(alarm("ignore"), sink, 3, 8)).toEqual(["INSUFFICIENT_DATA", "ALARM", "ALARM", "ALARM", "ALARM", "ALARM"]);
  });

  it("evaluates whole periods of a longer Period", () => {
    const sink = new MetricSink();
    sink.put(metric("Errors"), 1, at(7));
    expect(evaluateAlarm(errorsAlarm({ Period: 300, EvaluationPeriods: 1 }), sink, 0, 14).map((e) => [e.period, e.state])).toEqual([
      [0, "INSUFFICIENT_DATA"],
      [5, "ALARM"],
      [10, "INSUFFICIENT_DATA"],
    ]);
  });

  it("refuses what it does not evaluate, naming it", () => {
    const sink = new MetricSink();
    expect(() => evaluateAlarm(errorsAlarm({ Statistic: "p99" }), sink, 0, 1)).toThrow('errors.Statistic: statistic "p99"');
    expect(() => evaluateAlarm(errorsAlarm({ ComparisonOperator: "LessThanLowerThreshold" }), sink, 0, 1)).toThrow(
      "LessThanLowerThreshold",
    );
    expect(() => evaluateAlarm(errorsAlarm({ DatapointsToAlarm: 4 }), sink, 0, 1)).toThrow(
      "DatapointsToAlarm 4 exceeds EvaluationPeriods 3",
    );
    expect(() => evaluateExpression("ANOMALY_DETECTION_BAND(m)", new Map([["m", new Map()]]), [])).toThrow(
      "function ANOMALY_DETECTION_BAND is not supported",
    );
    expect(() => evaluateExpression("m > ", new Map([["m", new Map()]]), [])).toThrow("unexpected end");
  });
});

describe("metric math", () => {
  const queries = new Map([
    [
      "a",
      new Map([
        [1, 3],
        [2, 0],
      ]),
    ],
    ["b", new Map([[2, 5]])],
  ]);
  /** The expression's value by period, over queries a (periods 1, 2) and b (period 2); the timeline is 1 to 3. */
  const run = (expression: string) => Object.fromEntries(evaluateExpression(expression, queries, [1, 2, 3]));

  it("fills the periods where any query has data, and combines series where both have a value", () => {
    expect(run("FILL(b, 0)")).toEqual({ 1: 0, 2: 5, 3: 0 });
    expect(run("a + b")).toEqual({ 2: 5 });
    expect(run("a * 2 - 1")).toEqual({ 1: 5, 2: -1 });
  });

  it("compares to 1 or 0, joins with AND and OR, chooses with IF, and reduces arrays with MAX, MIN and SUM", () => {
    expect(run("IF(FILL(a, 0) > 0 AND FILL(b, 0) == 0, 1, 0)")).toEqual({ 1: 1, 2: 0, 3: 0 });
    expect(run("a > 1 OR b >= 5")).toEqual({ 2: 1 });
    expect(run("MAX([FILL(a, 0), FILL(b, 0)])")).toEqual({ 1: 3, 2: 5, 3: 0 });
    expect(run("MAX([a, b])")).toEqual({ 1: 3, 2: 5 });
    expect(run("SUM([a, b])")).toEqual({ 1: 3, 2: 5 });
    expect(run("MIN([a, b])")).toEqual({ 1: 3, 2: 0 });
  });
});

describe("template.yaml's aggregate alarms over minutes of synthetic metrics", () => {
  const ctx = localStackContext();
  const alarm = (id: string) => resolveValue(ctx, ctx.template.Resources[id]?.Properties, id) as AlarmProperties;
  const dimensionsOf = (id: string, metricName: string) => {
    const query = alarm(id).Metrics?.find((q) => q.MetricStat?.Metric.MetricName === metricName);
    return Object.fromEntries((query?.MetricStat?.Metric.Dimensions ?? []).map((d) => [d.Name, d.Value]));
  };
  const stalled = alarm("AggregateWatermarkStalledAlarm");
  const minutes = Number(stalled.EvaluationPeriods);
  const put = (sink: MetricSink, namespace: string, name: string, value: number, minute: number) =>
    sink.put({ namespace, name, dimensions: dimensionsOf("AggregateWatermarkStalledAlarm", name) }, value, at(minute));

  it("stays OK on a new stack with no data, and on a quiet one whose group lag is 0", () => {
    const sink = new MetricSink();
    expect(states(stalled, sink, 0, 30).every((s) => s === "OK")).toBe(true);
    for (let minute = 0; minute <= 30; minute++) put(sink, "AWS/Kafka", "SumOffsetLag", 0, minute);
    expect(states(stalled, sink, 0, 30).every((s) => s === "OK")).toBe(true);
  });

  it("stays OK under sparse sales, each written late in a minute and applied early in the next", () => {
    const sink = new MetricSink();
    for (let minute = 0; minute <= 30; minute += 1) {
      put(sink, "AWS/Kafka", "MessagesInPerSec", 1 / 60, minute);
      put(sink, "AWS/Kafka", "SumOffsetLag", 1, minute);
      if (minute > 0) put(sink, "SalesStreamAnalytics", "WatermarkAdvances", 1, minute);
    }
    expect(states(stalled, sink, 0, 30).filter((s) => s === "ALARM")).toEqual([]);
  });

  it("fires WatermarkStallMinutes after a mapping that cannot poll stops: only the broker's lag is left", () => {
    const sink = new MetricSink();
    for (let minute = 0; minute < 5; minute++) {
      put(sink, "AWS/Lambda", "OffsetLag", 0, minute);
      put(sink, "AWS/Kafka", "SumOffsetLag", 0, minute);
      put(sink, "SalesStreamAnalytics", "WatermarkAdvances", 1, minute);
    }
    // From minute 5 the mapping publishes nothing; sales wait on the broker.
    for (let minute = 5; minute <= 30; minute++) put(sink, "AWS/Kafka", "SumOffsetLag", minute, minute);
    const fired = evaluateAlarm(stalled, sink, 0, 30).find((e) => e.state === "ALARM");
    expect(fired?.period).toBe(5 + minutes - 1);
    // The alarm as it was (OffsetLag only) saw no data: with missing data not breaching, silence.
    const before = { ...stalled, Metrics: [...(stalled.Metrics ?? [])] };
    const withoutBroker = {
      ...before,
      Metrics: before.Metrics.map((q) =>
        q.ReturnData === true ? { ...q, Expression: "IF(FILL(lag, 0) > 0 AND FILL(advances, 0) == 0, 1, 0)" } : q,
      ),
    };
    expect(states(withoutBroker, sink, 0, 30)).not.toContain("ALARM");
  });

  it("fires the lag alarm on the broker's lag alone, past its threshold for its minutes", () => {
    const lagAlarm = alarm("AggregateOffsetLagAlarm");
    const sink = new MetricSink();
    const threshold = Number(lagAlarm.Threshold);
    for (let minute = 0; minute <= 30; minute++)
      sink.put(
        { namespace: "AWS/Kafka", name: "SumOffsetLag", dimensions: dimensionsOf("AggregateOffsetLagAlarm", "SumOffsetLag") },
        minute >= 10 ? threshold + 1 : threshold,
        at(minute),
      );
    const fired = evaluateAlarm(lagAlarm, sink, 0, 30).find((e) => e.state === "ALARM");
    expect(fired?.period).toBe(10 + Number(lagAlarm.EvaluationPeriods) - 1);
  });
});
