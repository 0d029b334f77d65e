import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { LocalFunction } from "./runtime/lambda.ts";
import { localStackContext } from "./stack/context.ts";
import { up } from "./stack/stack.ts";
import { samFunctions } from "./template/functions.ts";

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
const fn = samFunctions(localStackContext()).find((candidate) => candidate.logicalId === logicalId);
if (fn === undefined) {
  console.error(
    `template.yaml has no function ${logicalId}; known: ${samFunctions(localStackContext())
      .map((f) => f.logicalId)
      .join(", ")}`,
  );
  process.exit(2);
}
const event: unknown = JSON.parse(readFileSync(resolve(eventFile), "utf8"));
await up();
const local = new LocalFunction(fn, (_, line) => process.stderr.write(`${line}\n`));
const outcome = await local.invoke(event);
await local.stop();
if (outcome.ok) {
  process.stdout.write(`${JSON.stringify(outcome.result, null, 2)}\n`);
  process.exit(0);
}
process.stderr.write(`${JSON.stringify(outcome.error, null, 2)}\n`);
process.exit(1);
