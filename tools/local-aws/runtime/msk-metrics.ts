import type { Admin, Kafka } from "kafkajs";
import type { MetricSink } from "./metrics.ts";

/**
 * The broker-side metrics MSK Serverless publishes for a consumer group and its topic, emulated
 * from the local broker once a minute (the sink's minute), with MSK's names and dimensions:
 * - SumOffsetLag and MaxOffsetLag (Cluster Name, Consumer Group, Topic): the sum and the largest of
 *   the partitions' end offset less the group's committed offset. As on MSK, only while the group
 *   is Stable or Empty (a mapping that cannot poll leaves it Empty: the lag goes on being
 *   published), and only once it has committed an offset on the topic (a group that never
 *   committed, a new stack before its first batch, has none).
 * - MessagesInPerSec (Cluster Name, Topic): one datapoint per partition, the records appended in
 *   the minute divided by 60 (MSK publishes per partition; an alarm sums them).
 * https://docs.aws.amazon.com/msk/latest/developerguide/serverless-monitoring.html
 * https://docs.aws.amazon.com/msk/latest/developerguide/consumer-lag.html
 * The local broker needs no credentials: who may read the group is not part of this.
 */
export interface MskGroupWatch {
  /** The cluster's name (the second part of its ARN), as MSK's "Cluster Name" dimension. */
  readonly clusterName: string;
  readonly groupId: string;
  readonly topic: string;
}

/** Kafka's states in which MSK publishes a group's lag (its docs: STABLE or EMPTY). */
const PUBLISHING_STATES = new Set(["Stable", "Empty"]);

export class MskMetricsEmulator {
  readonly #admin: Admin;
  readonly #sink: MetricSink;
  readonly #watches: readonly MskGroupWatch[];
  readonly #ends = new Map<string, Map<number, bigint>>();
  #timer: NodeJS.Timeout | undefined;
  #tick: Promise<void> = Promise.resolve();
  /** The last failure to read the broker (the emulator keeps ticking; a test may check it). */
  lastError: Error | undefined;

  constructor(kafka: Kafka, sink: MetricSink, watches: readonly MskGroupWatch[]) {
    this.#admin = kafka.admin();
    this.#sink = sink;
    this.#watches = watches;
  }

  /** Connects and publishes at the start of every minute of the sink until stop(). Throws when the broker refuses the connection. */
  async start(): Promise<void> {
    await this.#admin.connect();
    await this.publish();
    this.#timer = setInterval(() => {
      this.#tick = this.#tick.then(() => this.publish());
    }, this.#sink.minuteMs);
  }

  /** Publishes one minute's datapoints now. Never rejects: a failure is kept in lastError, as a gap in MSK's metrics would be. */
  async publish(now = Date.now()): Promise<void> {
    try {
      for (const watch of this.#watches) await this.#publishOne(watch, now);
      this.lastError = undefined;
    } catch (error) {
      this.lastError = error as Error;
    }
  }

  async #publishOne({ clusterName, groupId, topic }: MskGroupWatch, now: number): Promise<void> {
    const ends = new Map((await this.#admin.fetchTopicOffsets(topic)).map((p) => [p.partition, BigInt(p.high)]));
    const previous = this.#ends.get(topic);
    this.#ends.set(topic, ends);
    if (previous !== undefined)
      for (const [partition, end] of ends) {
        const appended = Number(end - (previous.get(partition) ?? end));
        this.#sink.put(
          { namespace: "AWS/Kafka", name: "MessagesInPerSec", dimensions: { "Cluster Name": clusterName, Topic: topic } },
          appended / 60,
          now,
        );
      }
    const [group] = (await this.#admin.describeGroups([groupId])).groups;
    if (group === undefined || !PUBLISHING_STATES.has(group.state)) return;
    const [committed] = await this.#admin.fetchOffsets({ groupId, topics: [topic] });
    const lags = (committed?.partitions ?? [])
      .filter((p) => Number(p.offset) >= 0)
      .map((p) => Number((ends.get(p.partition) ?? 0n) - BigInt(p.offset)));
    if (lags.length === 0) return;
    const dimensions = { "Cluster Name": clusterName, "Consumer Group": groupId, Topic: topic };
    this.#sink.put(
      { namespace: "AWS/Kafka", name: "SumOffsetLag", dimensions },
      lags.reduce((a, b) => a + b, 0),
      now,
    );
    this.#sink.put({ namespace: "AWS/Kafka", name: "MaxOffsetLag", dimensions }, Math.max(...lags), now);
  }

  /** Stops publishing and disconnects; waits for a publish under way. */
  async stop(): Promise<void> {
    clearInterval(this.#timer);
    await this.#tick;
    await this.#admin.disconnect();
  }
}
