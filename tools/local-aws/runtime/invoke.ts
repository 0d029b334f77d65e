import { deployedStackContext, localStackContext } from "../stack/context.ts";
import { up } from "../stack/stack.ts";
import { samFunctions } from "../template/functions.ts";
import { type InvokeResult, LocalFunction, type LogSink } from "./lambda.ts";

/**
 * Invokes one function of template.yaml once, as `sam local invoke` would but without Docker:
 * brings the local stack up if it is not, builds the function's bundle, runs it in a fresh worker
 * with the template's environment, memory and timeout, and stops the worker. Resolves with the
 * handler's result or its error (a handler that throws is not a rejection). Throws naming the
 * known functions when template.yaml has none called `logicalId`, or when the stack cannot start.
 */
export async function invokeFunction(logicalId: string, event: unknown, log: LogSink = () => undefined): Promise<InvokeResult> {
  const ctx = localStackContext();
  const known = samFunctions(ctx).map((f) => f.logicalId);
  if (!known.includes(logicalId)) throw new Error(`template.yaml has no function ${logicalId}; known: ${known.join(", ")}`);
  await up();
  // Its environment as the provisioned stack gives it (a schema version's id, the brokers).
  const fn = samFunctions(await deployedStackContext(ctx)).find((candidate) => candidate.logicalId === logicalId);
  if (fn === undefined) throw new Error(`template.yaml has no function ${logicalId}`);
  const local = new LocalFunction(fn, log);
  try {
    return await local.invoke(event);
  } finally {
    await local.stop();
  }
}
