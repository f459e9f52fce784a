// Protects real-browser compatibility: two headless Chromium pages use socket.io-client's
// browser bundle through this server to exchange offer, answer and ICE candidates and open an
// RTCDataChannel, with no STUN server.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { startServer, CHROMIUM, CHROMIUM_FLAGS } from "./fixture.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const files = {
  "/peer.html": [path.join(here, "pages/peer.html"), "text/html"],
  "/socket.io.min.js": [
    path.join(here, "../../node_modules/socket.io-client/dist/socket.io.min.js"),
    "text/javascript",
  ],
};

let pages; // the static page server, on its own origin
let server;
let browser;

before(async () => {
  pages = http.createServer((req, res) => {
    const file = files[new URL(req.url, "http://x").pathname];
    if (!file) return res.writeHead(404).end();
    res.writeHead(200, { "content-type": file[1] }).end(fs.readFileSync(file[0]));
  });
  await new Promise((r) => pages.listen(0, "127.0.0.1", r));
  const pageOrigin = `http://127.0.0.1:${pages.address().port}`;
  server = await startServer(["--allowed-origin", pageOrigin]);
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    // Loopback is all a test may use: let WebRTC gather host candidates on it.
    args: [...CHROMIUM_FLAGS, "--allow-loopback-in-peer-connection"],
  });
});

after(async () => {
  await browser?.close();
  pages?.close();
  if (server) assert.equal(await server.stop(), 0);
});

test("two Chromium pages open an RTCDataChannel through the server", async () => {
  const origin = `http://127.0.0.1:${pages.address().port}`;
  const open = async (name) => {
    const page = await (await browser.newContext()).newPage();
    const query = new URLSearchParams({ server: server.url, room: "browser", name });
    await page.goto(`${origin}/peer.html?${query}`);
    return page;
  };
  const ann = await open("Ann");
  await ann.waitForFunction(() => window.log.includes("init-users 0"));
  const bob = await open("Bob");
  const received = (page) =>
    page.waitForFunction(() => window.received, null, { timeout: 20000 }).then((h) => h.jsonValue());
  try {
    assert.equal(await received(ann), "hello from Bob");
    assert.equal(await received(bob), "hello from Ann");
  } catch (error) {
    const logs = { ann: await ann.evaluate(() => window.log), bob: await bob.evaluate(() => window.log) };
    throw new Error(`${error.message}\n${JSON.stringify(logs, null, 1)}\n${server.logs()}`);
  }
  const annLog = await ann.evaluate(() => window.log);
  assert.ok(
    annLog.some((l) => l.startsWith("candidate")),
    "ICE candidates were relayed",
  );
});
