import type { Readable } from "node:stream";
import { Worker } from "node:worker_threads";
import { type Bundle, bundleOf, workerScript } from "../build/bundle.ts";
import { type AccessKeys, functionCredentials } from "../stack/identities.ts";
import { localArn } from "../stack/settings.ts";
import type { SamFunction } from "../template/functions.ts";
import { localEnvironment } from "./environment.ts";

export type InvokeResult =
  | { readonly ok: true; readonly result: unknown }
  | { readonly ok: false; readonly error: { errorType: string; errorMessage: string; stack?: string } };

/** Where a function's log lines go: npm start prefixes them, npm run invoke sends them to stderr. */
export type LogSink = (functionName: string, line: string) => void;

/** One warm container: a worker thread running the function's built bundle with its environment, one invocation at a time. */
class Container {
  readonly worker: Worker;
  readonly accessKeyId: string | undefined;
  busy = false;
  dead = false;

  constructor(fn: SamFunction, bundle: Bundle, workerFile: string, log: LogSink, env: Record<string, string>) {
    this.accessKeyId = env.AWS_ACCESS_KEY_ID;
    this.worker = new Worker(workerFile, {
      workerData: {
        bundleFile: bundle.file,
        format: bundle.format,
        exportName: fn.handlerExport,
        functionName: fn.logicalId,
        functionArn: localArn("lambda", `function:${fn.logicalId}`),
        memoryMb: fn.memoryMb,
        timeoutMs: fn.timeoutSeconds * 1000,
      },
      env: { ...process.env, ...env, LAMBDA_TASK_ROOT: bundle.dir },
      execArgv: [],
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
 * What one invocation ran for, as Lambda's REPORT line gives it: the handler's duration and, on
 * the first invocation of a new container, its INIT duration (both unrounded ms; Lambda bills
 * each rounded up to the ms, INIT included for managed runtimes since 1 August 2025). Locally,
 * INIT is the bundle's module scope only: Lambda's own runtime bootstrap is not in it.
 */
export interface InvocationReport {
  readonly functionId: string;
  /** The template's MemorySize (MB). */
  readonly memoryMb: number;
  readonly ok: boolean;
  /** Bytes of the event as JSON: the Invoke payload (through the Lambda endpoint, for a mapping in a VPC). */
  readonly eventBytes: number;
  readonly durationMs: number;
  /** Present on a cold start whose INIT completed. */
  readonly initMs?: number;
}

/** Told of every invocation that reached a container (a build error reaches none); must not throw. */
export type InvocationObserver = (report: InvocationReport) => void;

interface WorkerAnswer {
  readonly id: number;
  readonly ok: boolean;
  readonly result?: unknown;
  readonly error?: { errorType: string; errorMessage: string; stack?: string };
  readonly report?: { durationMs: number; initMs?: number };
}

/** Where a function's invocations spent their time, summed (ms): waiting for a free container, cold starts, running. */
export interface FunctionStats {
  invocations: number;
  coldStarts: number;
  /** Waiting for a container while `maxConcurrency` were busy, cold starts included. */
  queuedMs: number;
  /** The handler's run, from the event posted to its answer. */
  runMs: number;
}

/**
 * A function of template.yaml running locally like Lambda: each concurrent invocation gets its
 * own warm container (a worker thread with the function's environment), up to `maxConcurrency`
 * (then invocations queue). A container that runs past the template's Timeout is stopped; the
 * next invocation cold-starts a new one.
 */
export class LocalFunction {
  readonly fn: SamFunction;
  readonly stats: FunctionStats = { invocations: 0, coldStarts: 0, queuedMs: 0, runMs: 0 };
  readonly #log: LogSink;
  readonly #extraEnv: Record<string, string>;
  readonly #credentials: AccessKeys | undefined;
  readonly #maxConcurrency: number;
  readonly #onInvocation: InvocationObserver | undefined;
  readonly #containers: Container[] = [];
  readonly #waiting: (() => void)[] = [];
  #starting = 0;

  constructor(
    fn: SamFunction,
    log: LogSink,
    {
      extraEnv = {},
      maxConcurrency = 4,
      credentials,
      onInvocation,
    }: {
      extraEnv?: Record<string, string>;
      maxConcurrency?: number;
      /** Keys to run under instead of the function's template identity (a test's narrower or private-resource policy). */
      credentials?: AccessKeys;
      /** Told the duration (and INIT duration of a cold start) of each invocation: what Lambda would bill. */
      onInvocation?: InvocationObserver;
    } = {},
  ) {
    this.fn = fn;
    this.#log = log;
    this.#extraEnv = extraEnv;
    this.#credentials = credentials;
    this.#maxConcurrency = maxConcurrency;
    this.#onInvocation = onInvocation;
  }

  /** The environment a new container gets: the template's, the function's current identity, the overrides. */
  #environment(): Record<string, string> {
    return { ...localEnvironment(this.fn, this.#credentials ?? functionCredentials(this.fn.logicalId)), ...this.#extraEnv };
  }

  async #acquire(): Promise<Container> {
    for (;;) {
      // A re-provisioned moto (restarted) may hold new keys for the function: idle containers with
      // the old ones retire, as Lambda recycles containers after a role change.
      const accessKeyId = this.#environment().AWS_ACCESS_KEY_ID;
      for (const container of this.#containers) {
        if (!container.busy && !container.dead && container.accessKeyId !== accessKeyId) {
          container.dead = true;
          void container.worker.terminate();
        }
      }
      for (let i = this.#containers.length - 1; i >= 0; i--) if (this.#containers[i]?.dead) this.#containers.splice(i, 1);
      const idle = this.#containers.find((container) => !container.busy);
      if (idle !== undefined) {
        idle.busy = true;
        return idle;
      }
      if (this.#containers.length + this.#starting < this.#maxConcurrency) {
        this.#starting++;
        try {
          // The cold start runs what `sam build` would deploy: the bundle, built once per content.
          const [bundle, workerFile] = await Promise.all([bundleOf(this.fn), workerScript()]);
          const container = new Container(this.fn, bundle, workerFile, this.#log, this.#environment());
          this.stats.coldStarts++;
          container.busy = true;
          this.#containers.push(container);
          return container;
        } finally {
          this.#starting--;
        }
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
    let container: Container;
    const asked = performance.now();
    this.stats.invocations++;
    try {
      container = await this.#acquire();
      this.stats.queuedMs += performance.now() - asked;
    } catch (error) {
      this.#waiting.shift()?.();
      const err = error as Error;
      return {
        ok: false,
        error: { errorType: "Runtime.BuildError", errorMessage: err.message, ...(err.stack !== undefined && { stack: err.stack }) },
      };
    }
    const running = performance.now();
    try {
      return await this.#run(container, event);
    } finally {
      this.stats.runMs += performance.now() - running;
      this.#release(container);
    }
  }

  #run(container: Container, event: unknown): Promise<InvokeResult> {
    const worker = container.worker;
    const id = nextInvocationId++;
    // Measured only for an observer: a large batch's JSON is not free.
    const eventBytes = this.#onInvocation === undefined ? 0 : Buffer.byteLength(JSON.stringify(event) ?? "", "utf8");
    return new Promise<InvokeResult>((resolve) => {
      const finish = (result: InvokeResult) => {
        clearTimeout(timer);
        worker.off("message", onMessage);
        worker.off("error", onError);
        worker.off("exit", onExit);
        resolve(result);
      };
      const onMessage = (message: WorkerAnswer) => {
        if (message.id !== id) return;
        if (message.report !== undefined)
          this.#onInvocation?.({
            functionId: this.fn.logicalId,
            memoryMb: this.fn.memoryMb,
            ok: message.ok,
            eventBytes,
            ...message.report,
          });
        finish(
          message.ok
            ? { ok: true, result: message.result }
            : { ok: false, error: message.error ?? { errorType: "Runtime.Unknown", errorMessage: "the runtime answered no error" } },
        );
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

  /**
   * Stops every container (their open connections go with them). A container whose thread has not
   * exited 10 s after terminate() is left behind, unreferenced so it ends with the process, and
   * named in the log: a shuffled e2e run saw worker threads spin in their event loop after
   * terminate() following a broker kill, and the whole teardown waited on them for good.
   */
  async stop(): Promise<void> {
    const containers = this.#containers.splice(0);
    const left = await Promise.all(containers.map((container) => terminateWithin(container.worker, TERMINATE_GRACE_MS)));
    const stuck = left.filter((exited) => !exited).length;
    if (stuck > 0)
      this.#log(
        this.fn.logicalId,
        `stop: ${stuck} of ${containers.length} containers of ${this.fn.logicalId} had not exited ${TERMINATE_GRACE_MS / 1000} s after terminate(); left behind`,
      );
  }
}

const TERMINATE_GRACE_MS = 10_000;

/** Terminates a worker thread; resolves false (and unrefs it) if it has not exited within `ms`. */
async function terminateWithin(worker: Worker, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const exited = await Promise.race([
    worker.terminate().then(() => true),
    new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), ms);
    }),
  ]);
  clearTimeout(timer);
  if (!exited) worker.unref();
  return exited;
}
