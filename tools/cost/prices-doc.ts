import { FLINK_RECORDS_PER_KPU, HOURS_PER_MONTH, PRICES_READ_ON, PRICES_REGION, prices } from "./prices.ts";

/** docs/prices.md as rendered from tools/cost/prices.ts (`npm run gen` writes it). Never throws. */
export function pricesMarkdown(): string {
  const rows = Object.entries(prices).map(([id, p]) => {
    const figure =
      p.usd === null ? "**not in the stored pages**" : `$${p.usd} / ${p.per === 1 ? "" : `${p.per.toLocaleString("en-US")} `}${p.unit}`;
    const source = `[source](${p.source})${"rules" in p ? `, [rules](${p.rules})` : ""}`;
    const note = "note" in p ? ` ${p.note}.` : "";
    return `| \`${id}\` | ${p.service} | ${p.item}.${note} | ${figure} | ${source} |`;
  });
  return `<!-- Generated from tools/cost/prices.ts by \`npm run gen\`: edit that file, not this one. -->

# List prices

The prices \`npm run bench -- cost\` multiplies measured usage by (see [benchmarks](benchmarks.md) for
the figures and [deploying](deploying.md#what-it-costs) for what moves them): ${PRICES_REGION}, on-demand,
first tier, no free tier, read on ${PRICES_READ_ON}. AWS's pricing pages render their tables in the
browser, so a stored copy often states how an item is metered but not its figure: then the figure's
source is another page that quotes it, and "rules" links AWS's page. A price no stored page gave is
left empty and stays unpriced in every estimate; it is never guessed.

| id | service | item | price | read at |
| --- | --- | --- | --- | --- |
${rows.join("\n")}

A month is ${HOURS_PER_MONTH} hours. The Flink comparison sizes a job at ${FLINK_RECORDS_PER_KPU.recordsPerSecond.toLocaleString("en-US")} records/s per KPU: not an
AWS figure (the [AWS docs](${FLINK_RECORDS_PER_KPU.aws}) give none, only that autoscaling adds KPUs when
CPU stays above 75 % for 15 minutes) but the lower bound a [managed-Flink vendor](${FLINK_RECORDS_PER_KPU.source})
gives for windowed aggregation on a unit of the same size (1 CPU, 4 GiB).
`;
}
