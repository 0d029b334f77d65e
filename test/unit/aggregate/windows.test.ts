import { describe, expect, it } from "vitest";
import { parseDuration, parseWindow, parseWindows, windowStarts } from "#shared/windows/windows";

const at = (iso: string) => Date.parse(iso);

describe("event-time windows", () => {
  it("parses tumbling and hopping specs and rejects malformed ones with the text", () => {
    expect(parseWindow("10m/5m")).toEqual({ name: "10m/5m", sizeMs: 600_000, advanceMs: 300_000, tumbling: false });
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
});
