// Protects the pages for people who use screen readers, keyboards or high zoom: axe-core (the
// npm package, run inside the page) finds no serious or critical WCAG 2.1 A/AA violation on the
// meeting page's pre-join screen, in a call (people panel and More menu open), with the chat
// open, in German, and on the dashboard. Real Chromium on loopback, fake devices.
import assert from "node:assert/strict";
import fs from "node:fs";
import { createRequire } from "node:module";
import { after, before, test } from "node:test";
import { chromiumOnLoopback, MEETING_FLAGS, startServer } from "./fixture.mjs";

const AXE = fs.readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");

let server;
let browser;
before(async () => {
  server = await startServer();
  browser = await chromiumOnLoopback(MEETING_FLAGS);
});
after(async () => {
  await browser?.close();
  await server?.stop();
});

/** axe-core's serious and critical violations on `page` now, one line each. */
async function violations(page) {
  // Evaluated through the debugging protocol: the pages' CSP (no inline script) stays on.
  await page.evaluate(AXE);
  const found = await page.evaluate(async () => {
    const result = await window.axe.run(document, {
      runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] },
    });
    return result.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      nodes: v.nodes.map((n) => n.target.join(" ")).slice(0, 5),
    }));
  });
  return found
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => `${v.impact} ${v.id}: ${v.help} (${v.nodes.join(", ")})`);
}

async function newPage(locale = "en-US") {
  const context = await browser.newContext({ locale, viewport: { width: 1280, height: 720 } });
  return context.newPage();
}

for (const locale of ["en-US", "de-DE"]) {
  test(`the meeting page in ${locale}: no serious or critical violation before joining, in the call, with the chat`, {
    timeout: 90000,
  }, async () => {
    const page = await newPage(locale);
    try {
      await page.goto(`${server.url}/r/axe-${locale}`);
      await page.waitForFunction(() => document.documentElement.lang !== "");
      assert.deepEqual(await violations(page), [], "the pre-join screen");
      await page.fill("#name", "Ann");
      await page.click("#join-button");
      await page.waitForSelector("#call:not([hidden])");
      await page.click("#people-toggle");
      await page.click("#more");
      assert.deepEqual(await violations(page), [], "the call, people panel and More menu open");
      await page.keyboard.press("Escape");
      await page.click("#chat-toggle");
      await page.fill("#chat-input", "hello https://example.org");
      await page.keyboard.press("Enter");
      await page.waitForSelector("#messages li");
      assert.deepEqual(await violations(page), [], "the chat");
    } finally {
      await page.context().close();
    }
  });
}

test("the dashboard: no serious or critical violation", { timeout: 60000 }, async () => {
  const page = await newPage();
  try {
    await page.goto(`${server.url}/dashboard/`);
    await page.waitForLoadState("networkidle");
    assert.deepEqual(await violations(page), [], "the dashboard");
  } finally {
    await page.context().close();
  }
});
