import type { Admin, ConfigResourceTypes } from "kafkajs";
import { AppError } from "../errors/app-error.ts";

/** A topic as the template declares it. */
export interface TopicSpec {
  readonly name: string;
  readonly partitions: number;
  /** Topic-level configs (`max.message.bytes`, ...) the topic must have; others are left as they are. */
  readonly config?: Readonly<Record<string, string>>;
}

/** The part of a kafkajs admin client that topic provisioning uses (a fake in unit tests). */
export type TopicAdmin = Pick<
  Admin,
  "listTopics" | "fetchTopicMetadata" | "createTopics" | "createPartitions" | "describeConfigs" | "alterConfigs"
>;

/** What provisioning did to each declared topic. */
export interface TopicsReport {
  readonly created: readonly TopicSpec[];
  readonly grown: readonly { readonly name: string; readonly from: number; readonly to: number }[];
  readonly unchanged: readonly TopicSpec[];
  /** Existing topics whose declared configs differed, with the names of the configs set. */
  readonly reconfigured: readonly { readonly name: string; readonly configs: readonly string[] }[];
}

export const TopicErrorCode = {
  invalidSpec: "INVALID_TOPIC_SPEC",
  morePartitions: "TOPIC_HAS_MORE_PARTITIONS",
} as const;

/** A declaration that cannot be applied as it stands; retrying the same thing cannot help. */
export class TopicError extends AppError {
  constructor(code: (typeof TopicErrorCode)[keyof typeof TopicErrorCode], message: string) {
    super(message, { code, retriable: false });
  }
}

const legalName = /^[a-zA-Z0-9._-]{1,249}$/;
const legalConfigName = /^[a-z0-9]+(\.[a-z0-9]+)*$/;

/** ConfigResourceTypes.TOPIC (kafkajs's ESM entry does not export the enum's values). */
const TOPIC_RESOURCE = 2 as ConfigResourceTypes;

/** DescribeConfigs' config source of a value set on the topic (DYNAMIC_TOPIC_CONFIG). */
const TOPIC_CONFIG_SOURCE = 1;

/**
 * Reads `[{Name, Partitions, Config?}]` as CloudFormation passes it (numbers may arrive as
 * strings; Config maps Kafka topic config names to values). Throws TopicError(INVALID_TOPIC_SPEC)
 * naming `where`, the index and the field at fault.
 */
export function parseTopicSpecs(raw: unknown, where: string): TopicSpec[] {
  if (!Array.isArray(raw) || raw.length === 0) {
    throw new TopicError(TopicErrorCode.invalidSpec, `${where} must be a non-empty list of {Name, Partitions}`);
  }
  const seen = new Set<string>();
  return raw.map((entry, index) => {
    const {
      Name: name,
      Partitions: rawPartitions,
      Config: rawConfig,
    } = (entry ?? {}) as {
      Name?: unknown;
      Partitions?: unknown;
      Config?: unknown;
    };
    if (typeof name !== "string" || !legalName.test(name)) {
      throw new TopicError(
        TopicErrorCode.invalidSpec,
        `${where}[${index}].Name must be a Kafka topic name (1-249 of a-z A-Z 0-9 . _ -), got ${JSON.stringify(name)}`,
      );
    }
    if (seen.has(name)) throw new TopicError(TopicErrorCode.invalidSpec, `${where}[${index}].Name: topic ${name} is declared twice`);
    seen.add(name);
    const partitions = typeof rawPartitions === "string" && /^\d+$/.test(rawPartitions.trim()) ? Number(rawPartitions) : rawPartitions;
    if (typeof partitions !== "number" || !Number.isSafeInteger(partitions) || partitions < 1) {
      throw new TopicError(
        TopicErrorCode.invalidSpec,
        `${where}[${index}].Partitions must be an integer of at least 1, got ${JSON.stringify(rawPartitions)}`,
      );
    }
    if (rawConfig === undefined) return { name, partitions };
    return { name, partitions, config: parseConfig(rawConfig, `${where}[${index}].Config`) };
  });
}

function parseConfig(raw: unknown, where: string): Record<string, string> {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    throw new TopicError(TopicErrorCode.invalidSpec, `${where} must be a map of Kafka topic config names to values`);
  }
  return Object.fromEntries(
    Object.entries(raw).map(([configName, value]) => {
      if (!legalConfigName.test(configName)) {
        throw new TopicError(
          TopicErrorCode.invalidSpec,
          `${where}: ${JSON.stringify(configName)} is not a Kafka config name (like max.message.bytes)`,
        );
      }
      if (typeof value !== "string" && typeof value !== "number") {
        throw new TopicError(
          TopicErrorCode.invalidSpec,
          `${where}.${configName} must be a string or a number, got ${JSON.stringify(value)}`,
        );
      }
      return [configName, String(value)];
    }),
  );
}

/**
 * Makes every declared topic exist with its declared partitions and configs: creates the missing
 * ones (with their configs), adds partitions to those that have fewer, sets declared configs that
 * differ on existing ones (keeping their other topic-level configs), leaves the rest. Existing
 * records are never touched.
 * Checks everything before changing anything: a topic with more partitions than declared
 * (Kafka cannot remove partitions) throws TopicError(TOPIC_HAS_MORE_PARTITIONS) and nothing is
 * created. Kafka errors (unreachable broker, authorization) are rethrown as kafkajs raised them.
 */
export async function ensureTopics(
  specs: readonly TopicSpec[],
  { admin, timeoutMs = 20_000 }: { readonly admin: TopicAdmin; readonly timeoutMs?: number },
): Promise<TopicsReport> {
  const existing = new Set(await admin.listTopics());
  const present = specs.filter((spec) => existing.has(spec.name));
  const missing = specs.filter((spec) => !existing.has(spec.name));
  const counts = new Map<string, number>();
  if (present.length > 0) {
    const metadata = await admin.fetchTopicMetadata({ topics: present.map((spec) => spec.name) });
    for (const topic of metadata.topics) counts.set(topic.name, topic.partitions.length);
  }
  const partitionsOf = (spec: TopicSpec) => counts.get(spec.name) ?? 0;
  const tooMany = present.filter((spec) => partitionsOf(spec) > spec.partitions);
  if (tooMany.length > 0) {
    throw new TopicError(
      TopicErrorCode.morePartitions,
      tooMany
        .map(
          (spec) =>
            `topic ${spec.name} has ${partitionsOf(spec)} partitions and ${spec.partitions} are declared: Kafka cannot remove partitions, declare ${partitionsOf(spec)} or more`,
        )
        .join("; "),
    );
  }
  const tooFew = present.filter((spec) => partitionsOf(spec) < spec.partitions);
  const reconfigured = await configsToSet(present, admin);
  if (missing.length > 0) {
    await admin.createTopics({
      topics: missing.map((spec) => ({
        topic: spec.name,
        numPartitions: spec.partitions,
        ...(spec.config !== undefined && { configEntries: Object.entries(spec.config).map(([name, value]) => ({ name, value })) }),
      })),
      waitForLeaders: true,
      timeout: timeoutMs,
    });
  }
  if (tooFew.length > 0) {
    await admin.createPartitions({
      topicPartitions: tooFew.map((spec) => ({ topic: spec.name, count: spec.partitions })),
      timeout: timeoutMs,
    });
  }
  if (reconfigured.length > 0) {
    // AlterConfigs (the only config call kafkajs has) replaces a topic's whole set of topic-level
    // configs: each request carries the ones already set, with the declared ones over them.
    await admin.alterConfigs({
      validateOnly: false,
      resources: reconfigured.map(({ name, entries }) => ({
        type: TOPIC_RESOURCE,
        name,
        configEntries: Object.entries(entries).map(([configName, value]) => ({ name: configName, value })),
      })),
    });
  }
  const reconfiguredNames = new Set(reconfigured.map((r) => r.name));
  return {
    created: missing,
    grown: tooFew.map((spec) => ({ name: spec.name, from: partitionsOf(spec), to: spec.partitions })),
    unchanged: present.filter((spec) => partitionsOf(spec) === spec.partitions && !reconfiguredNames.has(spec.name)),
    reconfigured: reconfigured.map(({ name, changed }) => ({ name, configs: changed })),
  };
}

/** For each existing topic whose declared configs differ: its topic-level configs with the declared ones over them. */
async function configsToSet(
  present: readonly TopicSpec[],
  admin: TopicAdmin,
): Promise<{ name: string; entries: Record<string, string>; changed: string[] }[]> {
  const declaring = present.filter((spec) => spec.config !== undefined && Object.keys(spec.config).length > 0);
  if (declaring.length === 0) return [];
  const described = await admin.describeConfigs({
    resources: declaring.map((spec) => ({ type: TOPIC_RESOURCE, name: spec.name })),
    includeSynonyms: false,
  });
  return declaring.flatMap((spec) => {
    const entries = described.resources.find((r) => r.resourceName === spec.name)?.configEntries ?? [];
    // Set on the topic itself (not inherited from the broker or Kafka's defaults): kept as they are.
    const own = Object.fromEntries(
      entries.filter((e) => e.configSource === TOPIC_CONFIG_SOURCE && !e.readOnly).map((e) => [e.configName, e.configValue]),
    );
    const current = new Map(entries.map((e) => [e.configName, e.configValue]));
    const changed = Object.entries(spec.config ?? {})
      .filter(([configName, value]) => current.get(configName) !== value)
      .map(([configName]) => configName);
    return changed.length === 0 ? [] : [{ name: spec.name, entries: { ...own, ...spec.config }, changed }];
  });
}
