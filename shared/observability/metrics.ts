import { Metrics } from "@aws-lambda-powertools/metrics";

// Apart from observability(): functions that emit no metrics do not load the module at cold start.
/** CloudWatch metrics (embedded metric format) of one function, under the product's namespace. */
export function metricsFor(serviceName: string): Metrics {
  return new Metrics({ serviceName, namespace: "SalesStreamAnalytics" });
}
