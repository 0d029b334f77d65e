import { randomUUID } from "node:crypto";
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";
import { parentPort, workerData } from "node:worker_threads";

/**
 * One warm "container" of a function: loads the built bundle once (the cold start), as Lambda's
 * Node runtime does (require for CommonJS, import for ESM), and serves invocations posted by
 * LocalFunction, one at a time. This file itself is bundled by LocalFunction and runs without tsx,
 * so nothing but the bundle's own code is loaded for the handler.
 */
interface WorkerData {
  readonly bundleFile: string;
  readonly format: "esm" | "cjs";
  readonly exportName: string;
  readonly functionName: string;
  /** The function's ARN in the local region and account (settings.ts), passed in so the bundled worker imports nothing of local/. */
  readonly functionArn: string;
  readonly memoryMb: number;
  readonly timeoutMs: number;
}

interface Invocation {
  readonly id: number;
  readonly event: unknown;
}

type Handler = (event: unknown, context: unknown) => Promise<unknown>;

const data = workerData as WorkerData;
const port = parentPort;
if (port === null) throw new Error("lambda-worker must run in a worker thread");

async function load(): Promise<Record<string, unknown>> {
  if (data.format === "cjs") return createRequire(data.bundleFile)(data.bundleFile) as Record<string, unknown>;
  return (await import(pathToFileURL(data.bundleFile).href)) as Record<string, unknown>;
}

// The cold start (Lambda's INIT phase): the bundle's module scope, from the worker's first line to the handler in hand.
const initStarted = performance.now();
let initMs: number | undefined;
const loaded: Promise<Handler> = load().then((module) => {
  const handler = module[data.exportName];
  if (typeof handler !== "function") throw new Error(`${data.bundleFile} has no exported function "${data.exportName}"`);
  initMs = performance.now() - initStarted;
  return handler as Handler;
});
/** The first invocation a container serves reports its INIT duration (Lambda's REPORT line says "Init Duration" once too). */
let initReported = false;
const initOnce = (): { initMs?: number } => {
  if (initReported || initMs === undefined) return {};
  initReported = true;
  return { initMs };
};

port.on("message", async ({ id, event }: Invocation) => {
  const deadline = Date.now() + data.timeoutMs;
  const requestId = randomUUID();
  const context = {
    functionName: data.functionName,
    functionVersion: "$LATEST",
    invokedFunctionArn: data.functionArn,
    memoryLimitInMB: String(data.memoryMb),
    awsRequestId: requestId,
    logGroupName: `/aws/lambda/${data.functionName}`,
    logStreamName: "local",
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
  // Duration as Lambda bills it: the handler's run, after INIT (a failed INIT reports none).
  let started: number | undefined;
  try {
    const handler = await loaded;
    started = performance.now();
    const result = await handler(event, context);
    const durationMs = performance.now() - started;
    port.postMessage({
      id,
      ok: true,
      result: result === undefined ? null : JSON.parse(JSON.stringify(result)),
      report: { durationMs, ...initOnce() },
    });
  } catch (error) {
    const err = error as Error;
    port.postMessage({
      id,
      ok: false,
      error: { errorType: err?.name ?? "Error", errorMessage: err?.message ?? String(error), stack: err?.stack },
      report: { durationMs: started === undefined ? 0 : performance.now() - started, ...initOnce() },
    });
  }
});
