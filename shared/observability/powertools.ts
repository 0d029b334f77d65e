import { Logger } from "@aws-lambda-powertools/logger";
import { Tracer } from "@aws-lambda-powertools/tracer";

/** Logger and tracer of one function, created once per container. */
export function observability(serviceName: string) {
  return {
    logger: new Logger({ serviceName }),
    tracer: new Tracer({ serviceName }),
  };
}
