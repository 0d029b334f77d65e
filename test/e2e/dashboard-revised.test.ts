import { startTrino } from "@sales-stream-analytics/local-aws";
import { stopProcess } from "@sales-stream-analytics/local-aws/testing";
import type { Browser } from "puppeteer-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { regionOf } from "#shared/sales/regions";
import type { WindowSpec } from "#shared/windows/windows";
import { launchBrowser, saveScreenshot } from "#test/support/browser";
import { request } from "#test/support/http";
import { eventually } from "#test/support/pipeline";
import { startRebuildStack } from "#test/support/rebuild-stack";
import { sampleSales } from "#tools/sales/generator";

/**
 * A restated window on the dashboard, in a real browser (Debian's chromium, headless): history of
 * the two days before today, posted after today's sales (so late, in no day's figures), restated
 * by the product's rebuild from the lake (Trino, the engine behind Athena). The page's final 1d
 * board names the revision (time and reason) beside its window, and the chart's bars of the
 * restated days carry the `revised` class and say so in their tooltips; today's window, which the
 * restatement left alone, shows no mark. Saves a screenshot.
 */
const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;
const countries = ["France", "Germany", "Spain", "India", "Japan", "Brazil"];
const region = "Europe";
let trinoState: "started" | "running";
let browser: Browser;

beforeAll(async () => {
  trinoState = await startTrino();
  browser = await launchBrowser();
}, 300_000);
afterAll(async () => {
  await browser?.close();
  if (trinoState === "started") await stopProcess("trino");
}, 120_000);

const iso = (ms: number) => new Date(ms).toISOString();
/** A day window as the page writes it (the header and the tooltips alike). */
const dayRange = (start: number) => `${iso(start).slice(0, 10)} 00:00–${iso(start + DAY).slice(0, 10)} 00:00 UTC`;

// Evaluated in the page (the test's TypeScript has no DOM types, so it stays a string).
const READ_PAGE = `({
  header: document.getElementById("window-range").textContent,
  revised: document.getElementById("revised").hidden ? null : document.getElementById("revised").textContent,
  legend: document.getElementById("revised-legend").hidden ? null : document.getElementById("revised-legend").textContent,
  state: document.getElementById("state").textContent,
  bars: [...document.querySelectorAll("#chart rect")].map((rect) => ({
    classes: (rect.getAttribute("class") ?? "").split(/\\s+/).filter(Boolean),
    title: rect.querySelector("title")?.textContent ?? "",
  })),
})`;
interface Rendered {
  readonly header: string;
  /** The header's revision note, null while hidden. */
  readonly revised: string | null;
  /** The chart's legend for revised bars, null while hidden. */
  readonly legend: string | null;
  readonly state: string;
  readonly bars: readonly { readonly classes: readonly string[]; readonly title: string }[];
}

describe("the dashboard marks restated windows", { timeout: 600_000 }, () => {
  it("shows a restated day's revision (time and reason) on the final board's header and its chart bar, and none on today's window", async () => {
    // Yesterday's window must be closed on the page (10 min lateness + 5 min idle timeout after
    // midnight) and its history late when posted: not in the first 20 minutes of a UTC day.
    const sinceMidnight = Date.now() % DAY;
    if (sinceMidnight < 20 * MINUTE) await new Promise((resolve) => setTimeout(resolve, 20 * MINUTE - sinceMidnight));
    const stack = await startRebuildStack((p) => console.log(`rebuild ${p.window} round ${p.round}: ${p.rebuilt} rebuilt`));
    try {
      const now = Date.now();
      const today = Math.floor(now / DAY) * DAY;
      const first = 80_000_000 + Math.floor(Math.random() * 1e6) * 100;
      // Today's sales (the last 10 minutes, all today), then history of the two days before.
      const live = sampleSales(120, { seed: 31, startMs: now - 10 * MINUTE, meanGapMs: 4_000, countries, firstPaymentId: first });
      const history = sampleSales(160, {
        seed: 32,
        startMs: today - 2 * DAY + 60 * MINUTE,
        meanGapMs: (46 * 60 * MINUTE) / 160,
        countries,
        firstPaymentId: first + 1000,
      }).filter((sale) => sale.payment_date < today);
      const days = [today - 2 * DAY, today - DAY];
      const inRegion = (day: number) =>
        history.filter((s) => regionOf(s.country) === region && s.payment_date >= day && s.payment_date < day + DAY).length;
      expect(
        days.map(inRegion).every((n) => n > 0),
        `the history sells in ${region} on both days`,
      ).toBe(true);
      await stack.post(live);
      await stack.counted(live.length);
      await stack.post(history);
      await stack.counted(live.length + history.length);
      await stack.landed(history.length, days[0] as number, today - 1);

      const reason = "history import restated";
      const oneDay = stack.settings.windows.find((spec) => spec.name === "1d") as WindowSpec;
      const summary = await stack.run({ from: days[0] as number, to: today, restate: true, windows: [oneDay], reason });
      expect([summary.rebuilt, summary.deferred]).toEqual([2, []]);

      // The region's rollups follow the rebuilt slices (the table's stream): the API says revised.
      const seriesUrl = `${stack.runtime.apiUrl}/series/region/${region}?window=1d&from=${iso(today - 3 * DAY)}&to=${iso(today + DAY)}`;
      type Series = { windows: { start: string; orders: number; revised?: { at: string; reason: string } }[] };
      let series: Series = { windows: [] };
      const revisedDays = async () => {
        series = (await (await request(seriesUrl)).json()) as Series;
        return series.windows.filter((w) => w.revised !== undefined).map((w) => w.start);
      };
      const ready = await eventually(async () => (await revisedDays()).length === 2, 60_000);
      expect(ready ? days.map(iso) : await revisedDays()).toEqual(days.map(iso));
      const at = series.windows.find((w) => w.revised !== undefined)?.revised?.at as string;
      const marker = `revised ${at.slice(0, 16).replace("T", " ")} UTC: ${reason}`;

      const page = await browser.newPage();
      try {
        await page.setViewport({ width: 1280, height: 1000, deviceScaleFactor: 1 });
        const problems: string[] = [];
        page.on("pageerror", (error) => problems.push(`page error: ${(error as Error).message}`));
        await page.goto(`${stack.runtime.apiUrl}/?window=1d&region=${region}`, { waitUntil: "load" });
        await page.waitForFunction(`document.querySelectorAll("#chart rect.revised").length === 2`, { timeout: 60_000 });
        const current = (await page.evaluate(READ_PAGE)) as Rendered;
        const bar = (view: Rendered, day: number) => view.bars.find((b) => b.title.startsWith(`${dayRange(day)}: `));

        // Today's window: the board's header and its bar carry no mark.
        expect(current.header).toBe(`1d · ${dayRange(today)}`);
        expect(current.revised).toBeNull();
        expect(bar(current, today)?.classes).not.toContain("revised");
        expect(bar(current, today)?.title).not.toContain("revised");
        // The restated days: their bars are marked, and their tooltips say when and why.
        for (const day of days) {
          expect(bar(current, day)?.classes, dayRange(day)).toContain("revised");
          expect(bar(current, day)?.title, dayRange(day)).toMatch(new RegExp(` · ${marker.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}$`));
        }
        expect(current.bars.filter((b) => b.classes.includes("revised")).length).toBe(2);
        expect(current.legend).toMatch(/revised by a rebuild/);

        // The final board is yesterday's window: restated, and its header says so.
        await page.click("#final");
        await page.waitForFunction(`document.getElementById("state").textContent === "closed · final"`, { timeout: 30_000 });
        const closed = (await page.evaluate(READ_PAGE)) as Rendered;
        const file = await saveScreenshot(page, "dashboard-revised");
        console.log(
          `dashboard screenshot (a restated window): ${file}\n  header: ${closed.header} | ${closed.revised}\n  yesterday's bar: ${bar(closed, today - DAY)?.title}`,
        );
        expect([closed.header, closed.revised]).toEqual([`1d · ${dayRange(today - DAY)}`, marker]);
        expect(problems).toEqual([]);
      } finally {
        await page.close();
      }
    } finally {
      await stack.runtime.stop();
    }
  });
});
