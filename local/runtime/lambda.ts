import { join } from "node:path";
import type { Readable } from "node:stream";
import { Worker } from "node:worker_threads";
import { paths } from "../stack/settings.ts";
import type { SamFunction } from "../template/functions.ts";
import { localEnvironment } from "./environment.ts";

export type InvokeResult =
  | { readonly ok: true; readonly result: unknown }
  | { readonly ok: false; readonly error: { errorType: string; errorMessage: string; stack?: string } };

/** Where a function's log lines go: npm start prefixes them, npm run invoke sends them to stderr. */
export type LogSink = (functionName: string, line: string) => void;

const workerFile = join(paths.projectRoot, "local", "runtime", "lambda-worker.ts");

/**
 * A function of template.yaml running locally like a Lambda container: a worker thread with
 * the function's own environment, reused while warm, one invocation at a time, stopped (and
 * cold-started again on the next call) when an invocation runs past the template's Timeout.
 */
export class LocalFunction {
  readonly fn: SamFunction;
  readonly #log: LogSink;
  readonly #extraEnv: Record<string, string>;
  #worker: Worker | undefined;
  #queue: Promise<unknown> = Promise.resolve();
  #nextId = 1;

  constructor(fn: SamFunction, log: LogSink, extraEnv: Record<string, string> = {}) {
    this.fn = fn;
    this.#log = log;
    this.#extraEnv = extraEnv;
  }

  #start(): Worker {
    const entry = this.fn.buildProperties.EntryPoints?.[0];
    if (entry === undefined) throw new Error(`${this.fn.logicalId} has no Metadata.BuildProperties.EntryPoints`);
    const worker = new Worker(workerFile, {
      workerData: {
        entryPoint: join(paths.projectRoot, this.fn.codeUri, entry),
        exportName: this.fn.handlerExport,
        functionName: this.fn.logicalId,
        memoryMb: this.fn.memoryMb,
        timeoutMs: this.fn.timeoutSeconds * 1000,
      },
      env: { ...process.env, ...localEnvironment(this.fn), ...this.#extraEnv },
      execArgv: ["--import", "tsx"],
      stdout: true,
      stderr: true,
    });
    for (const stream of [worker.stdout, worker.stderr] as Readable[]) {
      let pending = "";
      stream.on("data", (chunk: Buffer) => {
        pending += chunk.toString();
        const lines = pending.split("\n");
        pending = lines.pop() ?? "";
        for (const line of lines) if (line.length > 0) this.#log(this.fn.logicalId, line);
      });
    }
    worker.unref();
    return worker;
  }

  /** Invokes the handler with `event`; resolves with its result or the error it threw (never rejects). */
  invoke(event: unknown): Promise<InvokeResult> {
    const run = this.#queue.then(() => this.#invokeNow(event));
    this.#queue = run.catch(() => undefined);
    return run;
  }

  #invokeNow(event: unknown): Promise<InvokeResult> {
    this.#worker ??= this.#start();
    const worker = this.#worker;
    const id = this.#nextId++;
    return new Promise<InvokeResult>((resolve) => {
      const finish = (result: InvokeResult) => {
        clearTimeout(timer);
        worker.off("message", onMessage);
        worker.off("error", onError);
        worker.off("exit", onExit);
        resolve(result);
      };
      const onMessage = (message: { id: number } & InvokeResult) => {
        if (message.id === id) finish(message);
      };
      const onError = (error: Error) => {
        this.#worker = undefined;
        finish({
          ok: false,
          error: { errorType: error.name, errorMessage: error.message, ...(error.stack !== undefined && { stack: error.stack }) },
        });
      };
      const onExit = (code: number) => {
        this.#worker = undefined;
        finish({ ok: false, error: { errorType: "Runtime.ExitError", errorMessage: `the function's runtime exited with code ${code}` } });
      };
      const timer = setTimeout(() => {
        this.#worker = undefined;
        void worker.terminate();
        finish({
          ok: false,
          error: { errorType: "Sandbox.Timedout", errorMessage: `Task timed out after ${this.fn.timeoutSeconds}.00 seconds` },
        });
      }, this.fn.timeoutSeconds * 1000);
      worker.on("message", onMessage);
      worker.on("error", onError);
      worker.on("exit", onExit);
      worker.postMessage({ id, event });
    });
  }

  /** Stops the container (its open connections go with it). */
  async stop(): Promise<void> {
    const worker = this.#worker;
    this.#worker = undefined;
    await worker?.terminate();
  }
}
