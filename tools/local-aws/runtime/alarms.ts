import { type Dimensions, type MetricSink, STATISTICS, type Statistic } from "./metrics.ts";

/**
 * CloudWatch's alarm rules, evaluated over a MetricSink: what the template's
 * AWS::CloudWatch::Alarm resources (their intrinsics resolved) would say about the metrics the
 * local stack published. It covers what the template uses, and refuses the rest by name:
 * - one metric (Namespace, MetricName, Dimensions, Statistic, Period), or Metrics with MetricStat
 *   queries and one expression of the metric math subset below, returning data;
 * - Threshold and the four static ComparisonOperators; EvaluationPeriods N, DatapointsToAlarm M:
 *   the alarm is in ALARM when M of the last N periods breach
 *   (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/AlarmThatSendsEmail.html);
 * - TreatMissingData: breaching and notBreaching count a missing period as breaching or not;
 *   ignore keeps the state when every period is missing; missing (the default) then goes to
 *   INSUFFICIENT_DATA (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/alarms-and-missing-data.html).
 *   CloudWatch also widens the range it reads when data is missing; that is not modelled.
 * - Metric math (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/using-metric-math.html):
 *   numbers, query ids, + - * /, comparisons (> < >= <= == !=, 1 or 0), AND, OR, IF(c, a, b),
 *   FILL(series, number), and MAX, MIN, SUM of [series, ...]. Two series combine at the periods
 *   where both have a value. FILL fills the periods where any of the alarm's queries has a value
 *   (this evaluator's reading: a series with no data anywhere stays without data); with missing
 *   data not breaching, as in every alarm of the template, the outcome is the same either way.
 */
export type AlarmState = "OK" | "ALARM" | "INSUFFICIENT_DATA";

type Series = Map<number, number>;

const COMPARISONS = {
  GreaterThanThreshold: (v: number, t: number) => v > t,
  GreaterThanOrEqualToThreshold: (v: number, t: number) => v >= t,
  LessThanThreshold: (v: number, t: number) => v < t,
  LessThanOrEqualToThreshold: (v: number, t: number) => v <= t,
} as const;

const MISSING_DATA = ["breaching", "notBreaching", "ignore", "missing"] as const;

interface MetricQuery {
  readonly Id: string;
  readonly ReturnData?: boolean;
  readonly Expression?: string;
  readonly MetricStat?: {
    readonly Metric: {
      readonly Namespace: string;
      readonly MetricName: string;
      readonly Dimensions?: readonly { Name: string; Value: string }[];
    };
    readonly Period: number;
    readonly Stat: string;
  };
}

/** An AWS::CloudWatch::Alarm's Properties with its intrinsics resolved (numbers may be numeric strings, as CloudFormation passes them). */
export interface AlarmProperties {
  readonly AlarmName?: string;
  readonly Namespace?: string;
  readonly MetricName?: string;
  readonly Dimensions?: readonly { Name: string; Value: string }[];
  readonly Statistic?: string;
  readonly Period?: number | string;
  readonly Metrics?: readonly MetricQuery[];
  readonly EvaluationPeriods: number | string;
  readonly DatapointsToAlarm?: number | string;
  readonly Threshold: number | string;
  readonly ComparisonOperator: string;
  readonly TreatMissingData?: string;
}

/** The alarm's state after one period, with the periods it read (a value, or undefined when missing). */
export interface AlarmEvaluation {
  /** The period (its first minute of the sink) the evaluation ends with. */
  readonly period: number;
  readonly state: AlarmState;
  readonly values: readonly (number | undefined)[];
}

const dimensionsOf = (list: readonly { Name: string; Value: string }[] = []): Dimensions =>
  Object.fromEntries(list.map(({ Name, Value }) => [Name, String(Value)]));

function statisticNamed(name: string | undefined, where: string): Statistic {
  if (!STATISTICS.includes(name as Statistic))
    throw new Error(`${where}: statistic ${JSON.stringify(name)} is not one of ${STATISTICS.join(", ")}`);
  return name as Statistic;
}

function positiveInteger(value: unknown, where: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${where} must be a positive integer, got ${JSON.stringify(value)}`);
  return n;
}

/** The series the alarm compares with its threshold, by period of `periodMinutes` sink minutes. Throws naming what it does not support. */
function alarmSeries(alarm: AlarmProperties, sink: MetricSink, name: string): { series: Series; periodMinutes: number } {
  if (alarm.Metrics === undefined) {
    if (alarm.Namespace === undefined || alarm.MetricName === undefined)
      throw new Error(`${name}: needs MetricName and Namespace, or Metrics`);
    const periodMinutes = positiveInteger(Number(alarm.Period) / 60, `${name}.Period / 60`);
    const statistic = statisticNamed(alarm.Statistic, `${name}.Statistic`);
    const metric = { namespace: alarm.Namespace, name: alarm.MetricName, dimensions: dimensionsOf(alarm.Dimensions) };
    return { series: sink.series(metric, statistic, periodMinutes), periodMinutes };
  }
  const stats = alarm.Metrics.filter((q) => q.MetricStat !== undefined);
  const periods = new Set(stats.map((q) => Number(q.MetricStat?.Period)));
  if (periods.size !== 1) throw new Error(`${name}: every MetricStat of an alarm needs the same Period, got ${[...periods].join(", ")}`);
  const periodMinutes = positiveInteger(Number([...periods][0]) / 60, `${name}.Metrics Period / 60`);
  const byId = new Map<string, Series>();
  for (const query of stats) {
    const stat = query.MetricStat as NonNullable<MetricQuery["MetricStat"]>;
    const metric = { namespace: stat.Metric.Namespace, name: stat.Metric.MetricName, dimensions: dimensionsOf(stat.Metric.Dimensions) };
    byId.set(query.Id, sink.series(metric, statisticNamed(stat.Stat, `${name}.Metrics[${query.Id}].MetricStat.Stat`), periodMinutes));
  }
  const timeline = [...new Set([...byId.values()].flatMap((s) => [...s.keys()]))].sort((a, b) => a - b);
  const returned = alarm.Metrics.filter((q) => q.ReturnData !== false);
  if (returned.length !== 1) throw new Error(`${name}: exactly one query of Metrics must return data, got ${returned.length}`);
  const [result] = returned as [MetricQuery];
  if (result.Expression === undefined) return { series: byId.get(result.Id) ?? new Map(), periodMinutes };
  for (const query of alarm.Metrics.filter((q) => q.Expression !== undefined && q !== result))
    byId.set(query.Id, evaluateExpression(query.Expression as string, byId, timeline));
  return { series: evaluateExpression(result.Expression, byId, timeline), periodMinutes };
}

/**
 * Evaluates `alarm` at the end of every period from `fromMinute` to `toMinute` (sink minutes,
 * inclusive) over what `sink` holds, starting in INSUFFICIENT_DATA as a new alarm does. Throws
 * naming the property or expression it does not support.
 */
export function evaluateAlarm(alarm: AlarmProperties, sink: MetricSink, fromMinute: number, toMinute: number): AlarmEvaluation[] {
  const name = alarm.AlarmName ?? "alarm";
  const compare = COMPARISONS[alarm.ComparisonOperator as keyof typeof COMPARISONS];
  if (compare === undefined)
    throw new Error(`${name}: ComparisonOperator ${alarm.ComparisonOperator} is not one of ${Object.keys(COMPARISONS).join(", ")}`);
  const treatMissing = (alarm.TreatMissingData ?? "missing") as (typeof MISSING_DATA)[number];
  if (!MISSING_DATA.includes(treatMissing))
    throw new Error(`${name}: TreatMissingData ${alarm.TreatMissingData} is not one of ${MISSING_DATA.join(", ")}`);
  const n = positiveInteger(alarm.EvaluationPeriods, `${name}.EvaluationPeriods`);
  const m = positiveInteger(alarm.DatapointsToAlarm ?? n, `${name}.DatapointsToAlarm`);
  if (m > n) throw new Error(`${name}: DatapointsToAlarm ${m} exceeds EvaluationPeriods ${n}`);
  const threshold = Number(alarm.Threshold);
  if (!Number.isFinite(threshold)) throw new Error(`${name}: Threshold must be a number, got ${JSON.stringify(alarm.Threshold)}`);
  const { series, periodMinutes } = alarmSeries(alarm, sink, name);
  const evaluations: AlarmEvaluation[] = [];
  let state: AlarmState = "INSUFFICIENT_DATA";
  const first = fromMinute - (fromMinute % periodMinutes);
  for (let period = first; period <= toMinute; period += periodMinutes) {
    const values = Array.from({ length: n }, (_, i) => series.get(period - (n - 1 - i) * periodMinutes));
    const present = values.filter((v): v is number => v !== undefined);
    const breaching =
      present.filter((v) => compare(v, threshold)).length + (treatMissing === "breaching" ? values.length - present.length : 0);
    const allMissing = present.length === 0 && (treatMissing === "missing" || treatMissing === "ignore");
    // ignore keeps the state it had; missing has nothing to go on.
    if (allMissing && treatMissing === "missing") state = "INSUFFICIENT_DATA";
    else if (!allMissing) state = breaching >= m ? "ALARM" : "OK";
    evaluations.push({ period, state, values });
  }
  return evaluations;
}

// ---- Metric math ----------------------------------------------------------------------------------

type Value = number | Series | Value[];

const TOKEN = /\s*(?:(\d+(?:\.\d+)?)|([A-Za-z_][A-Za-z0-9_]*)|(>=|<=|==|!=|[-+*/()<>,[\]]))/y;

function tokenize(expression: string): string[] {
  const tokens: string[] = [];
  TOKEN.lastIndex = 0;
  while (TOKEN.lastIndex < expression.length) {
    if (/^\s*$/.test(expression.slice(TOKEN.lastIndex))) break;
    const at = TOKEN.lastIndex;
    const match = TOKEN.exec(expression);
    if (match === null)
      throw new Error(`metric math: cannot read ${JSON.stringify(expression.slice(at))} in ${JSON.stringify(expression)}`);
    tokens.push(match[1] ?? match[2] ?? match[3] ?? "");
  }
  return tokens;
}

/** `a op b` at each period: a number with a series applies to each value; two series meet where both have one. */
function combine(a: Value, b: Value, op: (x: number, y: number) => number): Value {
  if (Array.isArray(a) || Array.isArray(b)) throw new Error("metric math: an array ([...]) can only be the argument of MAX, MIN or SUM");
  if (typeof a === "number" && typeof b === "number") return op(a, b);
  if (typeof a === "number") return new Map([...(b as Series)].map(([k, v]) => [k, op(a, v)]));
  if (typeof b === "number") return new Map([...a].map(([k, v]) => [k, op(v, b)]));
  return new Map([...a].filter(([k]) => b.has(k)).map(([k, v]) => [k, op(v, b.get(k) as number)]));
}

const BINARY: Record<string, { precedence: number; op: (x: number, y: number) => number }> = {
  OR: { precedence: 1, op: (x, y) => (x !== 0 || y !== 0 ? 1 : 0) },
  AND: { precedence: 2, op: (x, y) => (x !== 0 && y !== 0 ? 1 : 0) },
  "==": { precedence: 3, op: (x, y) => (x === y ? 1 : 0) },
  "!=": { precedence: 3, op: (x, y) => (x !== y ? 1 : 0) },
  ">": { precedence: 3, op: (x, y) => (x > y ? 1 : 0) },
  "<": { precedence: 3, op: (x, y) => (x < y ? 1 : 0) },
  ">=": { precedence: 3, op: (x, y) => (x >= y ? 1 : 0) },
  "<=": { precedence: 3, op: (x, y) => (x <= y ? 1 : 0) },
  "+": { precedence: 4, op: (x, y) => x + y },
  "-": { precedence: 4, op: (x, y) => x - y },
  "*": { precedence: 5, op: (x, y) => x * y },
  "/": { precedence: 5, op: (x, y) => x / y },
};

/**
 * Evaluates a metric math `expression` over the queries `byId`; `timeline` is the periods where
 * any query has a value (what FILL fills). Throws naming what it cannot read or does not support.
 */
export function evaluateExpression(expression: string, byId: ReadonlyMap<string, Series>, timeline: readonly number[]): Series {
  const tokens = tokenize(expression);
  let at = 0;
  const fail = (why: string): never => {
    throw new Error(`metric math: ${why} in ${JSON.stringify(expression)}`);
  };
  const expect = (token: string) => {
    if (tokens[at] !== token) fail(`expected ${token} at token ${at + 1}, got ${tokens[at] ?? "the end"}`);
    at++;
  };
  const list = (close: string): Value[] => {
    const items: Value[] = [];
    if (tokens[at] !== close)
      for (;;) {
        items.push(binary(1));
        if (tokens[at] !== ",") break;
        at++;
      }
    expect(close);
    return items;
  };
  const asSeries = (value: Value): Series =>
    value instanceof Map
      ? value
      : typeof value === "number"
        ? new Map(timeline.map((k) => [k, value]))
        : fail("an array where a series was expected");
  const call = (name: string, args: Value[]): Value => {
    if (name === "FILL") {
      const [series, fill] = args;
      if (args.length !== 2 || typeof fill !== "number") return fail("FILL takes a series and a number");
      const values = asSeries(series as Value);
      return new Map(timeline.map((k) => [k, values.get(k) ?? fill]));
    }
    if (name === "IF") {
      const [condition, then, otherwise] = args;
      if (args.length !== 3) return fail("IF takes a condition and two values");
      const c = asSeries(condition as Value);
      return new Map(
        [...c].flatMap(([k, v]) => {
          const chosen = v !== 0 ? then : otherwise;
          const value = typeof chosen === "number" ? chosen : asSeries(chosen as Value).get(k);
          return value === undefined ? [] : [[k, value] as [number, number]];
        }),
      );
    }
    if (name === "MAX" || name === "MIN" || name === "SUM") {
      const [items] = args;
      if (args.length !== 1 || !Array.isArray(items)) return fail(`${name} takes one array of series`);
      const reduce = { MAX: Math.max, MIN: Math.min, SUM: (...xs: number[]) => xs.reduce((a, b) => a + b, 0) }[name];
      const all = items.map(asSeries);
      const periods = [...new Set(all.flatMap((s) => [...s.keys()]))].sort((a, b) => a - b);
      return new Map(periods.map((k) => [k, reduce(...all.flatMap((s) => (s.has(k) ? [s.get(k) as number] : [])))]));
    }
    return fail(`function ${name} is not supported`);
  };
  const primary = (): Value => {
    const token = tokens[at++];
    if (token === undefined) return fail("unexpected end");
    if (token === "(") {
      const value = binary(1);
      expect(")");
      return value;
    }
    if (token === "[") return list("]");
    if (token === "-") return combine(0, primary(), (x, y) => x - y);
    if (/^\d/.test(token)) return Number(token);
    if (/^[A-Za-z_]/.test(token)) {
      if (tokens[at] === "(") {
        at++;
        return call(token.toUpperCase(), list(")"));
      }
      const series = byId.get(token);
      return series ?? fail(`no query with id ${token}`);
    }
    return fail(`unexpected ${token}`);
  };
  const binary = (minPrecedence: number): Value => {
    let left = primary();
    for (;;) {
      const operator = BINARY[tokens[at]?.toUpperCase() ?? ""];
      if (operator === undefined || operator.precedence < minPrecedence) return left;
      at++;
      left = combine(left, binary(operator.precedence + 1), operator.op);
    }
  };
  const result = binary(1);
  if (at !== tokens.length) fail(`unexpected ${tokens[at]}`);
  return asSeries(result);
}
