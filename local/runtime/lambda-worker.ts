import { randomUUID } from "node:crypto";
import { pathToFileURL } from "node:url";
import { parentPort, workerData } from "node:worker_threads";

/**
 * One warm "container" of a function: imports the handler once (the cold start) and serves
 * invocations posted by LocalFunction, one at a time, as Lambda does.
 */
interface WorkerData {
  readonly entryPoint: string;
  readonly exportName: string;
  readonly functionName: string;
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

const loaded: Promise<Handler> = import(pathToFileURL(data.entryPoint).href).then((module: Record<string, unknown>) => {
  const handler = module[data.exportName];
  if (typeof handler !== "function") throw new Error(`${data.entryPoint} has no exported function "${data.exportName}"`);
  return handler as Handler;
});

port.on("message", async ({ id, event }: Invocation) => {
  const deadline = Date.now() + data.timeoutMs;
  const requestId = randomUUID();
  const context = {
    functionName: data.functionName,
    functionVersion: "$LATEST",
    invokedFunctionArn: `arn:aws:lambda:us-east-1:123456789012:function:${data.functionName}`,
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
  try {
    const handler = await loaded;
    const result = await handler(event, context);
    port.postMessage({ id, ok: true, result: result === undefined ? null : JSON.parse(JSON.stringify(result)) });
  } catch (error) {
    const err = error as Error;
    port.postMessage({
      id,
      ok: false,
      error: { errorType: err?.name ?? "Error", errorMessage: err?.message ?? String(error), stack: err?.stack },
    });
  }
});
