import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { DynamoDBClient, ListTablesCommand } from "@aws-sdk/client-dynamodb";
import { ListQueuesCommand, SQSClient } from "@aws-sdk/client-sqs";
import { Kafka, logLevel } from "kafkajs";
import { adminCredentialProvider } from "./identities.ts";
import { venvBin } from "./install.ts";
import { endpoints, host, localAws, paths, ports } from "./settings.ts";
import { trino } from "./trino.ts";

/** One real server of the local stack: how to prepare its data, start it and know it is ready. */
export interface Component {
  readonly name: string;
  readonly port: number;
  readonly endpoint: string;
  /** Creates config and formats storage; safe to call on existing data. */
  prepare(): void;
  command(): { command: string; args: string[] };
  /** How long a start may take before it counts as failed (default 90 s). */
  readonly startTimeoutMs?: number;
  /** Environment for the process besides the stack's own (Trino's JAVA_HOME). */
  env?(): NodeJS.ProcessEnv;
  /** Resolves true once the server answers a real request. Never throws. */
  healthy(): Promise<boolean>;
}

function kafkaClasspath(): string {
  return `${paths.kafkaLib}/*`;
}

const kafka: Component = {
  name: "kafka",
  port: ports.kafka,
  endpoint: endpoints.kafkaBrokers,
  prepare() {
    const logs = paths.kafkaData;
    const config = join(paths.run, "kafka.properties");
    mkdirSync(logs, { recursive: true });
    mkdirSync(paths.run, { recursive: true });
    // Single-node KRaft: one process is broker and controller. Topic auto-creation is
    // off, as on MSK Serverless, so a typo in a topic name fails instead of creating one.
    writeFileSync(
      config,
      [
        "process.roles=broker,controller",
        "node.id=1",
        `controller.quorum.voters=1@${host}:${ports.kafkaController}`,
        `listeners=PLAINTEXT://${host}:${ports.kafka},CONTROLLER://${host}:${ports.kafkaController}`,
        `advertised.listeners=PLAINTEXT://${host}:${ports.kafka}`,
        "controller.listener.names=CONTROLLER",
        "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        `log.dirs=${logs}`,
        "auto.create.topics.enable=false",
        "offsets.topic.replication.factor=1",
        "offsets.topic.num.partitions=10",
        "transaction.state.log.replication.factor=1",
        "transaction.state.log.min.isr=1",
        "group.initial.rebalance.delay.ms=0",
        // After a SIGKILL the restarted node must wait out its old registration's session
        // before it may register again (9 s by default): keep that short, as tests kill it.
        "broker.session.timeout.ms=2000",
        "broker.heartbeat.interval.ms=500",
        "log.retention.hours=24",
        "",
      ].join("\n"),
    );
    writeFileSync(
      join(paths.run, "kafka-log4j.properties"),
      [
        "log4j.rootLogger=WARN, stdout",
        "log4j.appender.stdout=org.apache.log4j.ConsoleAppender",
        "log4j.appender.stdout.layout=org.apache.log4j.PatternLayout",
        "log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n",
        "log4j.logger.kafka.server.KafkaServer=INFO",
        "",
      ].join("\n"),
    );
    if (!existsSync(join(logs, "meta.properties"))) {
      // Like Kafka's Uuid.randomUuid(): an id starting with "-" would be read as a command-line option.
      let clusterId = randomBytes(16).toString("base64url");
      while (clusterId.startsWith("-")) clusterId = randomBytes(16).toString("base64url");
      const format = spawnSync(
        "java",
        [...kafkaJvmFlags(), "-cp", kafkaClasspath(), "kafka.tools.StorageTool", "format", "-t", clusterId, "-c", config],
        { encoding: "utf8" },
      );
      if (format.status !== 0) throw new Error(`formatting Kafka storage failed:\n${format.stdout}${format.stderr}`);
    }
  },
  command() {
    return {
      command: "java",
      args: [...kafkaJvmFlags(), "-Xms256m", "-Xmx512m", "-cp", kafkaClasspath(), "kafka.Kafka", join(paths.run, "kafka.properties")],
    };
  },
  async healthy() {
    const admin = new Kafka({
      clientId: "local-stack-health",
      brokers: [endpoints.kafkaBrokers],
      logLevel: logLevel.NOTHING,
      connectionTimeout: 1000,
      retry: { retries: 0 },
    }).admin();
    try {
      await admin.connect();
      const cluster = await admin.describeCluster();
      return cluster.brokers.length > 0 && cluster.controller !== null;
    } catch {
      return false;
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
  },
};

function kafkaJvmFlags(): string[] {
  return [`-Dlog4j.configuration=file:${join(paths.run, "kafka-log4j.properties")}`, "-XX:+UseG1GC", "-Djava.awt.headless=true"];
}

const dynamodb: Component = {
  name: "dynamodb",
  port: ports.dynamodb,
  endpoint: endpoints.dynamodb,
  prepare() {
    mkdirSync(paths.dynamodbData, { recursive: true });
  },
  command() {
    return {
      command: "java",
      args: [
        "-Xmx512m",
        `-Dsqlite4java.library.path=${paths.dynamodbNative}`,
        "-cp",
        `${paths.dynamodbLib}/*`,
        "com.amazonaws.services.dynamodbv2.local.main.ServerRunner",
        "-port",
        String(ports.dynamodb),
        // On a memory file system where there is one (see paths.dynamodbData): it outlives a restart.
        "-dbPath",
        paths.dynamodbData,
        // One database for every access key and region, so the CLI, tests and handlers agree.
        "-sharedDb",
        // DynamoDB Local otherwise reports usage over the network; the stack stays on this machine.
        "-disableTelemetry",
      ],
    };
  },
  async healthy() {
    const client = new DynamoDBClient({
      endpoint: endpoints.dynamodb,
      region: localAws.region,
      credentials: localAws.credentials,
      maxAttempts: 1,
    });
    try {
      await client.send(new ListTablesCommand({ Limit: 1 }));
      return true;
    } catch {
      return false;
    } finally {
      client.destroy();
    }
  },
};

const moto: Component = {
  name: "moto",
  port: ports.moto,
  endpoint: endpoints.moto,
  prepare() {},
  command() {
    return { command: venvBin("moto_server"), args: ["-H", host, "-p", String(ports.moto)] };
  },
  async healthy() {
    // A real, cheap API call (moto's own data.json grows with its whole state).
    // Signed as the stack's admin: once IAM is enforced moto refuses anyone else (see identities.ts).
    const client = new SQSClient({
      endpoint: endpoints.moto,
      region: localAws.region,
      credentials: adminCredentialProvider,
      maxAttempts: 1,
    });
    try {
      await client.send(new ListQueuesCommand({ MaxResults: 1 }), { abortSignal: AbortSignal.timeout(2000) });
      return true;
    } catch {
      return false;
    } finally {
      client.destroy();
    }
  },
};

/** The stack's servers in start order: what `up()` starts. */
export const components: readonly Component[] = [kafka, dynamodb, moto];

/**
 * Servers started only when asked for (`up({ trino: true })`, startTrino()): Trino takes a GB of
 * memory and half a minute to start, and only the lake's SQL tests need it. `down()` stops them too.
 */
export const optionalComponents: readonly Component[] = [trino];
