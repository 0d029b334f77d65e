import { describe, expect, it } from "vitest";
import {
  coveringRange,
  ISO_WEEK_ORIGIN_MS,
  latestWindowStart,
  parseDuration,
  parseWindow,
  parseWindows,
  WEEK_MS,
  windowStarts,
} from "#shared/windows/windows";

const at = (iso: string) => Date.parse(iso);

describe("event-time windows", () => {
  it("parses tumbling and hopping specs and rejects malformed ones with the text", () => {
    expect(parseWindow("10m/5m")).toEqual({
      name: "10m/5m",
      sizeMs: 600_000,
      advanceMs: 300_000,
      tumbling: false,
      unbounded: false,
      originMs: 0,
    });
    expect(parseWindow("1d")).toMatchObject({ name: "1d", tumbling: true, sizeMs: 86_400_000 });
    expect(parseDuration("90s")).toBe(90_000);
    expect(parseDuration("2w")).toBe(14 * 86_400_000);
    for (const bad of ["", "10", "10x", "0m", "10m/3m", "5m/10m", "1m/1m/1m", "1w/3d", "99999999999w"])
      expect(() => parseWindow(bad), bad).toThrow();
    expect(() => parseDuration("1y")).toThrow('"1y" is not a duration; expected a positive whole number of s, m, h, d or w (e.g. 10m)');
    expect(() => parseWindows("1m,1m")).toThrow(/twice/);
  });

  it("puts a time in one tumbling window and in size/advance hopping windows", () => {
    const t = at("2022-08-01T10:17:30Z");
    expect(windowStarts(parseWindow("1m"), t)).toEqual([at("2022-08-01T10:17:00Z")]);
    expect(windowStarts(parseWindow("10m/5m"), t)).toEqual([at("2022-08-01T10:10:00Z"), at("2022-08-01T10:15:00Z")]);
    expect(windowStarts(parseWindow("1h"), t)).toEqual([at("2022-08-01T10:00:00Z")]);
    expect(windowStarts(parseWindow("1d"), t)).toEqual([at("2022-08-01T00:00:00Z")]);
  });

  it("treats a window's start as inside and its end as outside", () => {
    const spec = parseWindow("10m/5m");
    expect(windowStarts(spec, at("2022-08-01T10:15:00Z"))).toEqual([at("2022-08-01T10:10:00Z"), at("2022-08-01T10:15:00Z")]);
    expect(windowStarts(spec, at("2022-08-01T10:14:59.999Z"))).toEqual([at("2022-08-01T10:05:00Z"), at("2022-08-01T10:10:00Z")]);
  });

  it("keeps one all-time window that every record falls in and that never ends", () => {
    const all = parseWindow("all");
    expect(all).toMatchObject({ name: "all", tumbling: true, unbounded: true });
    expect(parseWindows("1m,all").map((w) => w.name)).toEqual(["1m", "all"]);
    for (const t of [0, at("2022-08-01T10:17:30Z"), at("9999-12-31T23:59:59.999Z"), -86_400_000]) expect(windowStarts(all, t)).toEqual([0]);
    expect(latestWindowStart(all, at("2022-08-01T10:17:30Z"))).toBe(0);
    // No watermark (an event time up to year 9999) plus any lateness ever reaches its end.
    expect(all.sizeMs).toBeGreaterThan(at("9999-12-31T23:59:59.999Z") + 365 * 86_400_000);
    expect(new Date(all.sizeMs).getTime()).toBe(all.sizeMs);
    expect(() => parseWindows("all,all")).toThrow(/twice/);
  });

  it("widens a range to the grid windows that cover it", () => {
    expect(coveringRange(parseWindow("1h"), at("2022-08-01T10:17:00Z"), at("2022-08-01T12:00:00Z"))).toEqual({
      from: at("2022-08-01T10:00:00Z"),
      to: at("2022-08-01T12:00:00Z"),
    });
    expect(coveringRange(parseWindow("10m/5m"), at("2022-08-01T10:17:00Z"), at("2022-08-01T10:18:00Z"))).toEqual({
      from: at("2022-08-01T10:15:00Z"),
      to: at("2022-08-01T10:25:00Z"),
    });
    expect(coveringRange(parseWindow("all"), at("2022-08-01T10:17:00Z"), at("2022-08-01T10:18:00Z"))).toEqual({ from: 0, to: 8.64e15 });
  });

  describe("weeks", () => {
    const DAY = 86_400_000;
    /** Monday 00:00 UTC of the ISO week holding `time`, from the calendar (getUTCDay: 0 is Sunday). */
    const isoMonday = (time: number) => {
      const midnight = Math.floor(time / DAY) * DAY;
      return midnight - ((new Date(time).getUTCDay() + 6) % 7) * DAY;
    };
    const weekday = (time: number) => new Date(time).getUTCDay();

    it("start a 1w window on the Monday 00:00 UTC before, not on the epoch's Thursday", () => {
      const week = parseWindow("1w");
      expect(week).toMatchObject({ name: "1w", sizeMs: WEEK_MS, advanceMs: WEEK_MS, originMs: ISO_WEEK_ORIGIN_MS });
      expect(weekday(ISO_WEEK_ORIGIN_MS)).toBe(1);
      // Sunday's last millisecond is the week before; Monday 00:00 starts the next one.
      expect(windowStarts(week, at("2024-01-07T23:59:59.999Z"))).toEqual([at("2024-01-01T00:00:00Z")]);
      expect(windowStarts(week, at("2024-01-08T00:00:00Z"))).toEqual([at("2024-01-08T00:00:00Z")]);
      expect(latestWindowStart(week, at("2024-01-10T12:00:00Z"))).toBe(at("2024-01-08T00:00:00Z"));
      // The epoch itself (a Thursday) is in ISO week 1970-W01, which began on Monday 29 December 1969.
      expect(windowStarts(week, 0)).toEqual([at("1969-12-29T00:00:00Z")]);
    });

    it("cross the year boundary as ISO weeks do: 2020-W53 ends on 2021-01-04, 2025-W01 begins in 2024", () => {
      const week = parseWindow("1w");
      expect(windowStarts(week, at("2021-01-01T09:00:00Z"))).toEqual([at("2020-12-28T00:00:00Z")]);
      expect(windowStarts(week, at("2021-01-04T00:00:00Z"))).toEqual([at("2021-01-04T00:00:00Z")]);
      expect(windowStarts(week, at("2025-01-01T00:00:00Z"))).toEqual([at("2024-12-30T00:00:00Z")]);
    });

    it("are UTC weeks on every day of several years, daylight-saving changes included", () => {
      const week = parseWindow("1w");
      const sevenDays = parseWindow("7d");
      // Every 7 hours from 2023 to 2026: each weekday and hour, the European and American DST Sundays among them.
      for (let time = at("2023-01-01T00:00:00Z"); time < at("2026-12-31T00:00:00Z"); time += 7 * 3_600_000) {
        expect(latestWindowStart(week, time)).toBe(isoMonday(time));
        expect(latestWindowStart(sevenDays, time)).toBe(isoMonday(time));
      }
      for (const dstSunday of ["2024-03-10T07:30:00Z", "2024-03-31T01:30:00Z", "2024-10-27T00:59:00Z"])
        expect(new Date(latestWindowStart(week, at(dstSunday))).toISOString()).toMatch(/T00:00:00\.000Z$/);
    });

    it("step multiples of a week and hopping windows with a week's advance from Monday to Monday", () => {
      // 2w windows pair weeks counted from 1970-W01: 2024-01-01 starts one, 2020-12-28 is the second week of one.
      expect(windowStarts(parseWindow("2w"), at("2024-01-14T23:59:59Z"))).toEqual([at("2024-01-01T00:00:00Z")]);
      expect(windowStarts(parseWindow("2w"), at("2020-12-30T00:00:00Z"))).toEqual([at("2020-12-21T00:00:00Z")]);
      expect(windowStarts(parseWindow("4w/1w"), at("2024-01-10T00:00:00Z"))).toEqual(
        ["2023-12-18", "2023-12-25", "2024-01-01", "2024-01-08"].map((day) => at(`${day}T00:00:00Z`)),
      );
      // An advance of days keeps the epoch's grid: a rolling week starting every UTC midnight.
      expect(parseWindow("1w/1d").originMs).toBe(0);
      expect(windowStarts(parseWindow("1w/1d"), at("2024-01-10T12:00:00Z"))).toHaveLength(7);
      expect(windowStarts(parseWindow("1w/1d"), at("2024-01-10T12:00:00Z")).at(-1)).toBe(at("2024-01-10T00:00:00Z"));
      expect(coveringRange(parseWindow("1w"), at("2024-01-03T00:00:00Z"), at("2024-01-09T00:00:00Z"))).toEqual({
        from: at("2024-01-01T00:00:00Z"),
        to: at("2024-01-15T00:00:00Z"),
      });
    });

    it("leave day windows on UTC midnight, whatever the local clocks do", () => {
      for (const time of ["2024-03-31T01:30:00Z", "2024-03-10T23:59:59.999Z", "1969-12-31T12:00:00Z"]) {
        const [start] = windowStarts(parseWindow("1d"), at(time));
        expect(new Date(start ?? Number.NaN).toISOString()).toBe(`${time.slice(0, 10)}T00:00:00.000Z`);
      }
      expect(windowStarts(parseWindow("3d"), at("1970-01-05T10:00:00Z"))).toEqual([at("1970-01-04T00:00:00Z")]);
    });
  });
});
