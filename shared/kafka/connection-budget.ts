import { SEND_RETRY } from "./producer.ts";

/**
 * The budget of Kafka connections: what each client of the cluster may open, and what that
 * leaves for ingest. One source for docs/deploying.md ("Kafka connections"), the HttpApi throttle
 * in template.yaml (test/unit/deploy/template.test.ts) and the integration test that counts real
 * connections at the broker (test/integration/ingest/kafka-connections.test.ts, through
 * tools/local-aws' KafkaClusterProxy), which fails when a client opens more than this assumes.
 *
 * Every figure is for `partitions` partitions, each led by a different broker: the worst case on
 * MSK Serverless, whose brokers the client cannot choose. A kafkajs client connects to the
 * bootstrap endpoint (not itself a broker on MSK), to a broker for metadata, and to each broker it
 * sends to; a consumer keeps a second connection per broker for its fetches.
 */

/**
 * MSK Serverless per-cluster quotas, from the MSK Developer Guide, "Amazon MSK quota", table
 * "MSK Serverless quota": https://docs.aws.amazon.com/msk/latest/developerguide/limits.html#serverless-quota
 * (maximum number of client connections 1,000; maximum connection attempts 100 per second). Newer
 * copies of the page raise the connections to 3,000; the budget keeps to the lower figure.
 */
export const MSK_SERVERLESS_QUOTAS = { clientConnections: 1000, connectionAttemptsPerSecond: 100 } as const;

/** One ingest container (its idempotent producer, and the recovery scan of a same-key retry after a 504). */
export interface IngestContainerBudget {
  /** Connections a cold container opens for its first POST: producer (bootstrap, a metadata broker, every leader) and the admin that reads the partition count (bootstrap, a broker). */
  readonly coldAttempts: number;
  /** Connections a warm container keeps open: the producer's bootstrap, metadata broker and leaders. */
  readonly held: number;
  /** Connections a POST that ends in 504 opens when every produce request's connection is lost: each of the producer's tries reconnects to every leader, and metadata is refreshed. */
  readonly unknownAttempts: number;
  /** Connections the same-key retry opens: the scan's admin (bootstrap, a broker, every leader: it lists every partition's offsets) and consumer (bootstrap, a broker, the group coordinator, two per leader it reads). */
  readonly recoveryAttempts: number;
  /** The most of the recovery's connections open at once (the consumer's), on top of `held`. */
  readonly recoveryExtraOpen: number;
}

/** See IngestContainerBudget. */
export function ingestContainerBudget(partitions: number): IngestContainerBudget {
  const producer = partitions + 2;
  const admin = 2;
  const scanAdmin = partitions + 2;
  const scanConsumer = 3 + 2 * partitions;
  return {
    coldAttempts: producer + admin,
    held: producer,
    unknownAttempts: (SEND_RETRY.retries + 1) * (partitions + 2),
    recoveryAttempts: scanAdmin + scanConsumer,
    recoveryExtraOpen: scanConsumer,
  };
}

/** One kafkajs consumer of the whole topic (the local emulators of the aggregate mapping and of Firehose): bootstrap, a metadata broker, the coordinator, two per leader. */
export function readerBudget(partitions: number): { readonly attempts: number; readonly held: number } {
  return { attempts: 3 + 2 * partitions, held: 3 + 2 * partitions };
}

/**
 * What AWS's readers of the topic may hold, and open at once when they all reconnect (a broker
 * restart). AWS documents neither how many connections a Lambda MSK poller opens nor Firehose's:
 * the mapping is modelled as one poller per partition (on-demand mode adds pollers up to the
 * partition count, https://docs.aws.amazon.com/lambda/latest/dg/kafka-scaling-modes.html), each a
 * consumer of one partition (bootstrap, a metadata broker, the coordinator, two to its leader);
 * Firehose as one consumer of the whole topic, like the emulator's.
 */
export function awsReaders(partitions: number): number {
  const poller = 5;
  return partitions * poller + readerBudget(partitions).held;
}

/** The ingest side of the budget for `partitions`, with the throttle that keeps to it. */
export interface IngestLimits {
  /** Connections left for ingest once the readers hold theirs. */
  readonly ingestConnections: number;
  /** Containers that fit in them, each at its worst (held, or a recovery's connections). */
  readonly maxContainers: number;
  /** Cold containers whose first connections fit in one second's attempts, with the readers' reconnection kept back. */
  readonly largestColdBurst: number;
  /** The POST /sales rate at which `maxContainers` are busy at `requestSeconds` per request (Little's law). */
  readonly maxRate: number;
}

/** The typical time a warm POST /sales holds its container (bench: ingest p99 well under 200 ms on the local stack). */
export const REQUEST_SECONDS = 0.2;

/** See IngestLimits. */
export function ingestLimits(partitions: number, quotas = MSK_SERVERLESS_QUOTAS): IngestLimits {
  const container = ingestContainerBudget(partitions);
  const readers = awsReaders(partitions);
  const ingestConnections = quotas.clientConnections - readers;
  // A recovering container has reset its producer (a 504 cut its connections), so its worst is the larger of the two.
  const perContainer = Math.max(container.held, container.recoveryExtraOpen);
  const maxContainers = Math.floor(ingestConnections / perContainer);
  // The readers reconnect all at once after a broker restart: their attempts are kept back.
  const largestColdBurst = Math.max(0, Math.floor((quotas.connectionAttemptsPerSecond - readers) / container.coldAttempts));
  return { ingestConnections, maxContainers, largestColdBurst, maxRate: Math.floor(maxContainers / REQUEST_SECONDS) };
}
