import { readFileSync, renameSync, writeFileSync } from "node:fs";
import { availableParallelism, cpus, loadavg } from "node:os";
import { relative } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * The benchmarks write their own figures into docs/benchmarks.md, so the figures a reader sees are
 * the last ones measured, with when, where and how, and never a hand-pasted copy that goes stale.
 * Each benchmark owns one section between `<!-- bench:<name> -->` and `<!-- /bench:<name> -->`;
 * a run replaces that section only. A benchmark without a section yet gets one appended at the
 * end of the file (under a heading naming its command), so a new benchmark needs no hand edit.
 */

/** docs/benchmarks.md of this checkout. */
export const benchmarksDoc = fileURLToPath(new URL("../docs/benchmarks.md", import.meta.url));

const openMarker = (name: string) => `<!-- bench:${name} -->`;
const closeMarker = (name: string) => `<!-- /bench:${name} -->`;

function occurrences(text: string, needle: string): number[] {
  const at: number[] = [];
  for (let i = text.indexOf(needle); i >= 0; i = text.indexOf(needle, i + needle.length)) at.push(i);
  return at;
}

/**
 * Returns `doc` with the section of benchmark `name` replaced by `body`, every other byte kept; a
 * doc with neither marker gets the section appended under a `## npm run bench -- <name>` heading.
 * Throws (naming `file`, the marker and the count) when `name` is not kebab-case, when either
 * marker appears more than once or without the other, when the closing one comes first, or when
 * `body` itself holds a bench marker.
 */
export function replaceSection(doc: string, name: string, body: string, file = "docs/benchmarks.md"): string {
  if (!/^[a-z0-9]+(-[a-z0-9]+)*$/.test(name)) throw new Error(`${file}: bench section name "${name}" is not kebab-case`);
  if (/<!-- \/?bench:/.test(body)) throw new Error(`${file}: the figures of bench:${name} hold a bench marker themselves`);
  const open = occurrences(doc, openMarker(name));
  const close = occurrences(doc, closeMarker(name));
  const section = `${openMarker(name)}\n${body.trim()}\n${closeMarker(name)}`;
  if (open.length === 0 && close.length === 0) {
    return `${doc.trimEnd()}\n\n## \`npm run bench -- ${name}\`\n\n${section}\n`;
  }
  if (open.length !== 1 || close.length !== 1) {
    throw new Error(
      `${file}: expected ${openMarker(name)} and ${closeMarker(name)} once each, found ${open.length} and ${close.length}; fix the markers by hand`,
    );
  }
  const [start, end] = [open[0] as number, close[0] as number];
  if (end < start) throw new Error(`${file}: ${closeMarker(name)} comes before ${openMarker(name)}`);
  return doc.slice(0, start) + section + doc.slice(end + closeMarker(name).length);
}

/**
 * A benchmark's printed lines as Markdown: consecutive table lines (starting with `|`) stay one
 * table, every other non-empty line becomes a paragraph of its own (trimmed), so a table is
 * never merged with the text around it. Never throws.
 */
export function figuresMarkdown(lines: readonly string[]): string {
  const blocks: string[] = [];
  let table: string[] = [];
  const endTable = () => {
    if (table.length > 0) blocks.push(table.join("\n"));
    table = [];
  };
  for (const raw of lines.flatMap((line) => line.split("\n"))) {
    const line = raw.trim();
    if (line.startsWith("|")) table.push(line);
    else {
      endTable();
      if (line !== "") blocks.push(line);
    }
  }
  endTable();
  return blocks.join("\n\n");
}

export interface RunInfo {
  readonly at: Date;
  readonly command: string;
  readonly cores: number;
  readonly cpu: string;
  readonly node: string;
  readonly load: readonly number[];
}

/** The line under a section's markers: when, with which command, on what machine. Never throws. */
export function runLine(info: RunInfo): string {
  const when = `${info.at.toISOString().slice(0, 16).replace("T", " ")} UTC`;
  const load = info.load.map((value) => value.toFixed(1)).join(" / ");
  return `_Measured ${when} by \`${info.command}\` on ${info.cores} cores (${info.cpu}), Node ${info.node}, load average ${load} (1/5/15 min) at the end._`;
}

export interface BenchReport {
  /** Prints to stdout, as before, and keeps the line for docs/benchmarks.md. */
  print(text?: string): void;
  /** Writes the kept lines into the bench's section of docs/benchmarks.md; throws on broken markers (see replaceSection) or an unwritable file. */
  save(): void;
}

/** Knobs the benchmarks read: shown in the command, since the figures depend on them. */
const KNOB = /^(BENCH_|COLDSTART_)/;

/** A report for benchmark `name` (its file name in bench/). Never throws; `save()` may. */
export function benchReport(name: string, doc = benchmarksDoc): BenchReport {
  const lines: string[] = [];
  return {
    print(text = "") {
      console.log(text);
      lines.push(text);
    },
    save() {
      const knobs = Object.entries(process.env)
        .filter(([key, value]) => KNOB.test(key) && value !== undefined)
        .map(([key, value]) => `${key}=${value} `)
        .sort()
        .join("");
      const info: RunInfo = {
        at: new Date(),
        command: `${knobs}npm run bench -- ${name}`,
        cores: availableParallelism(),
        cpu: cpus()[0]?.model.trim() ?? "unknown CPU",
        node: process.version,
        load: loadavg(),
      };
      const body = `${runLine(info)}\n\n${figuresMarkdown(lines)}`;
      const next = replaceSection(readFileSync(doc, "utf8"), name, body, relative(process.cwd(), doc));
      // Written whole and renamed, so an interrupted run never leaves half a file.
      writeFileSync(`${doc}.tmp`, next);
      renameSync(`${doc}.tmp`, doc);
      console.log(`\nfigures written to ${relative(process.cwd(), doc)} (section bench:${name})`);
    },
  };
}
