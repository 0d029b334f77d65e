import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Component } from "./components.ts";
import { lakeReaderCredentials } from "./identities.ts";
import { trinoJavaHome } from "./prerequisites.ts";
import { endpoints, host, localAws, paths, ports } from "./settings.ts";

/**
 * Trino, the engine behind Athena (v3), as the local stack's query engine: one coordinator that
 * also runs the work, its Hive connector on the stack's own Glue catalog and S3 (moto). The catalog
 * is named as Athena names the Glue catalog, so SQL reads the same here and in Athena.
 */
export const trinoCatalog = "awsdatacatalog";

const configDir = () => join(paths.run, "trino");

/** The catalog's properties: the Glue metastore and S3 at moto, signed with the lake reader's keys. */
function catalogProperties(): string[] {
  const keys = lakeReaderCredentials();
  if (keys === undefined)
    throw new Error("the lake reader's keys are not provisioned yet: bring the stack up (npm run stack -- up) before Trino");
  return [
    "connector.name=hive",
    "hive.metastore=glue",
    `hive.metastore.glue.region=${localAws.region}`,
    `hive.metastore.glue.endpoint-url=${endpoints.moto}`,
    `hive.metastore.glue.aws-access-key=${keys.accessKeyId}`,
    `hive.metastore.glue.aws-secret-key=${keys.secretAccessKey}`,
    // Athena's partition projection table properties (template.yaml SalesTable): no partition in the catalog.
    "hive.partition-projection-enabled=true",
    "fs.native-s3.enabled=true",
    `s3.endpoint=${endpoints.moto}`,
    `s3.region=${localAws.region}`,
    "s3.path-style-access=true",
    `s3.aws-access-key=${keys.accessKeyId}`,
    `s3.aws-secret-key=${keys.secretAccessKey}`,
    "",
  ];
}

/**
 * The local Trino server (opt-in: `npm run stack -- up --trino`, or a test's startTrino()): Java 24+
 * (prerequisites.ts), a 1 GB heap, loopback only, no request log in the checkout.
 */
export const trino: Component = {
  name: "trino",
  port: ports.trino,
  endpoint: endpoints.trino,
  // ~20 s on an idle 2-core machine; a busy test run's machine takes longer.
  startTimeoutMs: 180_000,
  prepare() {
    const catalogs = join(configDir(), "catalog");
    mkdirSync(catalogs, { recursive: true });
    mkdirSync(paths.trinoData, { recursive: true });
    writeFileSync(
      join(configDir(), "config.properties"),
      [
        "coordinator=true",
        "node-scheduler.include-coordinator=true",
        `http-server.http.port=${ports.trino}`,
        `discovery.uri=${endpoints.trino}`,
        "http-server.log.enabled=false",
        `plugin.dir=${join(paths.trinoHome, "plugin")}`,
        `catalog.config-dir=${catalogs}`,
        "",
      ].join("\n"),
      { mode: 0o600 },
    );
    writeFileSync(join(catalogs, `${trinoCatalog}.properties`), catalogProperties().join("\n"), { mode: 0o600 });
    writeFileSync(join(configDir(), "log.properties"), ["Bootstrap=WARN", "io.trino=WARN", "io.trino.server.Server=INFO", ""].join("\n"));
  },
  command() {
    return {
      command: join(trinoJavaHome(), "bin", "java"),
      args: [
        "-Xmx1G",
        "-XX:+UseG1GC",
        "-XX:+ExitOnOutOfMemoryError",
        "-Djdk.attach.allowAttachSelf=true",
        // Hive timestamps (payment_date) are read as UTC wall time, as Athena reads them.
        "-Duser.timezone=UTC",
        "-Dnode.environment=local",
        "-Dnode.id=local-stack",
        `-Dnode.bind-ip=${host}`,
        `-Dnode.internal-address=${host}`,
        `-Dnode.data-dir=${paths.trinoData}`,
        `-Dlog.levels-file=${join(configDir(), "log.properties")}`,
        `-Dconfig=${join(configDir(), "config.properties")}`,
        "-cp",
        `${join(paths.trinoHome, "lib")}/*`,
        "io.trino.server.TrinoServer",
      ],
    };
  },
  env() {
    return { JAVA_HOME: trinoJavaHome() };
  },
  async healthy() {
    try {
      const response = await fetch(`${endpoints.trino}/v1/info`, { signal: AbortSignal.timeout(2000) });
      if (!response.ok) return false;
      const info = (await response.json()) as { starting?: boolean };
      return info.starting === false;
    } catch {
      return false;
    }
  },
};

/** A query's answer: column names and types, and the rows as Trino's JSON gives them (decimals as strings). */
export interface TrinoResult {
  readonly columns: readonly { readonly name: string; readonly type: string }[];
  readonly rows: readonly (readonly unknown[])[];
}

interface StatementResponse {
  readonly nextUri?: string;
  readonly columns?: { name: string; type: string }[];
  readonly data?: unknown[][];
  readonly error?: { message: string; errorName?: string };
}

/**
 * Runs one SQL statement on the local Trino through its client protocol (POST /v1/statement, then
 * each nextUri) with `awsdatacatalog` as the catalog and `schema` (a Glue database) as the schema.
 * Throws Trino's error message with the statement, or when the server does not answer.
 */
export async function trinoQuery(sql: string, { schema }: { schema?: string } = {}): Promise<TrinoResult> {
  const headers = {
    "X-Trino-User": "local-stack",
    "X-Trino-Catalog": trinoCatalog,
    ...(schema !== undefined && { "X-Trino-Schema": schema }),
  };
  const call = async (url: string, init: RequestInit = {}): Promise<StatementResponse> => {
    const response = await fetch(url, { ...init, headers });
    const body = await response.text();
    if (!response.ok) throw new Error(`Trino answered HTTP ${response.status} at ${url}: ${body.slice(0, 300)}\n  in: ${sql}`);
    return JSON.parse(body) as StatementResponse;
  };
  let response = await call(`${endpoints.trino}/v1/statement`, { method: "POST", body: sql });
  let columns: TrinoResult["columns"] = [];
  const rows: unknown[][] = [];
  for (;;) {
    if (response.error !== undefined) throw new Error(`Trino: ${response.error.message}\n  in: ${sql}`);
    if (response.columns !== undefined) columns = response.columns.map(({ name, type }) => ({ name, type }));
    if (response.data !== undefined) rows.push(...response.data);
    if (response.nextUri === undefined) return { columns, rows };
    response = await call(response.nextUri);
  }
}
