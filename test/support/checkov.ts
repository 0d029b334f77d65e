import { spawnSync } from "node:child_process";

/** One failed check of a checkov run, by check id and the template's logical id. */
export interface Finding {
  readonly check: string;
  readonly resource: string;
  readonly name: string;
}

/** One (check, resource) pair that docs/checkov.md accepts, with its reason and line. */
export interface AcceptedFinding {
  readonly check: string;
  readonly resource: string;
  readonly reason: string;
  readonly line: number;
}

export interface CheckovReport {
  readonly version: string;
  readonly passed: number;
  readonly failed: Finding[];
}

interface CheckovJson {
  readonly check_type?: string;
  readonly summary?: { passed: number; failed: number; parsing_errors: number; checkov_version: string };
  readonly results?: { failed_checks: { check_id: string; check_name: string; resource: string }[] };
}

/**
 * Runs checkov's CloudFormation checks on `template` offline and returns its counts and failed
 * checks. Throws naming the binary when it cannot run, prints no JSON, or could not parse the template.
 */
export function runCheckov(binary: string, template: string): CheckovReport {
  const run = spawnSync(binary, ["-f", template, "--framework", "cloudformation", "-o", "json", "--skip-download"], {
    encoding: "utf8",
    // Without it checkov asks a vendor API for guideline links first (and waits on it offline).
    env: { ...process.env, BC_SKIP_MAPPING: "TRUE" },
    maxBuffer: 64 * 1024 * 1024,
  });
  if (run.error !== undefined) throw new Error(`checkov (${binary}) did not run: ${run.error.message}; npm run setup installs it`);
  let parsed: CheckovJson | CheckovJson[];
  try {
    parsed = JSON.parse(run.stdout) as CheckovJson | CheckovJson[];
  } catch {
    throw new Error(
      `checkov (${binary}) exited ${run.status} without a JSON report:\n${run.stdout.slice(-2000)}${run.stderr.slice(-2000)}`,
    );
  }
  const report = [parsed].flat().find((entry) => entry.check_type === "cloudformation");
  if (report?.summary === undefined || report.results === undefined) {
    throw new Error(`checkov (${binary}) reported no CloudFormation results for ${template}:\n${run.stdout.slice(0, 2000)}`);
  }
  if (report.summary.parsing_errors > 0)
    throw new Error(`checkov could not parse ${template} (${report.summary.parsing_errors} parsing errors)`);
  return {
    version: report.summary.checkov_version,
    passed: report.summary.passed,
    // checkov names a resource <Type>.<LogicalId>; types hold "::", never ".".
    failed: report.results.failed_checks.map((c) => ({
      check: c.check_id,
      resource: c.resource.slice(c.resource.lastIndexOf(".") + 1),
      name: c.check_name,
    })),
  };
}

const section = "## Accepted findings";

/**
 * The (check, resource) pairs of the "Accepted findings" table of docs/checkov.md: one row per
 * check id, with its logical ids in backticks and a reason. Throws naming `source` and the line
 * of a row without a check id, a resource or a reason, or of a pair listed twice.
 */
export function parseAcceptedFindings(markdown: string, source: string): AcceptedFinding[] {
  const lines = markdown.split("\n");
  const start = lines.findIndex((line) => line.trim() === section);
  if (start < 0) throw new Error(`${source}: no "${section}" section`);
  const accepted: AcceptedFinding[] = [];
  const seen = new Set<string>();
  for (let index = start + 1; index < lines.length; index++) {
    const line = lines[index]?.trim() ?? "";
    if (line.startsWith("## ")) break;
    if (!line.startsWith("|") || /^\|\s*(check|-+)\s*\|/.test(line)) continue;
    const where = `${source}:${index + 1}`;
    const cells = line.slice(1, line.endsWith("|") ? -1 : undefined).split("|");
    if (cells.length !== 3) throw new Error(`${where}: a row has 3 cells (check | resources | reason), this one ${cells.length}`);
    const [checkCell = "", resourcesCell = "", reasonCell = ""] = cells;
    const check = /`(CKV2?_[A-Z0-9_]+)`/.exec(checkCell)?.[1];
    if (check === undefined) throw new Error(`${where}: no check id (\`CKV_...\`) in "${checkCell.trim()}"`);
    const resources = [...resourcesCell.matchAll(/`([A-Za-z0-9]+)`/g)].map((match) => match[1] ?? "");
    if (resources.length === 0) throw new Error(`${where}: ${check} names no resource (logical ids in backticks)`);
    const reason = reasonCell.trim();
    if (reason === "") throw new Error(`${where}: ${check} gives no reason`);
    for (const resource of resources) {
      const key = `${check} ${resource}`;
      if (seen.has(key)) throw new Error(`${where}: ${key} is listed twice`);
      seen.add(key);
      accepted.push({ check, resource, reason, line: index + 1 });
    }
  }
  return accepted;
}

export interface Comparison {
  /** Failed checks that the list does not accept: fix them or list them with a reason. */
  readonly unlisted: Finding[];
  /** Accepted pairs that checkov no longer reports: remove them from the list. */
  readonly stale: AcceptedFinding[];
  /** Failed checks that the list accepts. */
  readonly accepted: Finding[];
}

/** Splits a run's failed checks into accepted and unlisted, and finds accepted pairs that no longer fail. Never throws. */
export function compareFindings(failed: readonly Finding[], accepted: readonly AcceptedFinding[]): Comparison {
  const key = (f: { check: string; resource: string }) => `${f.check} ${f.resource}`;
  const acceptedKeys = new Set(accepted.map(key));
  const failedKeys = new Set(failed.map(key));
  return {
    unlisted: failed.filter((f) => !acceptedKeys.has(key(f))),
    stale: accepted.filter((a) => !failedKeys.has(key(a))),
    accepted: failed.filter((f) => acceptedKeys.has(key(f))),
  };
}
