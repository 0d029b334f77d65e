import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { existsSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { ScanCommand } from "@aws-sdk/client-dynamodb";
import { DeleteObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { endpoints, localClients, localStackContext, paths, physicalName } from "@sales-stream-analytics/local-aws";
import { developerEnvFile } from "@sales-stream-analytics/local-aws/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bigCentsOf, formatCents } from "#shared/money/cents";
import { regionOf } from "#shared/sales/regions";
import { eventually } from "#test/support/pipeline";
import { type PrivatePipeline, startPrivatePipeline } from "#test/support/private-pipeline";

/**
 * The docs' examples as written: their marked blocks are read from docs/api.md (sales, queries)
 * and docs/lake.md (lake), no copy here, run by bash against the local runtime (only the docs'
 * default ports swapped for this stack's), and every answer must hold the figures of the docs'
 * own sample sales. The markers keep their historical name, `readme-examples`.
 */
const exampleDocs = ["docs/api.md", "docs/lake.md"].map((file) => ({ file, text: readFileSync(join(paths.projectRoot, file), "utf8") }));

/** The bash block after `<!-- readme-examples:<name> -->`. Throws when no doc, or more than one, has it. */
function block(name: string): string {
  const marker = `<!-- readme-examples:${name} -->\n\`\`\`bash\n`;
  const holders = exampleDocs.filter(({ text }) => text.includes(marker));
  if (holders.length !== 1) {
    throw new Error(
      `expected one of ${exampleDocs.map(({ file }) => file).join(", ")} to hold a block marked readme-examples:${name}, found ${holders.length}`,
    );
  }
  const { text } = holders[0] as { text: string };
  const body = text.indexOf(marker) + marker.length;
  return text.slice(body, text.indexOf("\n```", body));
}

/** A block's commands: each starts at a line beginning with `curl` and runs to the next one (or a comment). */
function curlCommands(text: string): string[] {
  const commands: string[] = [];
  for (const line of text.split("\n")) {
    if (line.startsWith("curl ")) commands.push(line);
    else if (!line.startsWith("#") && commands.length > 0) commands[commands.length - 1] += `\n${line}`;
  }
  return commands;
}

let pipeline: PrivatePipeline;
const onThisStack = (command: string) =>
  command.replaceAll("http://127.0.0.1:3000", pipeline.runtime.apiUrl).replaceAll("http://127.0.0.1:5000", endpoints.moto);

/** Runs a script in the project folder, asynchronously: the local API answering it runs in this process. */
function bash(script: string, env: NodeJS.ProcessEnv = process.env): Promise<{ status: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile("bash", ["-c", script], { cwd: paths.projectRoot, encoding: "utf8", env, timeout: 60_000 }, (error, stdout, stderr) =>
      resolve({ status: error === null ? 0 : typeof error.code === "number" ? error.code : 1, stdout, stderr }),
    );
  });
}

async function curlJson(command: string): Promise<Record<string, unknown>> {
  const run = await bash(onThisStack(command));
  expect(run.status, `${command}\n${run.stderr}`).toBe(0);
  return JSON.parse(run.stdout) as Record<string, unknown>;
}

interface PostedSale {
  readonly amount: string;
  readonly payment_date: string;
  readonly country: string;
}

/** The sales the docs post: the JSON after -d in the sales block. */
function sampleSales(): PostedSale[] {
  const body = /-d '(\[[\s\S]*\])'/.exec(block("sales"))?.[1];
  if (body === undefined) throw new Error("docs/api.md: the sales block posts no -d '[...]' body");
  return JSON.parse(body) as PostedSale[];
}

/** Orders and exact sales of the sample sales matching `keep`, with event time in [from, to). */
function tally(keep: (sale: PostedSale) => boolean, from: number, to: number) {
  const within = sampleSales().filter((sale) => {
    const at = Date.parse(sale.payment_date);
    return keep(sale) && at >= from && at < to;
  });
  return { orders: within.length, sales: formatCents(within.reduce((sum, sale) => sum + bigCentsOf(sale.amount), 0n)) };
}

const WINDOW_MS: Record<string, number> = { "1m": 60_000, "10m/5m": 600_000, "1h": 3_600_000, "1d": 86_400_000 };

/** What an answer to a docs query must hold, computed from the sample sales alone. */
function expectedFor(command: string) {
  const url = new URL(/'(http[^']+)'/.exec(command)?.[1] ?? "");
  const window = url.searchParams.get("window") ?? "";
  const [, kind, dimension, value] = url.pathname.split("/").map(decodeURIComponent);
  const matches = (sale: PostedSale) =>
    dimension === "all" || (dimension === "country" ? sale.country === value : regionOf(sale.country) === value);
  if (kind === "leaderboard") {
    // The latest window starting at or before `at` (10m/5m: starts every 5 minutes); without `at`,
    // the one holding the latest sale (the greatest watermark); `all`: every sale.
    const latestSale = Math.max(...sampleSales().map((sale) => Date.parse(sale.payment_date)));
    const at = url.searchParams.has("at") ? Date.parse(url.searchParams.get("at") ?? "") : latestSale;
    const advance = window === "10m/5m" ? 300_000 : (WINDOW_MS[window] ?? 0);
    const start = window === "all" ? Number.NEGATIVE_INFINITY : Math.floor(at / advance) * advance;
    const end = window === "all" ? Number.POSITIVE_INFINITY : start + (WINDOW_MS[window] ?? 0);
    const names = [...new Set(sampleSales().map((sale) => (dimension === "country" ? sale.country : regionOf(sale.country))))];
    return {
      kind,
      entries: names
        .map((name) => ({
          value: name,
          ...tally((sale) => (dimension === "country" ? sale.country : regionOf(sale.country)) === name, start, end),
        }))
        .filter((entry) => entry.orders > 0),
    };
  }
  if (window === "all") return { kind, total: tally(matches, Number.NEGATIVE_INFINITY, Number.POSITIVE_INFINITY) };
  return { kind, total: tally(matches, Date.parse(url.searchParams.get("from") ?? ""), Date.parse(url.searchParams.get("to") ?? "")) };
}

beforeAll(async () => {
  pipeline = await startPrivatePipeline();
}, 180_000);

afterAll(async () => {
  await pipeline?.stop();
});

describe("the docs' examples, as written", { timeout: 300_000 }, () => {
  it("post the sample sales, then every query answers with their figures (fine windows of 2022 included)", async () => {
    const [post, ...extra] = curlCommands(block("sales"));
    expect(extra).toEqual([]);
    const posted = await curlJson(post as string);
    expect(posted).toMatchObject({ accepted: sampleSales().length });

    const queries = curlCommands(block("queries"));
    expect(queries.length).toBeGreaterThanOrEqual(5);
    const answered = async () =>
      Promise.all(queries.map(async (command) => ({ command, answer: await curlJson(command), expected: expectedFor(command) })));
    const holdsFigures = ({ answer, expected }: Awaited<ReturnType<typeof answered>>[number]) =>
      expected.kind === "leaderboard"
        ? JSON.stringify(
            (answer.entries as { value: string; orders: number; sales: string }[])
              .map(({ value, orders, sales }) => ({ value, orders, sales }))
              .sort((a, b) => a.value.localeCompare(b.value)),
          ) === JSON.stringify([...(expected.entries ?? [])].sort((a, b) => a.value.localeCompare(b.value)))
        : JSON.stringify({ orders: (answer.total as { orders: number }).orders, sales: (answer.total as { sales: string }).sales }) ===
          JSON.stringify(expected.total);
    // Region series come from the rollups, a moment after the slices.
    let results = await answered();
    await eventually(async () => {
      results = await answered();
      return results.every(holdsFigures);
    }, 120_000);
    for (const result of results) {
      console.log(
        `${result.command.slice(9, 110)} -> ${JSON.stringify(result.expected.kind === "leaderboard" ? result.answer.entries : result.answer.total)}`,
      );
      if (result.expected.kind === "leaderboard") {
        expect((result.answer.entries as unknown[]).length, result.command).toBeGreaterThan(0);
        expect(result.answer.entries, result.command).toEqual(
          expect.arrayContaining((result.expected.entries ?? []).map((entry) => expect.objectContaining(entry))),
        );
      } else {
        expect(result.expected.total?.orders, `${result.command}: the sample sales hold none of this range`).toBeGreaterThan(0);
        expect(result.answer.total, result.command).toMatchObject(result.expected.total ?? {});
      }
    }
    // They stay: the 2022 minute windows (and their rollups) expire WindowTtl (1m: 2 days) after
    // this write, not two days after August 2022, when DynamoDB would be free to delete them now.
    const items = await localClients().dynamodb.send(
      new ScanCommand({
        TableName: pipeline.table,
        FilterExpression: "begins_with(pk, :w) OR pk = :r",
        ExpressionAttributeValues: { ":w": { S: "1m#" }, ":r": { S: "series#1m" } },
      }),
    );
    expect(items.Items?.length).toBeGreaterThan(0);
    for (const item of items.Items ?? []) expect(Number(item.expiresAt?.N), item.pk?.S).toBeGreaterThan(Date.now() / 1000 + 47 * 3600);
  });

  it("the lake example syncs the bucket with the keys npm start writes (and moto refuses without them)", async () => {
    const text = block("lake");
    const bucket = physicalName(localStackContext(), "LakeBucket");
    // The bucket comes from the stack's output, as on AWS: the sync below finds the object only in the right one.
    expect(text).toMatch(/^bucket=\$\(npm run -s stack -- output LakeBucketName\)/m);
    expect(text).toContain('"s3://$bucket/sales"');
    expect(readFileSync(developerEnvFile, "utf8")).toMatch(/^export AWS_ACCESS_KEY_ID=\S+$/m);
    const { s3 } = localClients();
    const dt = `dt=docs-example-${randomUUID().slice(0, 8)}`;
    const body = Buffer.from(`PAR1 docs example ${dt}`);
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: `sales/${dt}/part-0.parquet`, Body: body }));
    const target = join(paths.projectRoot, ".local", "lake", dt);
    try {
      // The DuckDB CLI is not part of the stack (the tests read the lake with DuckDB's Python package): its line is left out.
      const script = onThisStack(
        text
          .split("\n")
          .filter((line) => !line.startsWith("duckdb"))
          .join("\n"),
      );
      if ((await bash("aws --version")).status === 0) {
        const clean = { ...process.env, AWS_ACCESS_KEY_ID: undefined, AWS_SECRET_ACCESS_KEY: undefined, AWS_PROFILE: undefined };
        const run = await bash(`set -e\n${script}`, clean);
        expect(run.status, run.stderr).toBe(0);
        expect(readFileSync(join(target, "part-0.parquet"))).toEqual(body);
        // Without the file's keys moto refuses the same request.
        const refused = await bash(script.replace(/^\. .*$/m, "export AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local"), clean);
        expect(refused.status).not.toBe(0);
        expect(refused.stderr).toMatch(/InvalidAccessKeyId|AccessDenied|403/);
      } else {
        console.log("aws CLI not installed: the lake example's request made through the SDK with the keys of .local/run/aws.env");
        const keys = Object.fromEntries(
          [...readFileSync(developerEnvFile, "utf8").matchAll(/^export (AWS_\w+)=(\S+)$/gm)].map((m) => [m[1], m[2]]),
        );
        const { S3Client, GetObjectCommand } = await import("@aws-sdk/client-s3");
        const developer = new S3Client({
          endpoint: endpoints.moto,
          region: keys.AWS_DEFAULT_REGION,
          forcePathStyle: true,
          credentials: { accessKeyId: keys.AWS_ACCESS_KEY_ID ?? "", secretAccessKey: keys.AWS_SECRET_ACCESS_KEY ?? "" },
        });
        const got = await developer.send(new GetObjectCommand({ Bucket: bucket, Key: `sales/${dt}/part-0.parquet` }));
        expect(Buffer.from(await (got.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray())).toEqual(body);
        developer.destroy();
      }
    } finally {
      await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: `sales/${dt}/part-0.parquet` }));
      if (existsSync(target)) rmSync(target, { recursive: true, force: true });
    }
  });
});
