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

/** One warm container: a worker thread with the function's environment, one invocation at a time. */
class Container {
  readonly worker: Worker;
  busy = false;
  dead = false;

  constructor(fn: SamFunction, log: LogSink, env: Record<string, string>) {
    const entry = fn.buildProperties.EntryPoints?.[0];
    if (entry === undefined) throw new Error(`${fn.logicalId} has no Metadata.BuildProperties.EntryPoints`);
    this.worker = new Worker(workerFile, {
      workerData: {
        entryPoint: join(paths.projectRoot, fn.codeUri, entry),
        exportName: fn.handlerExport,
        functionName: fn.logicalId,
        memoryMb: fn.memoryMb,
        timeoutMs: fn.timeoutSeconds * 1000,
      },
      env: { ...process.env, ...env },
      execArgv: ["--import", "tsx"],
      stdout: true,
      stderr: true,
    });
    for (const stream of [this.worker.stdout, this.worker.stderr] as Readable[]) {
      let pending = "";
      stream.on("data", (chunk: Buffer) => {
        pending += chunk.toString();
        const lines = pending.split("\n");
        pending = lines.pop() ?? "";
        for (const line of lines) if (line.length > 0) log(fn.logicalId, line);
      });
    }
    this.worker.on("exit", () => {
      this.dead = true;
    });
    this.worker.unref();
  }
}

let nextInvocationId = 1;

/**
 * A function of template.yaml running locally like Lambda: each concurrent invocation gets its
 * own warm container (a worker thread with the function's environment), up to `maxConcurrency`
 * (then invocations queue). A container that runs past the template's Timeout is stopped; the
 * next invocation cold-starts a new one.
 */
export class LocalFunction {
  readonly fn: SamFunction;
  readonly #log: LogSink;
  readonly #env: Record<string, string>;
  readonly #maxConcurrency: number;
  readonly #containers: Container[] = [];
  readonly #waiting: (() => void)[] = [];

  constructor(
    fn: SamFunction,
    log: LogSink,
    { extraEnv = {}, maxConcurrency = 4 }: { extraEnv?: Record<string, string>; maxConcurrency?: number } = {},
  ) {
    this.fn = fn;
    this.#log = log;
    this.#env = { ...localEnvironment(fn), ...extraEnv };
    this.#maxConcurrency = maxConcurrency;
  }

  async #acquire(): Promise<Container> {
    for (;;) {
      for (let i = this.#containers.length - 1; i >= 0; i--) if (this.#containers[i]?.dead) this.#containers.splice(i, 1);
      const idle = this.#containers.find((container) => !container.busy);
      if (idle !== undefined) {
        idle.busy = true;
        return idle;
      }
      if (this.#containers.length < this.#maxConcurrency) {
        const container = new Container(this.fn, this.#log, this.#env);
        container.busy = true;
        this.#containers.push(container);
        return container;
      }
      await new Promise<void>((resolve) => this.#waiting.push(resolve));
    }
  }

  #release(container: Container): void {
    container.busy = false;
    this.#waiting.shift()?.();
  }

  /** Invokes the handler with `event`; resolves with its result or the error it threw (never rejects). */
  async invoke(event: unknown): Promise<InvokeResult> {
    const container = await this.#acquire();
    try {
      return await this.#run(container, event);
    } finally {
      this.#release(container);
    }
  }

  #run(container: Container, event: unknown): Promise<InvokeResult> {
    const worker = container.worker;
    const id = nextInvocationId++;
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
        container.dead = true;
        finish({
          ok: false,
          error: { errorType: error.name, errorMessage: error.message, ...(error.stack !== undefined && { stack: error.stack }) },
        });
      };
      const onExit = (code: number) => {
        container.dead = true;
        finish({ ok: false, error: { errorType: "Runtime.ExitError", errorMessage: `the function's runtime exited with code ${code}` } });
      };
      const timer = setTimeout(() => {
        container.dead = true;
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

  /** Stops every container (their open connections go with them). */
  async stop(): Promise<void> {
    const containers = this.#containers.splice(0);
    await Promise.all(containers.map((container) => container.worker.terminate()));
  }
}
