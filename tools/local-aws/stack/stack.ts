import { rmSync } from "node:fs";
import { createConnection } from "node:net";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import type { Kafka } from "kafkajs";
import { skippedResources, type UnemulatedType } from "../template/emulation.ts";
import { samFunctions } from "../template/functions.ts";
import { type ProvisionReport, provision } from "../template/provision.ts";
import { localClients } from "./clients.ts";
import { type Component, components, optionalComponents } from "./components.ts";
import { localStackContext } from "./context.ts";
import { provisionIdentities } from "./identities.ts";
import { installStack, installTrino } from "./install.ts";
import { assertPrerequisites } from "./prerequisites.ts";
import { logFilePath, residentMiB, runningPid, startProcess, stopProcess } from "./processes.ts";
import { endpoints, host, paths } from "./settings.ts";

const startTimeoutMs = 90_000;

function portInUse(port: number): Promise<boolean> {
  return new Promise((resolvePromise) => {
    const socket = createConnection({ host, port });
    socket.once("connect", () => {
      socket.destroy();
      resolvePromise(true);
    });
    socket.once("error", () => resolvePromise(false));
  });
}

async function waitHealthy(component: Component, pid: number): Promise<void> {
  const timeoutMs = component.startTimeoutMs ?? startTimeoutMs;
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await component.healthy()) return;
    if (runningPid(component.name) !== pid) {
      throw new Error(`${component.name} exited during start; see ${logFilePath(component.name)}`);
    }
    await sleep(250);
  }
  throw new Error(`${component.name} did not become healthy within ${timeoutMs / 1000} s; see ${logFilePath(component.name)}`);
}

/**
 * Starts one component unless this stack already runs it, and waits until it answers.
 * Throws when its port is held by a process the stack did not start.
 */
export async function startComponent(component: Component): Promise<"started" | "running"> {
  const existing = runningPid(component.name);
  if (existing !== undefined) {
    await waitHealthy(component, existing);
    return "running";
  }
  if (await portInUse(component.port)) {
    throw new Error(
      `port ${component.port} (${component.name}) is taken by a process this stack did not start; stop it or move the stack's port (LOCAL_*_PORT, docs/local-stack.md)`,
    );
  }
  component.prepare();
  const { command, args } = component.command();
  const pid = startProcess(component.name, command, args, component.env?.());
  await waitHealthy(component, pid);
  return "started";
}

export interface UpOptions {
  /** Keep data from an earlier run (Kafka log, DynamoDB tables). Default: a cold start begins empty. */
  readonly keepData?: boolean;
  /** Start Trino too, after the resources exist (see startTrino). Default: not. */
  readonly trino?: boolean;
}

export interface UpResult {
  readonly seconds: number;
  readonly states: Record<string, "started" | "running">;
  readonly resources: ProvisionReport;
  /** The template's resources the stack skips: their types are not emulated (docs/local-stack.md). */
  readonly skipped: readonly UnemulatedType[];
}

/**
 * Brings the whole stack up (installing what is missing), then creates the template's
 * resources, and reports those it skips (types it does not emulate). Idempotent: components
 * already running are reused. Throws with the failing component's name and log file.
 */
export async function up(options: UpOptions = {}): Promise<UpResult> {
  const started = Date.now();
  assertPrerequisites();
  await installStack();
  const coldStart = components.every((component) => runningPid(component.name) === undefined);
  if (coldStart && options.keepData !== true) {
    // moto keeps no state across restarts, so Kafka records would point at schema versions
    // that no longer exist: a cold start begins with every component empty, consistently.
    rmSync(paths.data, { recursive: true, force: true });
    rmSync(paths.dynamodbData, { recursive: true, force: true });
    rmSync(paths.kafkaData, { recursive: true, force: true });
  }
  const outcomes = await Promise.allSettled(
    components.map(async (component) => [component.name, await startComponent(component)] as const),
  );
  const failure = outcomes.find((o): o is PromiseRejectedResult => o.status === "rejected");
  if (failure !== undefined) {
    // Leave nothing behind: stop what this call started before reporting why it failed.
    for (const outcome of outcomes) {
      if (outcome.status === "fulfilled" && outcome.value[1] === "started") await stopProcess(outcome.value[0]);
    }
    throw failure.reason;
  }
  const results = outcomes.map((o) => (o as PromiseFulfilledResult<readonly [string, "started" | "running"]>).value);
  const clients = localClients();
  const admin = clients.kafka.admin();
  await admin.connect();
  try {
    const seedIds = async () => {
      const response = await fetch(`${endpoints.moto}/moto-api/seed?a=20221`, { method: "POST" });
      const body = await response.text();
      if (!response.ok) throw new Error(`seeding moto's ids failed: HTTP ${response.status} ${body.slice(0, 200)}`);
    };
    const ctx = localStackContext();
    // The admin first, with moto's IAM enforcement on before any resource exists; the function
    // identities after the resources (see provisionIdentities). provision() seeds moto's
    // generator before the schema versions, whose ids the sample events name.
    let resources: ProvisionReport | undefined;
    const identities = await provisionIdentities(
      ctx,
      clients.iam,
      samFunctions(ctx).map((fn) => fn.logicalId),
      async () => {
        resources = await provision(ctx, { kafkaAdmin: admin, ...clients, seedIds });
      },
    );
    if (resources === undefined) throw new Error("the stack's resources were not provisioned");
    resources.created.push(...identities.created);
    resources.existing.push(...identities.existing);
    await warmTransactionCoordinator(clients.kafka);
    const states: Record<string, "started" | "running"> = Object.fromEntries(results);
    if (options.trino === true) states.trino = await startTrino();
    return { seconds: (Date.now() - started) / 1000, states, resources, skipped: skippedResources(ctx) };
  } finally {
    await admin.disconnect();
    for (const client of [clients.dynamodb, clients.s3, clients.sqs, clients.glue, clients.iam]) client.destroy();
  }
}

/**
 * A fresh broker creates its transaction log (__transaction_state) on the first transactional
 * producer, and answers COORDINATOR_NOT_AVAILABLE for seconds meanwhile: make that happen here,
 * so "ready" means the first transactional producer does not meet it (ingest uses none; the
 * tests of the emulators' isolation level do).
 */
async function warmTransactionCoordinator(kafka: Kafka): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const producer = kafka.producer({ transactionalId: "local-stack-warm-up", idempotent: true, maxInFlightRequests: 1 });
    try {
      await producer.connect();
      const transaction = await producer.transaction(); // InitProducerId: creates and loads the log
      await transaction.abort(); // nothing was added: ends it without a request
      return;
    } catch (error) {
      if (Date.now() > deadline) throw new Error(`Kafka's transaction coordinator did not come up: ${(error as Error).message}`);
      await sleep(500);
    } finally {
      await producer.disconnect().catch(() => undefined);
    }
  }
}

/**
 * Starts the local Trino (installing it when missing) unless it runs, and waits until it answers.
 * The stack must be up: Trino signs with the lake reader's keys, which provisioning creates.
 * Throws naming a missing Java 24+, an install failure or Trino's log file.
 */
export async function startTrino(): Promise<"started" | "running"> {
  await installTrino();
  return startComponent(componentNamed("trino"));
}

/** Stops every component this stack started, by pid, in reverse start order. Returns the names stopped. */
export async function down(): Promise<string[]> {
  const stopped: string[] = [];
  for (const component of [...components, ...optionalComponents].reverse()) {
    if (await stopProcess(component.name)) stopped.push(component.name);
  }
  return stopped;
}

export interface ComponentStatus {
  readonly name: string;
  readonly endpoint: string;
  readonly pid: number | undefined;
  readonly healthy: boolean;
  readonly residentMiB: number | undefined;
}

/** Each component's pid, health and resident memory (the optional ones too). */
export async function status(): Promise<ComponentStatus[]> {
  return Promise.all(
    [...components, ...optionalComponents].map(async (component) => {
      const pid = runningPid(component.name);
      return {
        name: component.name,
        endpoint: component.endpoint,
        pid,
        healthy: pid !== undefined && (await component.healthy()),
        residentMiB: pid === undefined ? undefined : residentMiB(pid),
      };
    }),
  );
}

/** Finds a component by name for fault injection and restarts; throws on an unknown name. */
export function componentNamed(name: string): Component {
  const all = [...components, ...optionalComponents];
  const component = all.find((candidate) => candidate.name === name);
  if (component === undefined) throw new Error(`unknown component "${name}"; known: ${all.map((c) => c.name).join(", ")}`);
  return component;
}

export const logsFolder = join(paths.logs);
