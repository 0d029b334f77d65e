import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { trinoJavaHomeOverride } from "./settings.ts";

/** A tool the local stack needs on PATH, and how a developer gets it. */
interface Prerequisite {
  readonly command: string;
  readonly versionArgs: readonly string[];
  readonly minimumMajor: number;
  readonly purpose: string;
  readonly install: string;
  readonly parseMajor: (output: string) => number | undefined;
}

const prerequisites: readonly Prerequisite[] = [
  {
    command: "java",
    versionArgs: ["-version"],
    minimumMajor: 17,
    purpose: "runs the Kafka broker and DynamoDB Local",
    install: "apt-get install -y openjdk-17-jre-headless (Debian/Ubuntu) or https://adoptium.net",
    parseMajor: (out) => Number(/version "(\d+)/.exec(out)?.[1]) || undefined,
  },
  {
    command: "mvn",
    versionArgs: ["-v"],
    minimumMajor: 3,
    purpose: "resolves the Kafka and DynamoDB Local jars from Maven Central",
    install: "apt-get install -y maven (Debian/Ubuntu) or https://maven.apache.org/install.html",
    parseMajor: (out) => Number(/Maven (\d+)/.exec(out)?.[1]) || undefined,
  },
  {
    command: "python3",
    versionArgs: ["-c", "import sys, venv; print(sys.version_info[0] * 100 + sys.version_info[1])"],
    minimumMajor: 309,
    purpose: "runs moto server (Glue, S3, SQS), cfn-lint and checkov in virtualenvs",
    install: "apt-get install -y python3 python3-venv (Debian/Ubuntu) or https://www.python.org/downloads/ (3.9+)",
    parseMajor: (out) => Number(out.trim()) || undefined,
  },
];

/**
 * Checks every tool the stack needs and throws one error that names each missing or
 * too-old tool, what it is for and how to install it.
 */
export function assertPrerequisites(): void {
  const problems: string[] = [];
  for (const p of prerequisites) {
    const run = spawnSync(p.command, p.versionArgs, { encoding: "utf8" });
    if (run.error !== undefined || run.status !== 0) {
      problems.push(`- ${p.command} is missing (it ${p.purpose}). Install: ${p.install}`);
      continue;
    }
    const major = p.parseMajor(`${run.stdout}${run.stderr}`);
    if (major === undefined || major < p.minimumMajor) {
      problems.push(`- ${p.command} is too old or unreadable (it ${p.purpose}). Install: ${p.install}`);
    }
  }
  if (problems.length > 0) {
    throw new Error(`The local stack cannot start:\n${problems.join("\n")}`);
  }
}

/** The oldest Java that Trino 476 runs on. */
const trinoJavaMajor = 24;

/** The major version of the JDK at `home` from its `release` file, or undefined when it is not one. */
function jdkMajor(home: string): number | undefined {
  const release = join(home, "release");
  if (!existsSync(release) || !existsSync(join(home, "bin", "java"))) return undefined;
  const version = /^JAVA_VERSION="(\d+)/m.exec(readFileSync(release, "utf8"))?.[1];
  return version === undefined ? undefined : Number(version);
}

/**
 * The JDK Trino runs on: TRINO_JAVA_HOME, else the newest JDK of Java 24 or later under
 * /usr/lib/jvm (where Debian's and Adoptium's packages install). The rest of the stack keeps the
 * `java` on PATH. Throws naming how to install one when there is none.
 */
export function trinoJavaHome(): string {
  const install = `Trino needs Java ${trinoJavaMajor} or newer (the rest of the stack runs on 17). Install Temurin 25 (https://adoptium.net/installation/linux/: apt-get install -y temurin-25-jdk) or point TRINO_JAVA_HOME at a JDK ${trinoJavaMajor}+`;
  if (trinoJavaHomeOverride !== undefined) {
    const major = jdkMajor(trinoJavaHomeOverride);
    if (major === undefined || major < trinoJavaMajor)
      throw new Error(`TRINO_JAVA_HOME=${trinoJavaHomeOverride} is not a JDK ${trinoJavaMajor}+ (found ${major ?? "none"}). ${install}`);
    return trinoJavaHomeOverride;
  }
  const root = "/usr/lib/jvm";
  const candidates = existsSync(root) ? readdirSync(root).map((name) => join(root, name)) : [];
  const found = candidates
    .map((home) => ({ home, major: jdkMajor(home) ?? 0 }))
    .filter((jdk) => jdk.major >= trinoJavaMajor)
    .sort((a, b) => b.major - a.major)[0];
  if (found === undefined) throw new Error(`no JDK ${trinoJavaMajor}+ under ${root}. ${install}`);
  return found.home;
}
