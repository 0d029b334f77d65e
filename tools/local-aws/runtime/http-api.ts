import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { localArn, localAws } from "../stack/settings.ts";
import type { SamFunction } from "../template/functions.ts";
import type { LocalFunction } from "./lambda.ts";

/** A route of the template: `POST /sales` -> IngestFunction. */
export interface HttpRoute {
  readonly method: string;
  readonly path: string;
  readonly functionId: string;
  readonly pattern: RegExp;
  readonly parameters: readonly string[];
}

/** The HttpApi routes declared by the functions' events. */
export function httpRoutes(functions: readonly SamFunction[]): HttpRoute[] {
  return functions.flatMap((fn) =>
    Object.values(fn.events)
      .filter((event) => event.Type === "HttpApi")
      .map((event) => {
        const path = String(event.Properties.Path);
        const parameters: string[] = [];
        const pattern = new RegExp(
          `^${path.replace(/\{(\w+)(\+?)\}/g, (_, name: string, greedy: string) => {
            parameters.push(name);
            return greedy === "+" ? "(.+)" : "([^/]+)";
          })}$`,
        );
        return { method: String(event.Properties.Method).toUpperCase(), path, functionId: fn.logicalId, pattern, parameters };
      }),
  );
}

const MAX_PAYLOAD = 10 * 1024 * 1024; // HTTP API payload quota

function readBody(request: IncomingMessage): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    request.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_PAYLOAD) {
        resolve(undefined);
        request.destroy();
      } else chunks.push(chunk);
    });
    request.on("end", () => resolve(Buffer.concat(chunks)));
    request.on("error", reject);
  });
}

const textTypes = /^(text\/|application\/(json|xml|x-www-form-urlencoded|.*\+json))/i;

/** Builds the payload 2.0 event API Gateway would send for this request and route. */
export function httpApiEvent(request: IncomingMessage, url: URL, body: Buffer, route: HttpRoute, match: RegExpExecArray) {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.headers)) {
    if (value !== undefined) headers[name.toLowerCase()] = Array.isArray(value) ? value.join(",") : value;
  }
  const query: Record<string, string> = {};
  for (const [name, value] of url.searchParams) query[name] = name in query ? `${query[name]},${value}` : value;
  const pathParameters = Object.fromEntries(route.parameters.map((name, i) => [name, decodeURIComponent(match[i + 1] ?? "")]));
  const isText = body.length === 0 || textTypes.test(headers["content-type"] ?? "");
  const now = new Date();
  const routeKey = `${route.method} ${route.path}`;
  return {
    version: "2.0",
    routeKey,
    rawPath: url.pathname,
    rawQueryString: url.search.slice(1),
    ...(headers.cookie !== undefined && { cookies: headers.cookie.split(";").map((c) => c.trim()) }),
    headers,
    ...(Object.keys(query).length > 0 && { queryStringParameters: query }),
    ...(route.parameters.length > 0 && { pathParameters }),
    requestContext: {
      accountId: localAws.accountId,
      apiId: "local",
      domainName: headers.host ?? "127.0.0.1",
      domainPrefix: "local",
      http: {
        method: route.method,
        path: url.pathname,
        protocol: `HTTP/${request.httpVersion}`,
        sourceIp: request.socket.remoteAddress ?? "127.0.0.1",
        userAgent: headers["user-agent"] ?? "",
      },
      requestId: randomUUID(),
      routeKey,
      stage: "$default",
      time: now.toUTCString(),
      timeEpoch: now.getTime(),
      authorizer: {
        iam: {
          accessKey: "LOCAL",
          accountId: localAws.accountId,
          callerId: "local",
          principalOrgId: null,
          userArn: localArn("iam", "user/local", { regional: false }),
          userId: "local",
        },
      },
    },
    ...(body.length > 0 && { body: isText ? body.toString("utf8") : body.toString("base64") }),
    isBase64Encoded: !isText,
  };
}

function send(response: ServerResponse, status: number, body: string, headers: Record<string, string> = {}) {
  response.writeHead(status, { "content-type": "application/json", ...headers });
  response.end(body);
}

/** Writes a handler result as API Gateway does: a bare value is 200 JSON, a {statusCode} object is used as is. */
function writeResult(response: ServerResponse, result: unknown) {
  const shaped = result as {
    statusCode?: number;
    headers?: Record<string, string>;
    body?: string;
    isBase64Encoded?: boolean;
    cookies?: string[];
  } | null;
  if (shaped === null || typeof shaped !== "object" || typeof shaped.statusCode !== "number") {
    send(response, 200, typeof result === "string" ? result : JSON.stringify(result));
    return;
  }
  const headers: Record<string, string | string[]> = { ...(shaped.headers ?? {}) };
  if (shaped.cookies !== undefined) headers["set-cookie"] = shaped.cookies;
  response.writeHead(shaped.statusCode, headers);
  response.end(shaped.isBase64Encoded === true ? Buffer.from(shaped.body ?? "", "base64") : (shaped.body ?? ""));
}

/** Told of each request routed to a function (what API Gateway bills: its route and body size); must not throw. */
export type ApiRequestObserver = (routeKey: string, requestBytes: number) => void;

/** Serves the template's HttpApi routes on loopback by invoking the functions unchanged. */
export function startHttpApi(
  routes: readonly HttpRoute[],
  functions: ReadonlyMap<string, LocalFunction>,
  port: number,
  host = "127.0.0.1",
  onRequest?: ApiRequestObserver,
): Promise<Server> {
  const server = createServer(async (request, response) => {
    try {
      const url = new URL(request.url ?? "/", `http://${host}:${port}`);
      const method = (request.method ?? "GET").toUpperCase();
      const onPath = routes.map((route) => ({ route, match: route.pattern.exec(url.pathname) })).filter((r) => r.match !== null);
      const hit = onPath.find((r) => r.route.method === method || r.route.method === "ANY");
      if (hit === undefined) {
        if (onPath.length > 0)
          send(response, 405, JSON.stringify({ message: "Method Not Allowed" }), { allow: onPath.map((r) => r.route.method).join(", ") });
        else send(response, 404, JSON.stringify({ message: "Not Found" }));
        return;
      }
      const body = await readBody(request);
      if (body === undefined) {
        send(response, 413, JSON.stringify({ message: "Request Entity Too Large" }));
        return;
      }
      onRequest?.(`${hit.route.method} ${hit.route.path}`, body.length);
      const fn = functions.get(hit.route.functionId);
      if (fn === undefined) throw new Error(`no local function ${hit.route.functionId}`);
      const outcome = await fn.invoke(httpApiEvent(request, url, body, hit.route, hit.match as RegExpExecArray));
      if (outcome.ok) writeResult(response, outcome.result);
      else send(response, 500, JSON.stringify({ message: "Internal Server Error" }));
    } catch {
      if (!response.headersSent) send(response, 500, JSON.stringify({ message: "Internal Server Error" }));
    }
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve(server));
  });
}
