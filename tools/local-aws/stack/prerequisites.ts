import { spawnSync } from "node:child_process";

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
