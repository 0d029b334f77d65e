import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { paths } from "@sales-stream-analytics/local-aws";
import { chromiumCommand, installChromium } from "@sales-stream-analytics/local-aws/testing";
import puppeteer, { type Browser, type Page } from "puppeteer-core";

/**
 * Debian's chromium, headless, driven over the DevTools protocol (installed when missing). Throws
 * when it cannot be installed or does not start.
 */
export async function launchBrowser(): Promise<Browser> {
  await installChromium();
  return puppeteer.launch({
    executablePath: chromiumCommand(),
    headless: true,
    // As root (CI, this box) chromium refuses to start with its sandbox.
    args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--lang=en-US"],
  });
}

/** Saves the whole page as .local/screenshots/<name>.png; resolves the file's path. Throws as page.screenshot. */
export async function saveScreenshot(page: Page, name: string): Promise<string> {
  const dir = join(paths.stateRoot, "screenshots");
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}
