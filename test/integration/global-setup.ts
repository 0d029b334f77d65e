import { down, up } from "@sales-stream-analytics/local-aws";

let startedHere = false;

/** Brings the real local stack up for the integration suite, and stops it only if this run started it. */
export async function setup(): Promise<void> {
  const result = await up();
  startedHere = Object.values(result.states).includes("started");
  process.stderr.write(`local stack ready in ${result.seconds.toFixed(1)} s (${startedHere ? "started" : "reused"})\n`);
}

export async function teardown(): Promise<void> {
  if (startedHere) await down();
}
