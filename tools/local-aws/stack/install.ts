import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { paths, versions } from "./settings.ts";

const doneMarker = ".complete";

function run(command: string, args: readonly string[], cwd: string, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(command, args, { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.stderr.on("data", (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.on("error", reject);
    child.on("close", (code) => {
      if (code === 0) resolvePromise();
      else reject(new Error(`${command} ${args.join(" ")} failed with exit code ${code}:\n${output.slice(-4000)}`));
    });
  });
}

/** Runs `fill(tmpDir)` and moves the result into `target` atomically, so a killed install never looks done. */
async function installOnce(target: string, label: string, fill: (dir: string) => Promise<void>): Promise<void> {
  if (existsSync(join(target, doneMarker))) return;
  const staging = `${target}.partial-${process.pid}`;
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { recursive: true });
  const started = Date.now();
  process.stderr.write(`  installing ${label} ...\n`);
  await fill(staging);
  writeFileSync(join(staging, doneMarker), new Date().toISOString());
  rmSync(target, { recursive: true, force: true });
  mkdirSync(dirname(target), { recursive: true });
  renameSync(staging, target);
  process.stderr.write(`  installed ${label} in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
}

function copyMavenDependencies(pomDir: string, outputDir: string): Promise<void> {
  return run("mvn", ["-q", "-B", "dependency:copy-dependencies", `-DoutputDirectory=${outputDir}`, "-DincludeScope=runtime"], pomDir);
}

async function installKafka(): Promise<void> {
  await installOnce(dirname(paths.kafkaLib), "Apache Kafka (Maven Central)", async (dir) => {
    await copyMavenDependencies(join(paths.mavenPoms, "kafka"), join(dir, "lib"));
  });
}

async function installDynamodbLocal(): Promise<void> {
  await installOnce(dirname(paths.dynamodbLib), "DynamoDB Local (Maven Central)", async (dir) => {
    const lib = join(dir, "lib");
    await copyMavenDependencies(join(paths.mavenPoms, "dynamodb"), lib);
    // sqlite4java looks for its native library under its platform name, without the version.
    const native = join(dir, "native");
    mkdirSync(native, { recursive: true });
    for (const file of readdirSync(lib)) {
      const match = /^(libsqlite4java-linux-amd64)-[\d.]+\.so$/.exec(file);
      if (match?.[1] !== undefined) copyFileSync(join(lib, file), join(native, `${match[1]}.so`));
    }
  });
}

/**
 * Trino's server and its Hive connector (Maven Central, stack/maven/trino/pom.xml) unpacked into
 * paths.trinoHome: lib/ of the server, and plugin/hive as the only plugin (the server's own plugins
 * are not needed, and each costs start time). Idempotent; throws with Maven's output.
 */
export async function installTrino(): Promise<void> {
  await installOnce(paths.trinoHome, `Trino ${versions.trino} and its Hive connector (Maven Central)`, async (dir) => {
    const unpacked = join(dir, "unpacked");
    await run(
      "mvn",
      ["-q", "-B", "dependency:unpack", `-Dtrino.version=${versions.trino}`, `-Dtrino.dir=${unpacked}`],
      join(paths.mavenPoms, "trino"),
    );
    // The server's lib/ (its bin/ launcher and own plugins are not used: the stack runs the JVM itself).
    renameSync(join(unpacked, `trino-server-core-${versions.trino}`, "lib"), join(dir, "lib"));
    mkdirSync(join(dir, "plugin"), { recursive: true });
    renameSync(join(unpacked, `trino-hive-${versions.trino}`), join(dir, "plugin", "hive"));
    rmSync(unpacked, { recursive: true, force: true });
  });
}

/** The virtualenv folder for a requirements file under `root`: a new file content means a new venv. */
function venvFor(requirements: string, root: string): string {
  const digest = createHash("sha256").update(readFileSync(requirements)).digest("hex").slice(0, 12);
  return join(root, digest);
}

/** The virtualenv folder for the current requirements file: a new file content means a new venv. */
export function venvDir(): string {
  return venvFor(paths.pythonRequirements, paths.venvRoot);
}

export function venvBin(name: string): string {
  return join(venvDir(), "bin", name);
}

async function installVenv(dir: string, requirements: string, label: string): Promise<void> {
  // Built in place, not staged: a virtualenv's scripts name the folder they were created in.
  if (existsSync(join(dir, doneMarker))) return;
  const started = Date.now();
  process.stderr.write(`  installing ${label} (PyPI virtualenv) ...\n`);
  rmSync(dir, { recursive: true, force: true });
  await run("python3", ["-m", "venv", dir], paths.projectRoot);
  await run(join(dir, "bin", "pip"), ["install", "-q", "-r", requirements], paths.projectRoot);
  writeFileSync(join(dir, doneMarker), new Date().toISOString());
  process.stderr.write(`  installed ${label} in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
}

async function installPythonTools(): Promise<void> {
  await installVenv(venvDir(), paths.pythonRequirements, "moto server and cfn-lint");
}

/**
 * The AWS SAM CLI's `sam` in a virtualenv of its own (tools/local-aws/stack/sam-requirements.txt): only
 * `sam build` needs it, so the stack's own start never waits for it.
 */
export function samBin(): string {
  return join(venvFor(paths.samRequirements, paths.samVenvRoot), "bin", "sam");
}

/** Installs the SAM CLI unless present (idempotent). Throws with pip's output. */
export async function installSamCli(): Promise<string> {
  await installVenv(venvFor(paths.samRequirements, paths.samVenvRoot), paths.samRequirements, "the AWS SAM CLI");
  return samBin();
}

/**
 * checkov in a virtualenv of its own (tools/local-aws/stack/checkov-requirements.txt): its pins of boto3
 * and networkx clash with moto's and cfn-lint's, and only the template scan needs it.
 */
export function checkovBin(): string {
  return join(venvFor(paths.checkovRequirements, paths.checkovVenvRoot), "bin", "checkov");
}

/** Installs checkov unless present (idempotent). Throws with pip's output. */
export async function installCheckov(): Promise<string> {
  await installVenv(venvFor(paths.checkovRequirements, paths.checkovVenvRoot), paths.checkovRequirements, "checkov");
  return checkovBin();
}

/** Downloads everything the stack runs (idempotent; cached under ~/.cache). Throws with the failing tool's output. */
export async function installStack(): Promise<void> {
  await Promise.all([installKafka(), installDynamodbLocal(), installPythonTools()]);
}

/** The headless browser of the dashboard test: CHROMIUM_PATH, else Debian's /usr/bin/chromium. */
export function chromiumCommand(): string {
  return process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
}

const chromiumInstall =
  "as root: apt-get update && apt-get install -y chromium (Debian; Ubuntu: a chromium snap or Google Chrome), or point CHROMIUM_PATH at a Chromium or Chrome binary";

/** The browser's version line, or undefined when `command` does not run. */
function browserVersion(command: string): string | undefined {
  const run = spawnSync(command, ["--version"], { encoding: "utf8" });
  return run.error === undefined && run.status === 0 ? run.stdout.trim() : undefined;
}

/**
 * Debian's headless-capable `chromium` for the dashboard's browser test, from the system's
 * packages (never a browser download of npm's): installed with apt-get when missing and this
 * process is root, after `apt-get update` if the package lists are missing. Returns the command.
 * Throws naming how to install it when it is missing and cannot be installed from here.
 */
export async function installChromium(): Promise<string> {
  const command = chromiumCommand();
  if (browserVersion(command) !== undefined) return command;
  const root = process.getuid?.() === 0;
  const aptGet = spawnSync("apt-get", ["--version"], { encoding: "utf8" });
  if (process.env.CHROMIUM_PATH !== undefined || !root || aptGet.error !== undefined)
    throw new Error(`${command} is missing (the dashboard's browser test drives it headless). Install: ${chromiumInstall}`);
  const started = Date.now();
  process.stderr.write("  installing chromium (apt-get) ...\n");
  const lists = existsSync("/var/lib/apt/lists") ? readdirSync("/var/lib/apt/lists").filter((f) => f.includes("_Packages")) : [];
  // No questions: CI and npm test have no terminal for debconf to ask on.
  const apt = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  const install = () => run("apt-get", ["install", "-y", "--no-install-recommends", "chromium"], paths.projectRoot, apt);
  if (lists.length === 0) await run("apt-get", ["update"], paths.projectRoot, apt);
  // Lists that are there may be stale (a package version the mirror no longer has): refresh once.
  await install().catch(async () => {
    await run("apt-get", ["update"], paths.projectRoot, apt);
    await install();
  });
  if (browserVersion(command) === undefined) throw new Error(`apt-get installed chromium, but "${command} --version" does not run`);
  process.stderr.write(`  installed chromium in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
  return command;
}
