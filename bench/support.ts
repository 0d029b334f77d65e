/** Shared helpers of the benchmarks: timing and table printing. Benchmarks print; they never fail on speed. */

export interface Measurement {
  readonly name: string;
  readonly records: number;
  readonly seconds: number;
  readonly note?: string;
}

/** Runs `fn` (which processes `records` records) `rounds` times after a warm-up and keeps the best round. */
export async function measure(
  name: string,
  records: number,
  fn: () => unknown | Promise<unknown>,
  { rounds = 5, note }: { rounds?: number; note?: string } = {},
): Promise<Measurement> {
  await fn();
  let best = Number.POSITIVE_INFINITY;
  for (let round = 0; round < rounds; round++) {
    const started = process.hrtime.bigint();
    await fn();
    best = Math.min(best, Number(process.hrtime.bigint() - started) / 1e9);
  }
  return { name, records, seconds: best, ...(note !== undefined && { note }) };
}

/** Prints records/s of each measurement and its ratio to the baseline (the first row unless named) through `print` (a bench's report). Never throws. */
export function printTable(print: (line: string) => void, title: string, rows: readonly Measurement[], baselineName = rows[0]?.name): void {
  const baseline = rows.find((row) => row.name === baselineName);
  const rate = (row: Measurement) => row.records / row.seconds;
  const label = (row: Measurement) => `${row.name}${row.note ? ` (${row.note})` : ""}`;
  const width = Math.max(...rows.map((row) => label(row).length));
  print(`\n${title}`);
  print(`| ${"".padEnd(width)} | ${"records/s".padStart(12)} | ${"vs baseline".padStart(11)} |`);
  print(`| ${"-".repeat(width)} | ${"-".repeat(12)} | ${"-".repeat(11)} |`);
  for (const row of rows) {
    const ratio = baseline === undefined ? "" : `${(rate(row) / rate(baseline)).toFixed(3)}x`;
    print(`| ${label(row).padEnd(width)} | ${Math.round(rate(row)).toLocaleString("en-US").padStart(12)} | ${ratio.padStart(11)} |`);
  }
}
