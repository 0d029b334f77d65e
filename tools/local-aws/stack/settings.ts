import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * Where the local stack keeps things and which loopback ports it uses.
 * Downloads are cached outside the clone (shared by every checkout); state lives in
 * the git-ignored `.local/` folder of the clone. Ports can be moved with env vars
 * when the defaults are taken on a developer's machine.
 */

/** This package's folder (tools/local-aws), which holds the stack's pinned requirement files. */
const packageRoot = resolve(fileURLToPath(new URL("..", import.meta.url)));
/** The project the package emulates AWS for: the package lives in its tools/local-aws. */
const projectRoot = resolve(packageRoot, "..", "..");
const cacheRoot = join(process.env.XDG_CACHE_HOME ?? join(homedir(), ".cache"), "sales-stream-analytics");
const stateRoot = join(projectRoot, ".local");

function port(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1 || value > 65535) {
    throw new Error(`${name} must be a TCP port (1-65535), got "${raw}"`);
  }
  return value;
}

export const versions = {
  kafka: "3.9.1",
  dynamodbLocal: "2.6.1",
  // The newest release whose server and Hive plugin archives Maven Central serves (stack/maven/trino/pom.xml).
  trino: "476",
} as const;

export const ports = Object.freeze({
  kafka: port("LOCAL_KAFKA_PORT", 9092),
  kafkaController: port("LOCAL_KAFKA_CONTROLLER_PORT", 9093),
  dynamodb: port("LOCAL_DYNAMODB_PORT", 8000),
  moto: port("LOCAL_MOTO_PORT", 5000),
  api: port("PORT", 3000),
  trino: port("LOCAL_TRINO_PORT", 8080),
});

export const host = "127.0.0.1";

/**
 * Trino needs Java 24 or newer, while Kafka and DynamoDB Local run on the `java` on PATH (17+):
 * TRINO_JAVA_HOME names the JDK for Trino alone; without it the stack looks for one (prerequisites.ts).
 */
export const trinoJavaHomeOverride: string | undefined = process.env.TRINO_JAVA_HOME || undefined;

export const endpoints = Object.freeze({
  kafkaBrokers: `${host}:${ports.kafka}`,
  dynamodb: `http://${host}:${ports.dynamodb}`,
  moto: `http://${host}:${ports.moto}`,
  api: `http://${host}:${ports.api}`,
  trino: `http://${host}:${ports.trino}`,
});

/**
 * The region and account the local stack pretends to be in (moto's default account), and the
 * credentials its own clients use: the one place they are written. Everything that names an ARN,
 * a queue URL or a region (the runtime's events, the template's intrinsics, tests, benchmarks)
 * takes them from here.
 */
export const localAws = Object.freeze({
  region: "us-east-1",
  accountId: "123456789012",
  // Not frozen: the SDK marks a credentials object it is given (`$source`), and a frozen one makes every call fail.
  credentials: { accessKeyId: "local", secretAccessKey: "local" },
});

/**
 * An ARN in the local region and account: `arn:aws:<service>:<region>:<account>:<resource>`;
 * `regional: false` leaves the region empty (IAM). Never throws.
 */
export function localArn(service: string, resource: string, { regional = true }: { regional?: boolean } = {}): string {
  return `arn:aws:${service}:${regional ? localAws.region : ""}:${localAws.accountId}:${resource}`;
}

/**
 * DynamoDB Local's database. sqlite syncs every write to disk, and a table with a stream costs
 * several syncs per write: ~30x slower on a disk (1,500 puts: ~130 s against ~4 s). A memory file
 * system (/dev/shm) keeps the database across a DynamoDB Local restart (tests kill it) without
 * the syncs; one folder per checkout, so stacks of several checkouts never share it.
 */
function dynamodbDataDir(stateData: string): string {
  const shm = "/dev/shm";
  if (!existsSync(shm)) return join(stateData, "dynamodb");
  return join(shm, `sales-stream-analytics-${createHash("sha256").update(stateData).digest("hex").slice(0, 12)}`, "dynamodb");
}

/**
 * Kafka's log directories, outside the checkout: `sam build` copies the project folder
 * (`CodeUri: .`), and Kafka removes a deleted topic's folder a minute after the deletion, so a
 * copy running then failed on a vanished file. On /dev/shm when there is one (no syncs), one
 * folder per checkout, beside DynamoDB Local's.
 */
function kafkaDataDir(stateData: string): string {
  const id = createHash("sha256").update(stateData).digest("hex").slice(0, 12);
  return join(existsSync("/dev/shm") ? "/dev/shm" : tmpdir(), `sales-stream-analytics-${id}`, "kafka");
}

export const paths = Object.freeze({
  projectRoot,
  template: join(projectRoot, "template.yaml"),
  packageRoot,
  mavenPoms: join(packageRoot, "stack", "maven"),
  pythonRequirements: join(packageRoot, "stack", "requirements.txt"),
  cacheRoot,
  kafkaLib: join(cacheRoot, `kafka-${versions.kafka}`, "lib"),
  dynamodbLib: join(cacheRoot, `dynamodb-local-${versions.dynamodbLocal}`, "lib"),
  dynamodbNative: join(cacheRoot, `dynamodb-local-${versions.dynamodbLocal}`, "native"),
  /** The Trino server (its lib/) and the one plugin the stack loads (plugin/hive), unpacked from Maven Central. */
  trinoHome: join(cacheRoot, `trino-${versions.trino}`),
  venvRoot: join(cacheRoot, "venv"),
  samRequirements: join(packageRoot, "stack", "sam-requirements.txt"),
  samVenvRoot: join(cacheRoot, "venv-sam"),
  checkovRequirements: join(packageRoot, "stack", "checkov-requirements.txt"),
  checkovVenvRoot: join(cacheRoot, "venv-checkov"),
  stateRoot,
  data: join(stateRoot, "data"),
  dynamodbData: dynamodbDataDir(join(stateRoot, "data")),
  kafkaData: kafkaDataDir(join(stateRoot, "data")),
  trinoData: join(stateRoot, "data", "trino"),
  run: join(stateRoot, "run"),
  logs: join(stateRoot, "logs"),
});
