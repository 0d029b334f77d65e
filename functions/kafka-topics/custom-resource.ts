import { ensureTopics, parseTopicSpecs, type TopicAdmin, type TopicsReport } from "#shared/kafka/topics";

/** A CloudFormation custom resource request (the fields this resource reads). */
export interface CustomResourceRequest {
  readonly RequestType: "Create" | "Update" | "Delete";
  readonly ResponseURL: string;
  readonly StackId: string;
  readonly RequestId: string;
  readonly LogicalResourceId: string;
  readonly PhysicalResourceId?: string;
  readonly ResourceProperties: Readonly<Record<string, unknown>>;
}

/** The JSON body CloudFormation expects at the ResponseURL (at most 4096 bytes). */
export interface CustomResourceResponse {
  readonly Status: "SUCCESS" | "FAILED";
  readonly Reason?: string;
  readonly PhysicalResourceId: string;
  readonly StackId: string;
  readonly RequestId: string;
  readonly LogicalResourceId: string;
  readonly Data?: Readonly<Record<string, string>>;
}

export interface TopicsResourceDeps {
  /** A connected admin client; called only when Kafka must be asked (never on Delete). */
  readonly admin: () => Promise<TopicAdmin>;
  /** The bootstrap servers the admin reached: answered as the resource's `BootstrapBrokers` (Fn::GetAtt). */
  readonly bootstrapBrokers: () => Promise<readonly string[]>;
  /** Delivers the response to the ResponseURL; rejects when it was not accepted. */
  readonly send: (responseUrl: string, response: CustomResourceResponse) => Promise<void>;
  /** Milliseconds left before Lambda stops the invocation. */
  readonly remainingMs: () => number;
  /** Kept back from `remainingMs` to send FAILED before Lambda stops us (default 10 s). */
  readonly marginMs?: number;
  readonly log: (message: string, fields: Record<string, unknown>) => void;
}

const requestTypes = ["Create", "Update", "Delete"] as const;
// Reasons carry Kafka's messages; keep the whole body well under CloudFormation's 4096 bytes.
const MAX_REASON_CHARS = 2000;

/**
 * Reads the fields of a custom resource request. Throws a TypeError naming the missing field:
 * without a ResponseURL there is nobody to answer, so this is the one failure that is not sent.
 */
export function parseRequest(event: unknown): CustomResourceRequest {
  const e = (event ?? {}) as Record<string, unknown>;
  for (const field of ["ResponseURL", "StackId", "RequestId", "LogicalResourceId"] as const) {
    if (typeof e[field] !== "string" || e[field] === "") throw new TypeError(`custom resource request has no ${field}`);
  }
  if (!(requestTypes as readonly unknown[]).includes(e.RequestType)) {
    throw new TypeError(`custom resource request has RequestType ${JSON.stringify(e.RequestType)}, expected Create, Update or Delete`);
  }
  return {
    ...(e as unknown as CustomResourceRequest),
    ResourceProperties: (typeof e.ResourceProperties === "object" && e.ResourceProperties !== null ? e.ResourceProperties : {}) as Record<
      string,
      unknown
    >,
  };
}

/**
 * Answers a `Custom::KafkaTopics` request, exactly once, before the invocation's time runs out.
 * Create and Update make the declared topics exist with their partitions (ensureTopics) and
 * answer the cluster's bootstrap servers (Data.BootstrapBrokers); Delete
 * answers SUCCESS and leaves the topics and their records alone. Any failure, and running out of
 * time, is answered FAILED with the reason. Resolves with what was sent; rejects only when the
 * request has no ResponseURL (TypeError) or the response could not be delivered (send's error).
 */
export async function answerTopicsRequest(event: unknown, deps: TopicsResourceDeps): Promise<CustomResourceResponse> {
  const request = parseRequest(event);
  // Echoed on Update and Delete so CloudFormation never sees a replacement; unique per Create.
  const physicalId = request.PhysicalResourceId ?? `kafka-topics-${request.RequestId}`;
  const answer = (status: CustomResourceResponse["Status"], extra: Partial<CustomResourceResponse>): CustomResourceResponse => ({
    Status: status,
    PhysicalResourceId: physicalId,
    StackId: request.StackId,
    RequestId: request.RequestId,
    LogicalResourceId: request.LogicalResourceId,
    ...extra,
  });

  const work = async (): Promise<CustomResourceResponse> => {
    if (request.RequestType === "Delete") {
      deps.log("delete: topics and their records are kept", { physicalId });
      return answer("SUCCESS", { Reason: "topics are kept on delete (their records are data); delete them yourself if wanted" });
    }
    const specs = parseTopicSpecs(request.ResourceProperties.Topics, "Topics");
    const report = await ensureTopics(specs, { admin: await deps.admin() });
    deps.log("topics provisioned", { requestType: request.RequestType, ...summary(report) });
    // The functions that produce get the brokers from here at deploy time, so none of them loads
    // an MSK API client or asks GetBootstrapBrokers on a cold start.
    return answer("SUCCESS", { Data: { ...summary(report), BootstrapBrokers: (await deps.bootstrapBrokers()).join(",") } });
  };

  const budgetMs = deps.remainingMs() - (deps.marginMs ?? 10_000);
  let timer: NodeJS.Timeout | undefined;
  const outOfTime = new Promise<CustomResourceResponse>((resolve) => {
    timer = setTimeout(
      () =>
        resolve(
          answer("FAILED", {
            Reason: `no answer from Kafka within ${Math.round(Math.max(budgetMs, 0) / 1000)} s; topics may be partly provisioned, and a retried deployment finishes them`,
          }),
        ),
      Math.max(budgetMs, 0),
    );
  });
  const response = await Promise.race([
    work().catch((error: unknown) => {
      const reason = `${(error as Error)?.name ?? "Error"}: ${(error as Error)?.message ?? String(error)}`;
      return answer("FAILED", { Reason: reason.slice(0, MAX_REASON_CHARS) });
    }),
    outOfTime,
  ]).finally(() => clearTimeout(timer));
  if (response.Status === "FAILED") deps.log("answering FAILED", { reason: response.Reason, requestType: request.RequestType });
  await deps.send(request.ResponseURL, response);
  return response;
}

/** The report as CloudFormation Data (string values, readable with Fn::GetAtt). */
function summary(report: TopicsReport): Record<string, string> {
  const list = (items: readonly { name: string; partitions: number }[]) => items.map((t) => `${t.name}:${t.partitions}`).join(",");
  return {
    Created: list(report.created),
    Grown: report.grown.map((t) => `${t.name}:${t.from}->${t.to}`).join(","),
    Unchanged: list(report.unchanged),
    Reconfigured: report.reconfigured.map((t) => `${t.name}:${t.configs.join("+")}`).join(","),
  };
}
