import { describe, expect, it } from "vitest";
import { coveringRange, latestWindowStart, parseDuration, parseWindow, parseWindows, windowStarts } from "#shared/windows/windows";

const at = (iso: string) => Date.parse(iso);

describe("event-time windows", () => {
  it("parses tumbling and hopping specs and rejects malformed ones with the text", () => {
    expect(parseWindow("10m/5m")).toEqual({ name: "10m/5m", sizeMs: 600_000, advanceMs: 300_000, tumbling: false, unbounded: false });
    expect(parseWindow("1d")).toMatchObject({ name: "1d", tumbling: true, sizeMs: 86_400_000 });
    expect(parseDuration("90s")).toBe(90_000);
    for (const bad of ["", "10", "10x", "0m", "10m/3m", "5m/10m", "1m/1m/1m"]) expect(() => parseWindow(bad), bad).toThrow();
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
});
