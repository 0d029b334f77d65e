import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { invokeFunction } from "./runtime/invoke.ts";

/**
 * `npm run invoke -- <LogicalId> <event.json>`: the Docker-free twin of `sam local invoke`.
 * Reads the function's handler, environment, timeout and memory from template.yaml, invokes it
 * against the local stack (started if needed), prints the return value as JSON on stdout, logs
 * on stderr, and exits 1 when the handler threw.
 */
const [logicalId, eventFile] = process.argv.slice(2);
if (logicalId === undefined || eventFile === undefined) {
  console.error("usage: npm run invoke -- <LogicalId> <event.json>");
  process.exit(2);
}
const event: unknown = JSON.parse(readFileSync(resolve(eventFile), "utf8"));
const outcome = await invokeFunction(logicalId, event, (_, line) => process.stderr.write(`${line}\n`)).catch((error: Error) => {
  console.error(error.message);
  process.exit(2);
});
if (outcome.ok) {
  process.stdout.write(`${JSON.stringify(outcome.result, null, 2)}\n`);
  process.exit(0);
}
process.stderr.write(`${JSON.stringify(outcome.error, null, 2)}\n`);
process.exit(1);
