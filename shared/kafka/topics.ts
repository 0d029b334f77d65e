import type { Admin } from "kafkajs";
import { AppError } from "../errors/app-error.ts";

/** A topic as the template declares it. */
export interface TopicSpec {
  readonly name: string;
  readonly partitions: number;
}

/** The part of a kafkajs admin client that topic provisioning uses (a fake in unit tests). */
export type TopicAdmin = Pick<Admin, "listTopics" | "fetchTopicMetadata" | "createTopics" | "createPartitions">;

/** What provisioning did to each declared topic. */
export interface TopicsReport {
  readonly created: readonly TopicSpec[];
  readonly grown: readonly { readonly name: string; readonly from: number; readonly to: number }[];
  readonly unchanged: readonly TopicSpec[];
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

/**
 * Reads `[{Name, Partitions}]` as CloudFormation passes it (numbers may arrive as strings).
 * Throws TopicError(INVALID_TOPIC_SPEC) naming `where`, the index and the field at fault.
 */
export function parseTopicSpecs(raw: unknown, where: string): TopicSpec[] {
  if (!Array.isArray(raw) || raw.length === 0) {
    throw new TopicError(TopicErrorCode.invalidSpec, `${where} must be a non-empty list of {Name, Partitions}`);
  }
  const seen = new Set<string>();
  return raw.map((entry, index) => {
    const { Name: name, Partitions: rawPartitions } = (entry ?? {}) as { Name?: unknown; Partitions?: unknown };
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
    return { name, partitions };
  });
}

/**
 * Makes every declared topic exist with its declared partitions: creates the missing ones,
 * adds partitions to those that have fewer, leaves the rest. Existing records are never touched.
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
  if (missing.length > 0) {
    await admin.createTopics({
      topics: missing.map((spec) => ({ topic: spec.name, numPartitions: spec.partitions })),
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
  return {
    created: missing,
    grown: tooFew.map((spec) => ({ name: spec.name, from: partitionsOf(spec), to: spec.partitions })),
    unchanged: present.filter((spec) => partitionsOf(spec) === spec.partitions),
  };
}
