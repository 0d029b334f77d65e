import { createServer, request as httpRequest, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";

/**
 * Recording proxies between the functions and the local services, so that what each request would
 * cost on AWS can be counted without a line of bench code in the functions' bundles: a function's
 * SDK client reaches them through AWS_ENDPOINT_URL_<SERVICE> like any local endpoint, and the
 * bundle stays byte for byte what `sam build` deploys. (An SDK middleware would have to be built
 * into the bundle or patched into the worker; a proxy also counts clients the runtime itself uses.)
 */

/** One DynamoDB request's consumed capacity, as DynamoDB Local reports it with ReturnConsumedCapacity=TOTAL. */
export interface DynamoDbCall {
  readonly operation: string;
  /** HTTP status: a refused request (a failed condition, 400) reports no units though DynamoDB bills a write for it. */
  readonly status: number;
  /** The request's TableName, when it names one table. */
  readonly table?: string;
  /** Units by table (a batch or transaction may touch several). */
  readonly tables: readonly { readonly table: string; readonly readUnits: number; readonly writeUnits: number }[];
}

/** One request to moto, by the service its signature names (`Credential=<key>/<date>/<region>/<service>/aws4_request`). */
export interface ServiceCall {
  readonly service: string;
  /** `X-Amz-Target`'s operation for JSON protocols (`SendMessage`), else the S3 or REST verb (`PutObject`, `GET /v1/...`). */
  readonly operation: string;
  /** S3 only: the bucket (path-style, the first path segment). */
  readonly bucket?: string;
  readonly status: number;
  readonly requestBytes: number;
}

export interface MeteringProxy {
  /** `http://127.0.0.1:<port>`: the endpoint to hand to clients instead of the service's. */
  readonly url: string;
  close(): Promise<void>;
}

/** The read operations of DynamoDB that take ReturnConsumedCapacity; every other capacity-taking one writes. */
const READS = new Set(["GetItem", "BatchGetItem", "Query", "Scan", "TransactGetItems"]);
const CAPACITY_OPERATIONS = new Set([
  ...READS,
  "PutItem",
  "UpdateItem",
  "DeleteItem",
  "BatchWriteItem",
  "TransactWriteItems",
  "ExecuteStatement",
  "BatchExecuteStatement",
  "ExecuteTransaction",
]);
const READ_STATEMENT = /^\s*SELECT\b/i;

interface Capacity {
  TableName?: string;
  CapacityUnits?: number;
  ReadCapacityUnits?: number;
  WriteCapacityUnits?: number;
}

/**
 * The units of a DynamoDB response's ConsumedCapacity (an object, or an array for batches and
 * transactions) by table, read or write by the operation (and for PartiQL by the statement).
 * Never throws: a response without it gives no tables.
 */
export function consumedUnits(operation: string, requestBody: unknown, consumed: unknown): DynamoDbCall["tables"] {
  const list = (Array.isArray(consumed) ? consumed : consumed === undefined ? [] : [consumed]) as Capacity[];
  const statement = (requestBody as { Statement?: unknown } | undefined)?.Statement;
  const reads = READS.has(operation) || (typeof statement === "string" && READ_STATEMENT.test(statement));
  return list.map((c) => {
    const units = c.CapacityUnits ?? (c.ReadCapacityUnits ?? 0) + (c.WriteCapacityUnits ?? 0);
    return { table: c.TableName ?? "?", readUnits: reads ? units : 0, writeUnits: reads ? 0 : units };
  });
}

function listen(server: Server): Promise<string> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`));
  });
}

function closer(server: Server): () => Promise<void> {
  return () =>
    new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
}

const forwardHeaders = (headers: IncomingHttpHeaders, body: Buffer): IncomingHttpHeaders => {
  // Uncompressed answers, so they can be read; the length of the body actually sent.
  const { "accept-encoding": _encoding, "content-length": _length, ...rest } = headers;
  return { ...rest, "content-length": String(body.length) };
};

/**
 * A proxy in front of DynamoDB (Local) that asks every capacity-taking request for
 * ReturnConsumedCapacity=TOTAL when the caller did not ask, tells `onCall` the units the answer
 * reports, and hands the caller the answer it would have had (ConsumedCapacity removed again when
 * it was added; the body's CRC header dropped, as the body changed). DynamoDB Local does not check
 * signatures, so the rewritten body passes. Throws when it cannot listen.
 */
export async function startDynamoDbMeter(target: string, onCall: (call: DynamoDbCall) => void): Promise<MeteringProxy> {
  const to = new URL(target);
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const operation = String(req.headers["x-amz-target"] ?? "").split(".")[1] ?? "";
      let body = Buffer.concat(chunks);
      let parsed: Record<string, unknown> | undefined;
      let added = false;
      if (CAPACITY_OPERATIONS.has(operation)) {
        try {
          parsed = JSON.parse(body.toString("utf8")) as Record<string, unknown>;
        } catch {
          parsed = undefined;
        }
        if (parsed !== undefined && (parsed.ReturnConsumedCapacity === undefined || parsed.ReturnConsumedCapacity === "NONE")) {
          parsed.ReturnConsumedCapacity = "TOTAL";
          added = true;
          body = Buffer.from(JSON.stringify(parsed));
        }
      }
      const upstream = httpRequest(
        { host: to.hostname, port: to.port, method: req.method, path: req.url, headers: forwardHeaders(req.headers, body) },
        (answer) => {
          const parts: Buffer[] = [];
          answer.on("data", (chunk: Buffer) => parts.push(chunk));
          answer.on("end", () => {
            let out = Buffer.concat(parts);
            const status = answer.statusCode ?? 0;
            if (parsed !== undefined) {
              let document: Record<string, unknown> | undefined;
              try {
                document = JSON.parse(out.toString("utf8")) as Record<string, unknown>;
              } catch {
                document = undefined;
              }
              const table = typeof parsed.TableName === "string" ? parsed.TableName : undefined;
              onCall({
                operation,
                status,
                ...(table !== undefined && { table }),
                tables: consumedUnits(operation, parsed, document?.ConsumedCapacity),
              });
              if (added && document !== undefined && "ConsumedCapacity" in document) {
                delete document.ConsumedCapacity;
                out = Buffer.from(JSON.stringify(document));
              }
            }
            const { "content-length": _length, "x-amz-crc32": _crc, ...headers } = answer.headers;
            res.writeHead(status, { ...headers, "content-length": String(out.length) });
            res.end(out);
          });
        },
      );
      upstream.on("error", () => {
        if (!res.headersSent) res.writeHead(502);
        res.end();
      });
      upstream.end(body);
    });
  });
  return { url: await listen(server), close: closer(server) };
}

/** The service a SigV4 Authorization header (or a presigned URL's X-Amz-Credential) names; "unsigned" when none does. */
export function signedService(authorization: string | undefined, url: string): string {
  const credential =
    /Credential=([^,\s&]+)/.exec(authorization ?? "")?.[1] ?? new URL(url, "http://x").searchParams.get("X-Amz-Credential");
  return credential?.split("/")[3] ?? "unsigned";
}

/** S3's request as its pricing groups them, from method and path-style URL. Never throws. */
export function s3Operation(method: string, url: string): { operation: string; bucket?: string } {
  const path = new URL(url, "http://x").pathname.split("/").filter((part) => part !== "");
  const bucket = path[0];
  const onObject = path.length > 1;
  const verb = method.toUpperCase();
  const operation =
    verb === "PUT"
      ? onObject
        ? "PutObject"
        : "CreateBucket"
      : verb === "GET"
        ? onObject
          ? "GetObject"
          : "ListObjects"
        : verb === "HEAD"
          ? onObject
            ? "HeadObject"
            : "HeadBucket"
          : verb === "DELETE"
            ? onObject
              ? "DeleteObject"
              : "DeleteBucket"
            : verb === "POST"
              ? onObject
                ? "PostObject"
                : "DeleteObjects"
              : verb;
  return { operation, ...(bucket !== undefined && { bucket }) };
}

/**
 * A pass-through proxy in front of moto (S3, SQS, Glue, the MSK API) that tells `onCall` each
 * request's service and operation. Headers, Host included, go through unchanged, so moto checks
 * the same signature it would have. Throws when it cannot listen.
 */
export async function startServiceMeter(target: string, onCall: (call: ServiceCall) => void): Promise<MeteringProxy> {
  const to = new URL(target);
  const server = createServer((req, res) => {
    const url = req.url ?? "/";
    const service = signedService(req.headers.authorization, url);
    const amzTarget = req.headers["x-amz-target"];
    const named =
      service === "s3"
        ? s3Operation(req.method ?? "GET", url)
        : { operation: typeof amzTarget === "string" ? (amzTarget.split(".").pop() ?? amzTarget) : `${req.method} ${url.split("?")[0]}` };
    let requestBytes = 0;
    req.on("data", (chunk: Buffer) => {
      requestBytes += chunk.length;
    });
    const upstream = httpRequest({ host: to.hostname, port: to.port, method: req.method, path: url, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
      answer.on("end", () => onCall({ service, ...named, status: answer.statusCode ?? 0, requestBytes }));
    });
    upstream.on("error", () => {
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
    req.pipe(upstream);
  });
  return { url: await listen(server), close: closer(server) };
}
