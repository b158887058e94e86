/**
 * Browser test wiring: Debian's Chromium driven by playwright-core (never a downloaded
 * browser), screenshots under `.test-output/screenshots/`, and the checks every page must
 * pass (labels, headings, skip link, no sideways scrolling).
 */
import assert from "node:assert/strict";
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { after, before } from "node:test";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";
import type { RestError } from "@azure/core-rest-pipeline";
import { startTestServer, type TestServer } from "../support/server.ts";

export const CHROMIUM = "/usr/bin/chromium";
export const SCREENSHOTS = join(import.meta.dirname, "..", "..", ".test-output", "screenshots");

export const DESKTOP = { width: 1280, height: 800 };
export const PHONE = { width: 390, height: 844 };

/**
 * Why the browser tests cannot run here, or undefined when they can. Under CI=true a
 * missing Chromium is not a reason: the tests run and fail, so CI never passes silently.
 */
export function browserSkip(): string | undefined {
  if (existsSync(CHROMIUM) || process.env.CI === "true") return undefined;
  return `${CHROMIUM} is missing: install Debian's chromium (apt-get install chromium) to run the browser tests`;
}

export async function launch(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      // Shared memory in /tmp, not /dev/shm: Debian's launcher means to add this when
      // /dev/shm is small, but its check breaks when findmnt prints two lines (seen here).
      "--disable-dev-shm-usage",
    ],
  });
}

/** A fresh context (own cookies) whose page fails the test on any script error. */
export async function newPage(
  browser: Browser,
  viewport = DESKTOP,
): Promise<{ context: BrowserContext; page: Page; errors: string[] }> {
  const context = await browser.newContext({ viewport });
  const page = await context.newPage();
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(e.message));
  // The portal loads nothing from elsewhere: any request off this server is a defect.
  page.on("request", (r) => {
    const url = new URL(r.url());
    if (url.protocol !== "data:" && url.hostname !== "127.0.0.1" && url.hostname !== "localhost")
      errors.push(`external request: ${r.url()}`);
  });
  return { context, page, errors };
}

/**
 * The page once the document a click navigated to is parsed. A click returns when the
 * navigation has begun; reads that do not wait for an element (`count`, `evaluateAll`,
 * `allTextContents`) would otherwise see a document still arriving (seen: an empty list).
 */
export async function parsed(page: Page): Promise<Page> {
  await page.waitForLoadState("domcontentloaded");
  return page;
}

export function slug(name: string, max = 60): string {
  return name
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .slice(0, max)
    .replace(/^-+|-+$/g, "");
}

/**
 * `.test-output/screenshots/<test>[--<step>].png`, the whole page.
 *
 * A full-page capture makes Chromium draw beyond the window, and now and then it answers
 * "Unable to capture screenshot" (seen once in CI, on a page that captured fine before).
 * The page is not at fault and nothing is asserted on the picture, so such a capture is
 * tried again after the next frames; any other error, or a third refusal, fails the test.
 */
export async function screenshot(page: Page, test: string, step?: string): Promise<void> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  const name = step ? `${slug(test)}--${slug(step, 40)}` : slug(test);
  const path = join(SCREENSHOTS, `${name}.png`);
  for (let attempt = 1; ; attempt++) {
    try {
      await page.screenshot({ path, fullPage: true });
      return;
    } catch (e) {
      if (attempt >= 3 || !/Unable to capture screenshot/.test(String(e))) throw e;
      await page.evaluate(
        () => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done))),
      );
    }
  }
}

/**
 * What every page must be: one h1 and no skipped heading level, a skip link to the main
 * landmark, a label for every form control, text on every button and link, and nothing
 * wider than the window.
 */
export async function assertUsable(page: Page): Promise<void> {
  const problems = await page.evaluate(() => {
    const out: string[] = [];
    const doc = document;
    if (!doc.documentElement.lang) out.push("html has no lang");
    const main = doc.querySelector("main#main");
    if (!main) out.push("no <main id=main>");
    const skip = doc.querySelector('a.skip-link[href="#main"]');
    if (!skip || doc.body.firstElementChild !== skip) out.push("no skip link first in the body");
    const headings = [...doc.querySelectorAll("h1, h2, h3, h4, h5, h6")];
    const h1s = headings.filter((h) => h.tagName === "H1");
    if (h1s.length !== 1) out.push(`${h1s.length} h1 elements`);
    let level = 0;
    for (const h of headings) {
      const l = Number(h.tagName[1]);
      if (l > level + 1)
        out.push(`heading '${h.textContent?.trim()}' jumps from h${level} to h${l}`);
      level = l;
    }
    for (const el of doc.querySelectorAll("input, select, textarea")) {
      const input = el as HTMLInputElement;
      if (input.type === "hidden") continue;
      const labelled =
        (input.labels &&
          input.labels.length > 0 &&
          [...input.labels].some((l) => l.textContent?.trim())) ||
        input.getAttribute("aria-label") ||
        input.getAttribute("aria-labelledby");
      if (!labelled) out.push(`control '${input.name || input.id}' has no label`);
    }
    for (const el of doc.querySelectorAll("button, a")) {
      const text = (el.textContent ?? "").trim() || el.getAttribute("aria-label");
      if (!text) out.push(`${el.tagName.toLowerCase()} without text: ${el.outerHTML.slice(0, 80)}`);
    }
    if (doc.documentElement.scrollWidth > window.innerWidth + 1) {
      out.push(
        `the page is ${doc.documentElement.scrollWidth}px wide in a ${window.innerWidth}px window`,
      );
    }
    return out;
  });
  assert.deepEqual(problems, [], `usability problems on ${page.url()}`);
}

/** The API's error for a call that must fail (to compare the portal's message with it). */
export async function apiError(
  call: Promise<unknown>,
): Promise<{ code: string; message: string; status: number }> {
  try {
    await call;
  } catch (e) {
    const err = e as RestError;
    return { code: String(err.code), message: err.message, status: err.statusCode ?? 0 };
  }
  assert.fail("expected the API call to fail");
}

/** The message the portal shows in its error summary or error page. */
export async function shownError(page: Page): Promise<{ code: string; message: string }> {
  return {
    code: (await page.getByTestId("error-code").first().textContent())?.trim() ?? "",
    message: (await page.getByTestId("error-message").first().textContent())?.trim() ?? "",
  };
}

/** Presses Tab until the focused element matches, then returns; fails after `max` presses. */
export async function tabTo(
  page: Page,
  matches: (el: { tag: string; text: string; id: string }) => boolean,
  max = 80,
): Promise<void> {
  for (let i = 0; i < max; i++) {
    await page.keyboard.press("Tab");
    const el = await page.evaluate(() => {
      const a = document.activeElement as HTMLElement | null;
      return {
        tag: a?.tagName.toLowerCase() ?? "",
        text: (a?.textContent ?? "").trim(),
        id: a?.id ?? "",
      };
    });
    if (matches(el)) return;
  }
  assert.fail("the element was not reached with the Tab key");
}

/**
 * The test server and the browser of a suite: started before its tests (unless `skip` says
 * why they cannot run here), closed after them.
 */
export function serverAndBrowser(
  skip: string | undefined,
  options: Parameters<typeof startTestServer>[0] = {},
): {
  server: TestServer;
  browser: Browser;
} {
  const env = {} as { server: TestServer; browser: Browser };
  before(async () => {
    if (skip) return;
    env.server = await startTestServer(options);
    env.browser = await launch();
  });
  after(async () => {
    await env.browser?.close();
    await env.server?.close();
  });
  return env;
}
