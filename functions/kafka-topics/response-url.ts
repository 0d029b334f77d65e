import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import { DependencyError, DependencyErrorCode } from "#shared/errors/internal-errors";
import type { CustomResourceResponse } from "./custom-resource.ts";

/**
 * PUTs a custom resource response to CloudFormation's presigned S3 ResponseURL. The content type
 * is sent empty because the URL was signed without one. Rejects when the upload is refused
 * (status >= 300, naming the status), the connection fails, or `timeoutMs` passes; the URL itself
 * is never put in an error message (it carries a signature).
 */
export function putResponse(responseUrl: string, response: CustomResourceResponse, timeoutMs = 10_000): Promise<void> {
  const url = new URL(responseUrl);
  const body = Buffer.from(JSON.stringify(response));
  const send = url.protocol === "http:" ? httpRequest : httpsRequest;
  return new Promise((resolve, reject) => {
    const req = send(url, { method: "PUT", headers: { "content-type": "", "content-length": body.length }, timeout: timeoutMs }, (res) => {
      res.resume();
      res.on("end", () => {
        const status = res.statusCode ?? 0;
        if (status >= 200 && status < 300) resolve();
        else
          reject(
            new DependencyError(
              DependencyErrorCode.unreachable,
              `the custom resource response was refused with HTTP ${status} by ${url.host}`,
            ),
          );
      });
    });
    req.on("timeout", () =>
      req.destroy(
        new DependencyError(
          DependencyErrorCode.unreachable,
          `no answer from ${url.host} to the custom resource response within ${timeoutMs} ms`,
        ),
      ),
    );
    req.on("error", (error) =>
      reject(
        new DependencyError(
          DependencyErrorCode.unreachable,
          `could not deliver the custom resource response to ${url.host}: ${error.message}`,
          { cause: error },
        ),
      ),
    );
    req.end(body);
  });
}
