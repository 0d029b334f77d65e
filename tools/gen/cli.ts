import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { pricesMarkdown } from "../cost/prices-doc.ts";
import { generateContract } from "./contract.ts";

// `npm run gen`: rewrites the sale contract's generated files from schemas/ (docs/add-a-field.md)
// and docs/prices.md from tools/cost/prices.ts.
const root = fileURLToPath(new URL("../..", import.meta.url));
for (const [path, text] of [...generateContract(root), ["docs/prices.md", pricesMarkdown()] as const]) {
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
