import { describe, expect, it } from "vitest";
import { INFINITE_WITH_DESTINATION_RETRIES, kafkaRetryPolicy, mskMappings } from "../../runtime/kafka-esm.ts";
import { localStackContext } from "../../stack/context.ts";
import { localArn } from "../../stack/settings.ts";
import { type SamFunction, samFunctions } from "../../template/functions.ts";

const queueArn = localArn("sqs", "sales-analytics-dead-letters");
const withDestination = { DestinationConfig: { OnFailure: { Type: "SQS", Destination: queueArn } } };

describe("the MSK mapping's retries, read from its event as Lambda applies them", () => {
  it("retries forever with no destination and no limit (the default -1, or absent): the partition waits", () => {
    expect(kafkaRetryPolicy({}, "E")).toEqual({ maxRetryAttempts: Number.POSITIVE_INFINITY, onFailureQueue: undefined });
    expect(kafkaRetryPolicy({ MaximumRetryAttempts: -1 }, "E").maxRetryAttempts).toBe(Number.POSITIVE_INFINITY);
    expect(kafkaRetryPolicy({ MaximumRetryAttempts: "-1" }, "E").maxRetryAttempts).toBe(Number.POSITIVE_INFINITY);
  });

  it("stops after 10 retries when infinite retries meet an on-failure destination", () => {
    expect(INFINITE_WITH_DESTINATION_RETRIES).toBe(10);
    expect(kafkaRetryPolicy(withDestination, "E")).toEqual({ maxRetryAttempts: 10, onFailureQueue: "sales-analytics-dead-letters" });
    expect(kafkaRetryPolicy({ ...withDestination, MaximumRetryAttempts: -1 }, "E").maxRetryAttempts).toBe(10);
  });

  it("keeps an explicit limit, with a destination or without (CloudFormation may pass it as a string)", () => {
    expect(kafkaRetryPolicy({ ...withDestination, MaximumRetryAttempts: 2 }, "E").maxRetryAttempts).toBe(2);
    expect(kafkaRetryPolicy({ ...withDestination, MaximumRetryAttempts: 10_000 }, "E").maxRetryAttempts).toBe(10_000);
    expect(kafkaRetryPolicy({ MaximumRetryAttempts: "0" }, "E")).toEqual({ maxRetryAttempts: 0, onFailureQueue: undefined });
  });

  it.each([[-2], [10_001], [1.5], ["ten"], [null]])("refuses MaximumRetryAttempts %j, naming the event", (value) => {
    expect(() => kafkaRetryPolicy({ MaximumRetryAttempts: value }, "Resources.Fn.Properties.Events.Topic.Properties")).toThrow(
      `Resources.Fn.Properties.Events.Topic.Properties.MaximumRetryAttempts must be an integer of -1 (infinite) to 10000, got ${JSON.stringify(value)}`,
    );
  });

  it("reads template.yaml's aggregate mapping as one that never gives up on a batch", () => {
    const aggregate = mskMappings(samFunctions(localStackContext())).find((m) => m.functionId === "AggregateFunction");
    expect(aggregate).toMatchObject({
      maxRetryAttempts: Number.POSITIVE_INFINITY,
      onFailureQueue: undefined,
      consumerGroupId: "sales-analytics-aggregate",
    });
  });

  it("names the event whose settings Lambda would refuse", () => {
    const fn = {
      logicalId: "Fn",
      events: { Topic: { Type: "MSK", Properties: { Stream: "arn", Topics: ["sales"], MaximumRetryAttempts: -5 } } },
    } as unknown as SamFunction;
    expect(() => mskMappings([fn])).toThrow("Resources.Fn.Properties.Events.Topic.Properties.MaximumRetryAttempts");
  });
});
