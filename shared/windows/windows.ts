import { ConfigError } from "../config/env.ts";

/**
 * Event-time windows. A window spec is tumbling ("1m": size = advance) or hopping
 * ("10m/5m": size 10 min, a new window every 5 min). Windows are aligned to the epoch, so
 * every function and query computes the same boundaries. "all" is the all-time window: one
 * instance, from the epoch to the end of representable time, so it is never late and never
 * closes, and every other computation (slices, rollups, series) treats it as any tumbling window.
 */
export interface WindowSpec {
  /** As users write it and as items store it: "1m", "10m/5m", "1h", "1d", "all". */
  readonly name: string;
  readonly sizeMs: number;
  readonly advanceMs: number;
  readonly tumbling: boolean;
  /** The all-time window: a single instance starting at the epoch that never ends. */
  readonly unbounded: boolean;
}

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
});

const units: Readonly<Record<string, number>> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Parses "90s", "10m", "1h", "1d" into milliseconds. Throws ConfigError naming the bad text. */
export function parseDuration(text: string): number {
  const match = /^(\d+)([smhd])$/.exec(text.trim());
  const value = Number(match?.[1]);
  const unit = units[match?.[2] ?? ""];
  if (match === null || unit === undefined || !Number.isInteger(value) || value <= 0) {
    throw new ConfigError(`"${text}" is not a duration; expected a positive whole number of s, m, h or d (e.g. 10m)`);
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
  return { name: tumbling ? size.trim() : `${size.trim()}/${advance?.trim()}`, sizeMs, advanceMs, tumbling, unbounded: false };
}

/** Parses a comma-separated list of windows; throws ConfigError on a bad window or a duplicate. */
export function parseWindows(text: string): readonly WindowSpec[] {
  const specs = text.split(",").map((part) => parseWindow(part));
  const names = new Set(specs.map((spec) => spec.name));
  if (names.size !== specs.length) throw new ConfigError(`"${text}" names a window twice`);
  return specs;
}

const floorTo = (time: number, step: number) => Math.floor(time / step) * step;

/** Starts of every window of `spec` that contains `time`, earliest first (one for tumbling windows). */
export function windowStarts(spec: WindowSpec, time: number): number[] {
  // Every record, whatever its date (the aggregator admits dates before 1970 too), is all-time.
  if (spec.unbounded) return [0];
  const latest = floorTo(time, spec.advanceMs);
  const starts: number[] = [];
  for (let start = latest - spec.sizeMs + spec.advanceMs; start <= latest; start += spec.advanceMs) starts.push(start);
  return starts;
}

/** The window of `spec` that contains `time` and started last. */
export function latestWindowStart(spec: WindowSpec, time: number): number {
  return spec.unbounded ? 0 : floorTo(time, spec.advanceMs);
}

/**
 * The stretch of `spec`'s grid whose windows cover [from, to): `from` floored and `to` ceiled to
 * the advance, and at least one window long. A series answers the windows inside it. Pure; the
 * caller bounds the number of windows (and the all-time window covers everything: [0, its end)).
 */
export function coveringRange(spec: WindowSpec, from: number, to: number): { from: number; to: number } {
  if (spec.unbounded) return { from: 0, to: UNBOUNDED_END_MS };
  const first = floorTo(from, spec.advanceMs);
  const end = Math.ceil(to / spec.advanceMs) * spec.advanceMs;
  return { from: first, to: Math.max(end, first + spec.sizeMs) };
}
