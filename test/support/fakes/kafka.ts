import type { ConsumerConfig, Kafka, KafkaConfig, ProducerConfig } from "kafkajs";
import type { TopicAdmin } from "#shared/kafka/topics";

/** A record in the fake's log, as a consumer's batch hands it on. */
export interface FakeRecord {
  readonly offset: number;
  readonly timestamp: number;
  readonly headers: Record<string, Buffer>;
}

/** One client that `kafkaFor` made: the config it was given, its producers' configs, and whether one was disconnected. */
export interface FakeSession {
  readonly config: Partial<KafkaConfig>;
  readonly producerConfigs: unknown[];
  disconnected: boolean;
}

/** An acknowledgement of a produce request, per partition. */
export type FakeAck = { partition: number; baseOffset?: string };

/** What the fake's producers and consumers do; a test sets these before (or between) its calls. */
export interface FakeKafkaScript {
  /** A producer's connect. */
  connect: (session: FakeSession) => Promise<void>;
  /** A producer's sendBatch, given the partition of each message (acks must be all). Default: `acknowledgeAll`. */
  sendBatch: (partitions: number[], session: FakeSession) => Promise<FakeAck[]>;
  /** Whether a consumer's seek fetches (false: the fetch never answers). */
  fetches: boolean;
}

/** Each distinct partition acknowledged, its base offset 100 × the partition. */
export const acknowledgeAll = async (partitions: number[]): Promise<FakeAck[]> =>
  [...new Set(partitions)].map((partition) => ({ partition, baseOffset: String(partition * 100) }));

/**
 * An in-memory Kafka cluster behind kafkajs' client shape: topics (name -> partition count),
 * their topic-level configs (AlterConfigs sets the whole set at once, as Kafka does), a log per
 * topic and partition, admins, consumers that fetch from where they are sought (in two fetches,
 * as a broker may split them), and producers whose answers `script` decides.
 *
 * `client` is one kafkajs client, `kafkaFor` makes one per config (a session each, in `calls.sessions`), `admin` is one
 * admin for code that takes a TopicAdmin. `calls` records what was done: the cluster changes as
 * text, admin connects and disconnects, consumer configs and seeks, sessions.
 */
export function fakeKafka(
  options: {
    topics?: Record<string, number>;
    configs?: Record<string, Record<string, string>>;
    log?: Record<string, Map<number, FakeRecord[]>>;
  } = {},
) {
  const cluster = {
    topics: new Map(Object.entries(options.topics ?? {})),
    configs: new Map(Object.entries(options.configs ?? {})),
    log: new Map(Object.entries(options.log ?? {})),
  };
  const calls = {
    changes: [] as string[],
    connected: 0,
    disconnected: 0,
    consumers: [] as ConsumerConfig[],
    seeks: [] as { topic: string; partition: number; offset: string }[],
    sessions: [] as FakeSession[],
  };
  const script: FakeKafkaScript = { connect: async () => undefined, sendBatch: acknowledgeAll, fetches: true };
  const records = (topic: string, partition: number) => cluster.log.get(topic)?.get(partition) ?? [];
  const partitionsOf = (topic: string) => {
    const count = cluster.topics.get(topic);
    if (count === undefined)
      throw Object.assign(new Error("This server does not host this topic-partition"), { type: "UNKNOWN_TOPIC_OR_PARTITION" });
    return Array.from({ length: count }, (_, partition) => partition);
  };

  const admin = {
    connect: async () => void calls.connected++,
    disconnect: async () => void calls.disconnected++,
    listTopics: async () => [...cluster.topics.keys()],
    fetchTopicMetadata: async (request?: { topics?: string[] }) => ({
      topics: (request?.topics ?? [...cluster.topics.keys()]).map((name) => ({
        name,
        partitions: partitionsOf(name).map((partitionId) => ({
          partitionId,
          leader: 1,
          replicas: [1],
          isr: [1],
          offlineReplicas: [],
          partitionErrorCode: 0,
        })),
      })),
    }),
    createTopics: async ({
      topics,
    }: {
      topics: { topic: string; numPartitions?: number; configEntries?: { name: string; value: string }[] }[];
    }) => {
      for (const spec of topics) {
        cluster.topics.set(spec.topic, spec.numPartitions ?? 1);
        if (spec.configEntries !== undefined)
          cluster.configs.set(spec.topic, Object.fromEntries(spec.configEntries.map((e) => [e.name, e.value])));
        calls.changes.push(`create ${spec.topic}:${spec.numPartitions}`);
      }
      return true;
    },
    createPartitions: async ({ topicPartitions }: { topicPartitions: { topic: string; count: number }[] }) => {
      for (const spec of topicPartitions) {
        cluster.topics.set(spec.topic, spec.count);
        calls.changes.push(`grow ${spec.topic}:${spec.count}`);
      }
      return true;
    },
    describeConfigs: async ({ resources }: { resources: { type: number; name: string }[] }) => ({
      throttleTime: 0,
      resources: resources.map((resource) => {
        const set = cluster.configs.get(resource.name) ?? {};
        // Kafka's defaults are inherited (config source 5, DEFAULT_CONFIG) unless set on the topic (1).
        const entries = { "max.message.bytes": "1048588", "retention.ms": "604800000", ...set };
        return {
          errorCode: 0,
          errorMessage: "",
          resourceType: resource.type,
          resourceName: resource.name,
          configEntries: Object.entries(entries).map(([configName, configValue]) => ({
            configName,
            configValue,
            isDefault: set[configName] === undefined,
            configSource: set[configName] === undefined ? 5 : 1,
            isSensitive: false,
            readOnly: false,
            configSynonyms: [],
          })),
        };
      }),
    }),
    alterConfigs: async ({ resources }: { resources: { name: string; configEntries: { name: string; value: string }[] }[] }) => {
      for (const resource of resources) {
        cluster.configs.set(resource.name, Object.fromEntries(resource.configEntries.map((e) => [e.name, e.value])));
        calls.changes.push(`configure ${resource.name}:${resource.configEntries.map((e) => `${e.name}=${e.value}`).join(",")}`);
      }
      return { resources: [] };
    },
    fetchTopicOffsets: async (topic: string) =>
      partitionsOf(topic).map((partition) => ({ partition, high: String(records(topic, partition).length), low: "0" })),
    fetchTopicOffsetsByTimestamp: async (topic: string, timestamp: number) =>
      partitionsOf(topic).map((partition) => {
        const all = records(topic, partition);
        return { partition, offset: String(all.find((r) => r.timestamp >= timestamp)?.offset ?? all.length) };
      }),
  };

  const consumer = (config: ConsumerConfig) => {
    calls.consumers.push(config);
    let eachBatch: ((payload: unknown) => Promise<void>) | undefined;
    return {
      connect: async () => undefined,
      subscribe: async () => undefined,
      disconnect: async () => undefined,
      run: async (run: { eachBatch: (payload: unknown) => Promise<void> }) => {
        eachBatch = run.eachBatch;
      },
      seek: ({ topic, partition, offset }: { topic: string; partition: number; offset: string }) => {
        calls.seeks.push({ topic, partition, offset });
        if (!script.fetches) return;
        const from = records(topic, partition).filter((r) => r.offset >= Number(offset));
        const halves = [from.slice(0, 2), from.slice(2)].filter((half) => half.length > 0);
        void (async () => {
          for (const half of halves) {
            await eachBatch?.({
              batch: {
                topic,
                partition,
                messages: half.map((r) => ({ offset: String(r.offset), timestamp: String(r.timestamp), headers: r.headers })),
                lastOffset: () => String(half.at(-1)?.offset),
              },
            });
          }
        })();
      },
    };
  };

  const clientOf = (session: FakeSession): Kafka => {
    const producer = (producerConfig?: ProducerConfig) => {
      session.producerConfigs.push(producerConfig);
      return {
        connect: () => script.connect(session),
        disconnect: async () => {
          session.disconnected = true;
        },
        sendBatch: async (batch: { acks?: number; topicMessages?: { messages: { partition?: number }[] }[] }) => {
          if (batch.acks !== -1) throw new Error("the Kafka fake takes only acks=-1 (all)");
          return script.sendBatch(batch.topicMessages?.[0]?.messages.map((m) => m.partition ?? 0) ?? [], session);
        },
      };
    };
    return { admin: () => admin, consumer, producer } as unknown as Kafka;
  };
  const kafkaFor = (config: Partial<KafkaConfig>): Kafka => {
    const session: FakeSession = { config, producerConfigs: [], disconnected: false };
    calls.sessions.push(session);
    return clientOf(session);
  };

  return {
    client: clientOf({ config: {}, producerConfigs: [], disconnected: false }),
    kafkaFor,
    admin: admin as TopicAdmin,
    cluster,
    calls,
    script,
  };
}
