import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { pricesMarkdown } from "../cost/prices-doc.ts";
import { generateContract } from "./contract.ts";
import { generateWindows } from "./windows.ts";

// `npm run gen`: rewrites the sale contract's generated files from schemas/ (docs/add-a-field.md),
// then the windows' from template.yaml's Windows default (docs/aggregation.md#add-a-window), then
// docs/prices.md from tools/cost/prices.ts. Each generator reads the files the one before wrote
// (the first two both write regions of docs/openapi.yaml).
const root = fileURLToPath(new URL("../..", import.meta.url));
const prices = (): Map<string, string> => new Map([["docs/prices.md", pricesMarkdown()]]);
for (const generate of [generateContract, generateWindows, prices])
  for (const [path, text] of generate(root)) {
    const file = join(root, path);
    let before = "";
    try {
      before = readFileSync(file, "utf8");
    } catch {
      // A generated file that does not exist yet is written below.
    }
    if (before === text) continue;
    writeFileSync(file, text);
    console.log(`gen: wrote ${path}`);
  }
