import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { decimal } from "#tools/cost/estimate";
import { prices } from "#tools/cost/prices";
import { pricesMarkdown } from "#tools/cost/prices-doc";

describe("the list prices", () => {
  it("docs/prices.md is what npm run gen renders from tools/cost/prices.ts", () => {
    const page = readFileSync(new URL("../../../docs/prices.md", import.meta.url), "utf8");
    expect(page, "docs/prices.md is stale: run npm run gen").toBe(pricesMarkdown());
  });

  it.each(Object.entries(prices))("%s is an exact decimal or marked unknown, with a source", (_id, price) => {
    if (price.usd !== null) expect(() => decimal(price.usd)).not.toThrow();
    expect(price.source).toMatch(/^https?:\/\//);
    expect(Number.isInteger(price.per) && price.per > 0).toBe(true);
  });

  it("a price no stored page gave says so in the page", () => {
    const unknown = Object.entries(prices).filter(([, price]) => price.usd === null);
    expect(unknown.length).toBeGreaterThan(0);
    for (const [id] of unknown) expect(pricesMarkdown()).toMatch(new RegExp(`\`${id}\`.*not in the stored pages`));
  });
});
