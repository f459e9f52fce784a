// Protects the dashboard: a real Chromium shows rooms and people as they join and leave (within
// 1 s, pushed, no reload), and the API refuses other origins and DNS-rebinding hosts.
import { test, before, after, afterEach } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { startServer, connected, join, closeAll, waitFor } from "./fixture.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const SHOTS = path.join(here, "../../docs");
let server;
let browser;

before(async () => {
  server = await startServer();
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
});
after(async () => {
  await browser?.close();
  if (server) assert.equal(await server.stop(), 0);
});
afterEach(closeAll);

test("the dashboard shows people as they join and drops them as they leave, within 1 s", async () => {
  const page = await browser.newPage({ viewport: { width: 1000, height: 900 } });
  await page.goto(`${server.url}/dashboard`);
  assert.ok(page.url().endsWith("/dashboard/"));
  await page.waitForSelector("#connection.live");
  await page.waitForSelector("#empty:not([hidden])");
  const ann = await connected(server.url);
  const bob = await connected(server.url);
  await join(ann, "standup", "Ann");
  await join(bob, "standup", "Bob");
  await page.waitForSelector(`[data-peer="${ann.id}"]`, { timeout: 1000 });
  await page.waitForSelector(`[data-peer="${bob.id}"]`, { timeout: 1000 });
  const row = await page.textContent(`[data-peer="${bob.id}"]`);
  assert.match(row, /Bob.*socket\.io.*127\.0\.0\.1/);
  assert.match(await page.textContent("#totals"), /1 meeting, 2 people/);
  assert.ok(await page.isHidden("#empty"));
  // Relayed signals show in the traffic line.
  const got = waitFor(bob, "signal");
  ann.emit("signal", { to: bob.id, signal: { type: "offer" } });
  await got;
  await page.waitForFunction(() => /[1-9]\d* relayed since start/.test(document.querySelector("#rate").textContent), null, { timeout: 2500 });
  fs.mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SHOTS, "dashboard.png") });

  const bobId = bob.id;
  bob.disconnect();
  await page.waitForSelector(`[data-peer="${bobId}"]`, { state: "detached", timeout: 1000 });
  ann.emit("leave-room");
  await page.waitForSelector(`[data-room="standup"]`, { state: "detached", timeout: 1000 });
  await page.waitForSelector("#empty:not([hidden])", { timeout: 1000 });
  await page.close();
});

/** GET with headers: {status, body, headers}. */
function get(url, headers = {}) {
  return new Promise((resolve, reject) => {
    http.get(url, { headers }, (res) => {
      let body = "";
      res.on("data", (d) => (body += d));
      res.on("end", () => resolve({ status: res.statusCode, body, headers: res.headers }));
    }).on("error", reject);
  });
}

test("the API answers this machine, and refuses other origins and rebinding hosts", async () => {
  const rooms = await get(`${server.url}/api/rooms`);
  assert.equal(rooms.status, 200);
  assert.deepEqual(Object.keys(JSON.parse(rooms.body)).sort(), ["lobby", "peers", "relayed", "rooms", "summary"]);
  const status = JSON.parse((await get(`${server.url}/api/status`)).body);
  assert.equal(status.port, server.port);
  assert.equal((await get(`${server.url}/api/rooms`, { Origin: "http://evil.example" })).status, 403);
  assert.equal((await get(`${server.url}/api/rooms`, { Host: `evil.example:${server.port}` })).status, 403);
  // The desktop window's origin is let in only where the app configures it (the desktop test
  // covers that); a headless server refuses it like any other.
  assert.equal((await get(`${server.url}/api/rooms`, { Origin: "tauri://localhost" })).status, 403);
  const qr = await get(`${server.url}/api/qr.svg?text=${encodeURIComponent("http://meet.local:5000")}`);
  assert.equal(qr.status, 200);
  assert.match(qr.body, /^<\?xml|<svg/);
});

test("with --dashboard-token the token is required, also on loopback", async () => {
  const guarded = await startServer(["--dashboard-token", "s3cret"]);
  try {
    assert.equal((await get(`${guarded.url}/api/rooms`)).status, 403);
    assert.equal((await get(`${guarded.url}/api/rooms?token=wrong`)).status, 403);
    assert.equal((await get(`${guarded.url}/api/rooms?token=s3cret`)).status, 200);
    assert.equal((await get(`${guarded.url}/api/rooms`, { Authorization: "Bearer s3cret" })).status, 200);
    assert.equal((await get(`${guarded.url}/dashboard/?token=s3cret`)).status, 200);
    assert.equal((await get(`${guarded.url}/dashboard/`)).status, 403);
  } finally {
    assert.equal(await guarded.stop(), 0);
  }
});
