import { ConfigError } from "../config/env.ts";

/**
 * Event-time windows. A window spec is tumbling ("1m": size = advance) or hopping
 * ("10m/5m": size 10 min, a new window every 5 min). Window starts lie on a grid of the advance
 * from a fixed origin (`originMs`), so every function and query computes the same boundaries:
 * the epoch, whose grid puts whole hours on the hour and whole days on UTC midnight; or, for an
 * advance of whole weeks, Monday 00:00 UTC, so weeks are ISO weeks (the epoch was a Thursday).
 * "all" is the all-time window: one instance, from the epoch to the end of representable time,
 * so it is never late and never closes, and every other computation (slices, rollups, series)
 * treats it as any tumbling window.
 */
export interface WindowSpec {
  /** As users write it and as items store it: "1m", "10m/5m", "1w", "all". */
  readonly name: string;
  readonly sizeMs: number;
  readonly advanceMs: number;
  readonly tumbling: boolean;
  /** The all-time window: a single instance starting at the epoch that never ends. */
  readonly unbounded: boolean;
  /** Window starts are `originMs + k * advanceMs` for whole k: 0 (the epoch) or ISO_WEEK_ORIGIN_MS. */
  readonly originMs: number;
}

const DAY_MS = 86_400_000;
/** A week in milliseconds: the unit "w", and the step from which a grid starts on Mondays. */
export const WEEK_MS = 7 * DAY_MS;

/**
 * Monday 1969-12-29 00:00 UTC, the first day of ISO week 1970-W01: the origin of every grid whose
 * advance is a whole number of weeks ("1w", "2w", "4w/1w", and "7d" too), so a week window runs
 * Monday to Monday (ISO 8601 weeks start on Monday). Grids of 2 weeks or more step from it.
 */
export const ISO_WEEK_ORIGIN_MS = -3 * DAY_MS;

/** Name of the all-time window in WINDOWS and in items. */
export const ALL_TIME = "all";

/**
 * Where the all-time window "ends": the largest epoch milliseconds a Date holds. No watermark
 * (an event time, at most year 9999) reaches it, so no record is late for it and it never closes.
 */
export const UNBOUNDED_END_MS = 8.64e15;

const allTime: WindowSpec = Object.freeze({
  name: ALL_TIME,
  sizeMs: UNBOUNDED_END_MS,
  advanceMs: UNBOUNDED_END_MS,
  tumbling: true,
  unbounded: true,
  originMs: 0,
});

const units: Readonly<Record<string, number>> = { s: 1000, m: 60_000, h: 3_600_000, d: DAY_MS, w: WEEK_MS };

/** Parses "90s", "10m", "1h", "1d", "1w" into milliseconds. Throws ConfigError naming the bad text. */
export function parseDuration(text: string): number {
  const match = /^(\d+)([smhdw])$/.exec(text.trim());
  const value = Number(match?.[1]);
  const unit = units[match?.[2] ?? ""];
  if (match === null || unit === undefined || !Number.isSafeInteger(value * unit) || value <= 0) {
    throw new ConfigError(`"${text}" is not a duration; expected a positive whole number of s, m, h, d or w (e.g. 10m)`);
  }
  return value * unit;
}

/** Parses "10m/5m" (hopping), "1h" (tumbling) or "all" (all-time). Throws ConfigError when it is malformed or the advance does not divide the size. */
export function parseWindow(text: string): WindowSpec {
  if (text.trim() === ALL_TIME) return allTime;
  const [size, advance, extra] = text.trim().split("/");
  if (size === undefined || extra !== undefined) throw new ConfigError(`"${text}" is not a window; expected <size> or <size>/<advance>`);
  const sizeMs = parseDuration(size);
  const advanceMs = advance === undefined ? sizeMs : parseDuration(advance);
  if (advanceMs > sizeMs || sizeMs % advanceMs !== 0) {
    throw new ConfigError(`window "${text}": the advance must divide the size (e.g. 10m/5m)`);
  }
  const tumbling = advanceMs === sizeMs;
  const originMs = advanceMs % WEEK_MS === 0 ? ISO_WEEK_ORIGIN_MS : 0;
  return { name: tumbling ? size.trim() : `${size.trim()}/${advance?.trim()}`, sizeMs, advanceMs, tumbling, unbounded: false, originMs };
}

/** Parses a comma-separated list of windows; throws ConfigError on a bad window or a duplicate. */
export function parseWindows(text: string): readonly WindowSpec[] {
  const specs = text.split(",").map((part) => parseWindow(part));
  const names = new Set(specs.map((spec) => spec.name));
  if (names.size !== specs.length) throw new ConfigError(`"${text}" names a window twice`);
  return specs;
}

/** The latest start of `spec`'s grid at or before `time`. */
const floorToGrid = (spec: WindowSpec, time: number) =>
  spec.originMs + Math.floor((time - spec.originMs) / spec.advanceMs) * spec.advanceMs;
/** The earliest start of `spec`'s grid at or after `time`. */
const ceilToGrid = (spec: WindowSpec, time: number) => spec.originMs + Math.ceil((time - spec.originMs) / spec.advanceMs) * spec.advanceMs;

/** Starts of every window of `spec` that contains `time`, earliest first (one for tumbling windows). */
export function windowStarts(spec: WindowSpec, time: number): number[] {
  // Every record, whatever its date (the aggregator admits dates before 1970 too), is all-time.
  if (spec.unbounded) return [0];
  const latest = floorToGrid(spec, time);
  const starts: number[] = [];
  for (let start = latest - spec.sizeMs + spec.advanceMs; start <= latest; start += spec.advanceMs) starts.push(start);
  return starts;
}

/** The window of `spec` that contains `time` and started last. */
export function latestWindowStart(spec: WindowSpec, time: number): number {
  return spec.unbounded ? 0 : floorToGrid(spec, time);
}

/**
 * The stretch of `spec`'s grid whose windows cover [from, to): `from` floored and `to` ceiled to
 * the grid, and at least one window long. A series answers the windows inside it. Pure; the
 * caller bounds the number of windows (and the all-time window covers everything: [0, its end)).
 */
export function coveringRange(spec: WindowSpec, from: number, to: number): { from: number; to: number } {
  if (spec.unbounded) return { from: 0, to: UNBOUNDED_END_MS };
  const first = floorToGrid(spec, from);
  const end = ceilToGrid(spec, to);
  return { from: first, to: Math.max(end, first + spec.sizeMs) };
}
