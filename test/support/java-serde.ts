import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { endpoints, localAws, paths } from "@sales-stream-analytics/local-aws";
import { adminCredentials } from "@sales-stream-analytics/local-aws/testing";

const harnessDir = join(paths.projectRoot, "test", "java", "glue-serde-harness");
const classpathFile = join(harnessDir, "target", "classpath.txt");
const classesDir = join(harnessDir, "target", "classes");

/**
 * Builds the Java harness around the official Glue Schema Registry serde: Maven resolves the
 * serde from Maven Central (cached in ~/.m2), javac compiles the one class. Idempotent.
 */
export function buildJavaHarness(): void {
  if (!existsSync(classpathFile)) {
    execFileSync("mvn", ["-q", "-B", "dependency:build-classpath", `-Dmdep.outputFile=${classpathFile}`], {
      cwd: harnessDir,
      stdio: "inherit",
    });
  }
  if (!existsSync(join(classesDir, "harness", "Harness.class"))) {
    execFileSync(
      "javac",
      ["-d", classesDir, "-cp", readFileSync(classpathFile, "utf8").trim(), join(harnessDir, "src/main/java/harness/Harness.java")],
      {
        stdio: "inherit",
      },
    );
  }
}

function runHarness(args: string[], lines: string[]): string[] {
  const classpath = `${classesDir}:${readFileSync(classpathFile, "utf8").trim()}`;
  const run = spawnSync("java", ["-cp", classpath, "harness.Harness", ...args], {
    input: `${lines.join("\n")}\n`,
    encoding: "utf8",
    maxBuffer: 64 * 1024 * 1024,
    env: {
      ...process.env,
      // moto enforces IAM: the harness signs as the stack's admin.
      AWS_ACCESS_KEY_ID: adminCredentials().accessKeyId,
      AWS_SECRET_ACCESS_KEY: adminCredentials().secretAccessKey,
    },
  });
  if (run.status !== 0) throw new Error(`Java serde harness failed (${args[0]}):\n${run.stderr.slice(-3000)}`);
  return run.stdout.split("\n").filter((line) => line.length > 0);
}

/** Serializes JSON records with the Java serde; returns the frames it wrote. */
export function javaEncode(
  registry: string,
  schemaName: string,
  schemaFile: string,
  compression: "NONE" | "ZLIB",
  records: object[],
): Buffer[] {
  return runHarness(
    ["encode", endpoints.moto, localAws.region, registry, schemaName, schemaFile, compression],
    records.map((r) => JSON.stringify(r)),
  ).map((hex) => Buffer.from(hex, "hex"));
}

/** Deserializes frames with the Java serde (GenericRecord with the writer schema); returns one JSON object per frame. */
export function javaDecode(frames: Buffer[]): Record<string, unknown>[] {
  return runHarness(
    ["decode", endpoints.moto, localAws.region],
    frames.map((f) => f.toString("hex")),
  ).map((line) => JSON.parse(line));
}
