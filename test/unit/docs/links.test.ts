import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

/**
 * The README is short and points into docs/; these tests keep what it points at reachable: every
 * relative link of README.md and docs/*.md names a file that exists and, for a Markdown file, a
 * heading that exists (GitHub's anchors), and every docs/*.md is linked from the README.
 */
const root = fileURLToPath(new URL("../../../", import.meta.url));
const docs = readdirSync(join(root, "docs"))
  .filter((name) => name.endsWith(".md"))
  .map((name) => join("docs", name));
const markdownFiles = ["README.md", ...docs];

/** Fenced code blocks (up to 3 spaces of indent, as in a list item). */
const FENCED = /^ {0,3}(```|~~~)[^\n]*\n[\s\S]*?^ {0,3}\1[ \t]*$/gm;

/** The text outside fenced code blocks and inline code spans: a link shown as code is no link. */
function prose(text: string): string {
  return text.replace(FENCED, "").replace(/`[^`\n]*`/g, "");
}

/** GitHub's anchor of a heading (github-slugger): lower case, punctuation dropped, spaces as hyphens, repeats numbered. */
function anchorsOf(text: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  const withoutFences = text.replace(FENCED, "");
  for (const [, heading] of withoutFences.matchAll(/^#{1,6}[ \t]+(.+?)[ \t#]*$/gm)) {
    const slug = (heading as string)
      .replace(/\[([^\]]*)\]\([^)]*\)/g, "$1")
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\p{M} _-]/gu, "")
      .replace(/ /g, "-");
    const count = seen.get(slug) ?? 0;
    seen.set(slug, count + 1);
    anchors.add(count === 0 ? slug : `${slug}-${count}`);
  }
  return anchors;
}

interface Link {
  readonly from: string;
  readonly target: string;
}

function linksOf(file: string): Link[] {
  const text = prose(readFileSync(join(root, file), "utf8"));
  return [...text.matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)].map((match) => ({ from: file, target: match[1] as string }));
}

const relativeLinks = markdownFiles.flatMap(linksOf).filter(({ target }) => !/^[a-z][a-z0-9+.-]*:/i.test(target));

describe("docs links", () => {
  it("finds the links it checks (the README links into docs/)", () => {
    expect(relativeLinks.filter(({ from }) => from === "README.md").length).toBeGreaterThanOrEqual(docs.length);
  });

  it.each(markdownFiles)("every relative link of %s names an existing file and heading", (file) => {
    const broken: string[] = [];
    for (const { target } of relativeLinks.filter(({ from }) => from === file)) {
      const [path = "", anchor] = target.split("#", 2);
      const resolved = path === "" ? join(root, file) : join(root, dirname(file), decodeURIComponent(path));
      if (!existsSync(resolved)) {
        broken.push(`${target}: no file ${relative(root, resolved)}`);
        continue;
      }
      if (anchor === undefined || anchor === "") continue;
      if (statSync(resolved).isDirectory() || !resolved.endsWith(".md")) {
        broken.push(`${target}: an anchor into a file that is not Markdown`);
        continue;
      }
      const anchors = anchorsOf(readFileSync(resolved, "utf8"));
      if (!anchors.has(decodeURIComponent(anchor))) broken.push(`${target}: ${relative(root, resolved)} has no heading #${anchor}`);
    }
    expect(broken, `${file}: broken links`).toEqual([]);
  });

  it("links every docs/*.md from the README, so nothing moved out of it is out of reach", () => {
    const linked = new Set(
      relativeLinks.filter(({ from }) => from === "README.md").map(({ target }) => join(dirname("README.md"), target.split("#")[0] ?? "")),
    );
    expect(docs.filter((doc) => !linked.has(doc))).toEqual([]);
  });
});

describe("anchorsOf (GitHub's heading anchors)", () => {
  it("drops punctuation and code marks, keeps hyphens, numbers repeats, ignores headings in code", () => {
    const text = [
      "# Exactly once: what is proven, and what is assumed",
      "## The Avro codec (`shared/avro`)",
      "## `npm run bench -- scale`",
      "## IAM, locally",
      "## IAM, locally",
      "```bash",
      "# not a heading",
      "```",
    ].join("\n");
    expect([...anchorsOf(text)]).toEqual([
      "exactly-once-what-is-proven-and-what-is-assumed",
      "the-avro-codec-sharedavro",
      "npm-run-bench----scale",
      "iam-locally",
      "iam-locally-1",
    ]);
  });
});
