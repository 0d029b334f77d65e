import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { emulatedResourceTypes, localStackContext, unemulatedTypes } from "@sales-stream-analytics/local-aws";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { MAX_LEADERBOARD_LIMIT, queryParameters } from "#functions/query/query";
import { OTHER_COUNTRIES } from "#shared/aggregates/metrics";
import { ISO_INSTANT_SYNTAX } from "#shared/time/instant";
import { generateContract } from "#tools/gen/contract";
import { versions } from "../../../tools/local-aws/stack/settings.ts";

/**
 * Claims of docs/ that follow from code or from template.yaml, read from their source so the
 * page cannot drift from it.
 */
const root = new URL("../../../", import.meta.url).pathname;
const page = (name: string) => readFileSync(join(root, name), "utf8");

/** The text of a `## heading` section, up to the next `## `. */
function section(text: string, heading: string): string {
  const start = text.indexOf(`\n## ${heading}\n`);
  expect(start, `section "${heading}"`).toBeGreaterThanOrEqual(0);
  const end = text.indexOf("\n## ", start + 1);
  return text.slice(start, end < 0 ? undefined : end);
}

describe("docs/local-stack.md", () => {
  it("names every resource type of template.yaml the local stack skips, and no type it emulates", () => {
    const template = localStackContext().template;
    const skipped = unemulatedTypes(template).map((group) => group.type);
    expect(skipped).toContain("AWS::CloudWatch::Alarm");
    const table = section(page("docs/local-stack.md"), "What it does not emulate")
      .split("\n")
      .filter((line) => line.startsWith("| `"));
    const named = table.flatMap((line) => [...(line.split(" | ")[0] ?? "").matchAll(/`([A-Za-z0-9:]+)`/g)].map((m) => m[1] as string));
    expect(named.sort()).toEqual([...skipped].sort());
    expect(named.filter((type) => type in emulatedResourceTypes)).toEqual([]);
  });
});

type Operation = {
  operationId: string;
  parameters?: { name: string; in: string; schema?: Record<string, unknown> }[];
  responses: Record<string, { description?: string }>;
};
const openapi = parse(page("docs/openapi.yaml")) as { paths: Record<string, Record<string, Operation>> };
const operations = new Map(
  Object.values(openapi.paths)
    .flatMap((methods) => Object.values(methods))
    .map((operation) => [operation.operationId, operation]),
);
const operation = (id: string) => {
  const found = operations.get(id);
  if (found === undefined) throw new Error(`docs/openapi.yaml has no operation ${id}`);
  return found;
};
/** The exploded object that holds a query route's query string. */
const queryObject = (id: string) => {
  const schema = operation(id).parameters?.find((p) => p.in === "query")?.schema as
    | { properties: Record<string, Record<string, unknown>>; additionalProperties: boolean }
    | undefined;
  if (schema === undefined) throw new Error(`${id} has no query object`);
  return schema;
};

/** (status, code) of every error a core throws, read from its source: HttpError(s, "C"), badRequest("C"), unavailable("C"). */
function thrownCodes(file: string): { status: string; code: string }[] {
  const source = page(file);
  return [
    ...[...source.matchAll(/new HttpError\(\s*(\d{3}),\s*"([A-Z_]+)"/g)].map((m) => ({ status: m[1] as string, code: m[2] as string })),
    ...[...source.matchAll(/badRequest\(\s*"([A-Z_]+)"/g)].map((m) => ({ status: "400", code: m[1] as string })),
    ...[...source.matchAll(/unavailable\(\s*"([A-Z_]+)"/g)].map((m) => ({ status: "503", code: m[1] as string })),
  ];
}

describe("docs/openapi.yaml", () => {
  it.each([
    ["functions/ingest/ingest.ts", ["postSales"]],
    ["functions/ingest/parse.ts", ["postSales"]],
    ["functions/query/query.ts", ["getLeaderboard", "getSeries"]],
    ["functions/dashboard/page.ts", ["getDashboardAsset"]],
  ])("lists every error code %s answers under its status", (file, ids) => {
    const codes = thrownCodes(file);
    expect(codes.length).toBeGreaterThan(0);
    const missing = codes.filter(
      ({ status, code }) => !ids.some((id) => (operation(id).responses[status]?.description ?? "").includes(code)),
    );
    expect(missing).toEqual([]);
  });

  it("states each query route's parameters as the route reads them, with nothing else allowed", () => {
    expect(Object.keys(queryObject("getLeaderboard").properties)).toEqual([...queryParameters.leaderboard]);
    expect(Object.keys(queryObject("getSeries").properties)).toEqual([...queryParameters.series]);
    expect(queryObject("getLeaderboard").additionalProperties).toBe(false);
    expect(queryObject("getSeries").additionalProperties).toBe(false);
    expect(queryObject("getLeaderboard").properties.limit).toMatchObject({ maximum: MAX_LEADERBOARD_LIMIT });
  });

  it("offers the windows template.yaml configures, and instants in the syntax the API reads", () => {
    const windows = String(localStackContext().template.Parameters?.Windows?.Default).split(",");
    for (const id of ["getLeaderboard", "getSeries"]) expect(queryObject(id).properties.window?.enum).toEqual(windows);
    for (const [id, name] of [
      ["getLeaderboard", "at"],
      ["getSeries", "from"],
      ["getSeries", "to"],
    ] as const)
      expect(queryObject(id).properties[name]).toMatchObject({ format: "date-time", pattern: ISO_INSTANT_SYNTAX });
  });

  it("has no description that a flow mapping's comma cut into a stray key", () => {
    const stray: string[] = [];
    const walk = (value: unknown, path: string) => {
      if (Array.isArray(value)) for (const [i, item] of value.entries()) walk(item, `${path}[${i}]`);
      else if (value !== null && typeof value === "object")
        for (const [key, inner] of Object.entries(value)) {
          // Paths and examples may have any key; elsewhere a key with a space is a description cut in two.
          if (/\s/.test(key) && !/\/(paths|examples)$/.test(path)) stray.push(`${path}/${key}`);
          walk(inner, `${path}/${key}`);
        }
    };
    walk(parse(page("docs/openapi.yaml")), "");
    expect(stray).toEqual([]);
  });
});

describe("docs/add-a-field.md", () => {
  it("lists exactly the files npm run gen writes, and names the reserved country as the validator has it", () => {
    const text = page("docs/add-a-field.md");
    const table = section(`\n${text}`.replace("\n# ", "\n## "), "Add a field to a sale")
      .split("\n")
      .filter((line) => line.startsWith("| `"))
      .map((line) => /^\| `([^`]+)`/.exec(line)?.[1]);
    expect(table.sort()).toEqual([...generateContract(root).keys()].sort());
    expect(text).toContain(`\`${OTHER_COUNTRIES}\``);
  });
});

describe("what docs/ say of ingest", () => {
  it("never calls a POST /sales request a Kafka transaction: the ingest producer is idempotent, not transactional", () => {
    expect(page("shared/kafka/producer.ts")).not.toMatch(/transactionalId/);
    for (const name of ["README.md", ...readdirSync(join(root, "docs")).map((file) => `docs/${file}`)])
      expect(page(name), name).not.toMatch(/one Kafka transaction|answered 503 (was|is) aborted/i);
  });
});

describe("names the pages give", () => {
  const pages = ["README.md", "tools/local-aws/README.md", ...readdirSync(join(root, "docs")).map((file) => `docs/${file}`)].filter(
    (name) => name.endsWith(".md"),
  );
  const exists = (path: string) => existsSync(join(root, path)) || existsSync(join(root, `${path}.ts`));

  it("every file path in code style names a file of the repository (a package README's own paths from its folder)", () => {
    // A path the page describes as one to create (add-a-field.md's worked example).
    const toCreate = new Set(["schemas/sales-v3.json"]);
    const missing = pages.flatMap((name) =>
      [...page(name).matchAll(/`((?:functions|shared|tools|test|bench|events|schemas|docs|runtime|stack|template|build)\/[^`\s*<>{}]+)`/g)]
        .map((m) => (m[1] as string).replace(/[.,:;]$/, ""))
        .filter((path) => !toCreate.has(path) && !exists(path) && !exists(join(dirname(name), path)))
        .map((path) => `${name}: ${path}`),
    );
    expect(missing).toEqual([]);
  });

  it("every `npm run <script>` is a script of package.json", () => {
    const scripts = Object.keys((JSON.parse(page("package.json")) as { scripts: Record<string, string> }).scripts);
    const unknown = pages.flatMap((name) =>
      [...page(name).matchAll(/npm run ([a-z][a-z:-]*)/g)]
        .map((m) => m[1] as string)
        .filter((script) => !scripts.includes(script))
        .map((s) => `${name}: ${s}`),
    );
    expect(unknown).toEqual([]);
  });

  it("every environment variable in code style is one the code or template.yaml reads", () => {
    const sources = [
      ...["functions", "shared", "tools", "bench", "test"].flatMap((dir) =>
        readdirSync(join(root, dir), { recursive: true, encoding: "utf8" })
          .filter((file) => file.endsWith(".ts") && !file.includes("node_modules"))
          .map((file) => page(join(dir, file))),
      ),
      page("template.yaml"),
    ].join("\n");
    // Read by the AWS SDK and the shell, not by this code; SQL words of redshift.md; a CloudFormation status.
    const outside = new Set(["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "JSON_PARSE", "TO_HEX", "CREATE_COMPLETE"]);
    const unread = pages.flatMap((name) =>
      [...page(name).matchAll(/`([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)`/g)]
        .map((m) => m[1] as string)
        .filter((variable) => !variable.startsWith("CKV_") && !outside.has(variable) && !sources.includes(variable))
        .map((variable) => `${name}: ${variable}`),
    );
    expect(unread).toEqual([]);
  });
});

describe("docs/local-stack.md's components", () => {
  it("names the versions the stack installs and the default ports it listens on", () => {
    const text = page("docs/local-stack.md");
    const settings = page("tools/local-aws/stack/settings.ts");
    const defaultPort = (variable: string) => new RegExp(`port\\("${variable}", (\\d+)\\)`).exec(settings)?.[1];
    const majorMinor = (version: string) => version.split(".").slice(0, 2).join(".");
    const moto = /^moto\[server\]==(\S+)$/m.exec(page("tools/local-aws/stack/requirements.txt"))?.[1] ?? "none";
    expect(text).toContain(`| Apache Kafka ${majorMinor(versions.kafka)} `);
    expect(text).toContain(`| DynamoDB Local ${majorMinor(versions.dynamodbLocal)} `);
    expect(text).toContain(`| moto server ${majorMinor(moto)} `);
    expect(text).toContain(`\`127.0.0.1:${defaultPort("LOCAL_KAFKA_PORT")}\``);
    expect(text).toContain(`\`http://127.0.0.1:${defaultPort("LOCAL_DYNAMODB_PORT")}\``);
    expect(text).toContain(`\`http://127.0.0.1:${defaultPort("LOCAL_MOTO_PORT")}\``);
    expect(text).toContain(`(port ${defaultPort("LOCAL_DYNAMODB_PORT")})`);
  });
});

describe("docs/api.md's figures", () => {
  /** The default a config module gives an environment variable (`integer("NAME", 1_500, ...)`). */
  const defaultOf = (file: string, variable: string) => {
    const found = new RegExp(`"${variable}", ([\\d_]+)`).exec(page(file))?.[1];
    if (found === undefined) throw new Error(`${file} gives ${variable} no default`);
    return Number(found.replaceAll("_", ""));
  };
  const text = page("docs/api.md").replace(/\s+/g, " ");

  it("are the defaults of the functions' settings", () => {
    const bodyBytes = defaultOf("functions/ingest/config.ts", "MAX_BODY_BYTES");
    expect(bodyBytes).toBe(1024 * 1024);
    expect(text).toContain(
      `body over 1 MB or more than ${defaultOf("functions/ingest/config.ts", "MAX_RECORDS_PER_REQUEST")} records (\`MAX_BODY_BYTES\`, \`MAX_RECORDS_PER_REQUEST\`)`,
    );
    expect(text).toContain(`start less ${defaultOf("functions/ingest/config.ts", "RECOVERY_SKEW_MS") / 1000} s (\`RECOVERY_SKEW_MS\``);
    expect(text).toContain(`\`MAX_COUNTRIES_PER_WINDOW\` (${defaultOf("functions/aggregate/settings.ts", "MAX_COUNTRIES_PER_WINDOW")})`);
    expect(text).toContain(
      `\`MAX_SERIES_WINDOWS\` (${defaultOf("functions/query/config.ts", "MAX_SERIES_WINDOWS").toLocaleString("en-US")})`,
    );
  });

  it("leave the windows' lifetimes to the table npm run gen writes from the template", () => {
    expect(text).toContain("(the defaults are in the table of [Windows](aggregation.md#windows); `all` is kept)");
    const ttl = String(localStackContext().template.Parameters?.WindowTtl?.Default);
    for (const entry of ttl.split(",")) {
      const [window, duration] = entry.split("=") as [string, string];
      expect(page("docs/aggregation.md")).toMatch(new RegExp(`\\| \`${window.replace("/", "\\/")}\` \\|.*\\| ${duration} \\|`));
    }
  });
});
