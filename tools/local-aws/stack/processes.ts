import { spawn, spawnSync } from "node:child_process";
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { paths } from "./settings.ts";

/** What the stack remembers about a process it started, so it only ever stops its own. */
interface PidFile {
  readonly pid: number;
  /** The arguments as one string; a pid whose command line lacks them was reused by someone else. */
  readonly args: string;
  readonly startedAt: string;
}

const pidFilePath = (name: string) => join(paths.run, `${name}.pid.json`);
export const logFilePath = (name: string) => join(paths.logs, `${name}.log`);

function readPidFile(name: string): PidFile | undefined {
  const file = pidFilePath(name);
  if (!existsSync(file)) return undefined;
  try {
    return JSON.parse(readFileSync(file, "utf8")) as PidFile;
  } catch {
    return undefined;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** True when the pid is alive and still runs the command we started (pids get reused). */
function isOurs(record: PidFile): boolean {
  if (!isAlive(record.pid)) return false;
  try {
    const cmdline = readFileSync(`/proc/${record.pid}/cmdline`, "utf8").split("\0").join(" ");
    return cmdline.includes(record.args);
  } catch {
    return true; // no /proc (macOS): trust the live pid
  }
}

/** The pid of the named component if we started it and it still runs. */
export function runningPid(name: string): number | undefined {
  const record = readPidFile(name);
  return record !== undefined && isOurs(record) ? record.pid : undefined;
}

/** Starts a detached process whose output goes to `.local/logs/<name>.log` and records its pid. */
export function startProcess(name: string, command: string, args: readonly string[], env: NodeJS.ProcessEnv = {}): number {
  mkdirSync(paths.run, { recursive: true });
  mkdirSync(paths.logs, { recursive: true });
  const log = openSync(logFilePath(name), "a");
  const child = spawn(command, args, {
    cwd: paths.projectRoot,
    detached: true,
    stdio: ["ignore", log, log],
    env: { ...process.env, ...env },
  });
  closeSync(log);
  if (child.pid === undefined) throw new Error(`could not start ${name} (${command})`);
  child.unref();
  const record: PidFile = { pid: child.pid, args: args.join(" "), startedAt: new Date().toISOString() };
  writeFileSync(pidFilePath(name), JSON.stringify(record));
  return child.pid;
}

/**
 * Stops the named process if (and only if) this stack started it: SIGTERM, then SIGKILL
 * after `graceMs`. Returns false when there was nothing of ours to stop.
 */
export async function stopProcess(name: string, { graceMs = 10_000, signal = "SIGTERM" as NodeJS.Signals } = {}): Promise<boolean> {
  const record = readPidFile(name);
  rmSync(pidFilePath(name), { force: true });
  if (record === undefined || !isOurs(record)) return false;
  process.kill(record.pid, signal);
  const deadline = Date.now() + graceMs;
  while (isAlive(record.pid) && Date.now() < deadline) await sleep(100);
  if (isAlive(record.pid)) process.kill(record.pid, "SIGKILL");
  while (isAlive(record.pid)) await sleep(50);
  return true;
}

/**
 * Freezes the named process (SIGSTOP) and resolves with its pid once every one of its threads is
 * stopped. kill(2) only queues the signal: each thread stops when it next gets the CPU, so on a
 * loaded machine a broker goes on answering requests for a while after the call returned. Throws
 * when no process of ours has the name, or when it is not stopped within `timeoutMs` (it is then
 * continued again). The caller continues it with SIGCONT.
 */
export async function freezeProcess(name: string, { timeoutMs = 30_000 } = {}): Promise<number> {
  const pid = runningPid(name);
  if (pid === undefined) throw new Error(`no ${name} process of this stack is running`);
  process.kill(pid, "SIGSTOP");
  const deadline = Date.now() + timeoutMs;
  while (!isStopped(pid)) {
    if (Date.now() > deadline) {
      process.kill(pid, "SIGCONT");
      throw new Error(`${name} (pid ${pid}) was not stopped ${timeoutMs} ms after SIGSTOP`);
    }
    await sleep(10);
  }
  return pid;
}

/** True when no thread of the pid can run: each is stopped (or exiting). Reads /proc, else asks ps (macOS). */
function isStopped(pid: number): boolean {
  const threads = `/proc/${pid}/task`;
  if (existsSync(threads)) {
    return readdirSync(threads).every((tid) => {
      try {
        // The state is the field after the command name, which is in parentheses and may hold any byte.
        const stat = readFileSync(`${threads}/${tid}/stat`, "utf8");
        const state = stat.charAt(stat.lastIndexOf(")") + 2);
        return state !== "" && "TtZX".includes(state);
      } catch {
        return true; // the thread exited meanwhile
      }
    });
  }
  return spawnSync("ps", ["-o", "state=", "-p", String(pid)], { encoding: "utf8" })
    .stdout.trim()
    .startsWith("T");
}

/** Resident memory of a pid in MiB, read from /proc; undefined where /proc is absent. */
export function residentMiB(pid: number): number | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1]);
    return Number.isFinite(kb) ? Math.round(kb / 1024) : undefined;
  } catch {
    return undefined;
  }
}
