// Protects the built-in meeting page over HTTPS between two "machines": network namespaces A
// (the server, 10.78.0.1) and B (10.78.0.2) on one simulated LAN, each with its own headless
// Chromium (fake camera and microphone, the generated certificate accepted). People see each
// other's video playing, a third joins, a fourth finds the room full, one leaves and the
// others' grids drop them; plain HTTP from another machine points to the HTTPS link. Needs root
// for `ip netns`; the loopback checks (HTTPS transports, camera denied, server gone) run
// everywhere.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { chromium } from "playwright-core";
import { CHROMIUM, CHROMIUM_FLAGS, client, closeAll, join, lineMatching, SHOTS, startServer } from "./fixture.mjs";
import { createLan, NEEDS_ROOT, serveIn } from "./lan.mjs";

const skip = NEEDS_ROOT;
const SERVER = "10.78.0.1";
const FLAGS = [
  ...CHROMIUM_FLAGS,
  "--use-fake-device-for-media-stream",
  "--use-fake-ui-for-media-stream",
  "--ignore-certificate-errors",
  "--autoplay-policy=no-user-gesture-required",
];

let lan;
let tmp;
before(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "fm-meeting-"));
  if (!skip) lan = createLan({ a: SERVER, b: "10.78.0.2" });
});
after(() => {
  lan?.destroy();
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** A Chromium whose network is namespace `host`'s: a wrapper as playwright's executable. */
async function browserIn(host) {
  const wrapper = path.join(tmp, `chromium-${host}.sh`);
  fs.writeFileSync(wrapper, `#!/bin/sh\nexec ip netns exec ${lan.ns(host)} ${CHROMIUM} "$@"\n`, { mode: 0o755 });
  return chromium.launch({ executablePath: wrapper, args: FLAGS });
}

/** Opens the meeting page and joins as `name`. */
async function joinAs(browser, url, name) {
  const page = await (await browser.newContext({ viewport: { width: 960, height: 640 } })).newPage();
  await page.goto(url);
  await page.fill("#name", name);
  await page.click("#join-button");
  return page;
}

/** What a page's peer connections are doing, for a failure message. */
async function diagnose(page) {
  return page.evaluate(() => ({
    notice: document.querySelector("#notice").textContent,
    socket: state.socket?.connected,
    peers: [...state.peers].map(([id, p]) => ({
      id,
      connection: p.pc.connectionState,
      ice: p.pc.iceConnectionState,
      signaling: p.pc.signalingState,
      pending: p.pending.length,
      video: (({ videoWidth, readyState, currentTime }) => ({ videoWidth, readyState, currentTime }))(
        p.tile.querySelector("video"),
      ),
    })),
  }));
}

/** Waits until the page shows exactly `count` remote videos, each with frames and playing. */
async function seesPlaying(page, count) {
  try {
    await playing(page, count);
  } catch (error) {
    throw new Error(`${error.message}\n${JSON.stringify(await diagnose(page).catch((e) => e.message), null, 1)}`);
  }
}

async function playing(page, count) {
  await page.waitForFunction(
    (n) => {
      const videos = [...document.querySelectorAll("#grid video.remote")];
      return videos.length === n && videos.every((v) => v.videoWidth > 0 && v.readyState >= 2);
    },
    count,
    { timeout: 20000 },
  );
  const before = await page.evaluate(() =>
    [...document.querySelectorAll("#grid video.remote")].map((v) => v.currentTime),
  );
  await page.waitForFunction(
    (t0) => [...document.querySelectorAll("#grid video.remote")].every((v, i) => v.currentTime > t0[i] + 0.3),
    before,
    { timeout: 10000 },
  );
}

const remoteNames = (page) =>
  page.$$eval("#grid figure:not(.self) figcaption", (els) => els.map((e) => e.textContent).sort());

test("two machines meet over HTTPS, a third joins, a fourth finds the room full, one leaves", {
  skip,
  timeout: 120000,
}, async () => {
  const server = await serveIn(lan.ns("a"), [
    "--bind",
    "0.0.0.0",
    "--port",
    "5000",
    "--tls-port",
    "5443",
    "--tls-dir",
    path.join(tmp, "tls"),
    "--no-mdns",
    "--max-peers-per-room",
    "3",
  ]);
  const https = await lineMatching(server, /^HTTPS on https:\/\//);
  const fingerprint = https.match(/SHA-256 ([0-9A-F:]+)/)[1];
  const a = await browserIn("a");
  const b = await browserIn("b");
  try {
    const url = `https://${SERVER}:5443/r/test`;
    const ann = await joinAs(a, url, "Ann");
    const bob = await joinAs(b, url, "Bob");
    await Promise.all([seesPlaying(ann, 1), seesPlaying(bob, 1)]);
    assert.deepEqual(await remoteNames(ann), ["Bob"]);
    assert.deepEqual(await remoteNames(bob), ["Ann"]);

    const cat = await joinAs(b, url, "Cat");
    await Promise.all([seesPlaying(ann, 2), seesPlaying(bob, 2), seesPlaying(cat, 2)]);
    assert.deepEqual(await remoteNames(ann), ["Bob", "Cat"]);
    assert.equal(await ann.isHidden("#join"), true, "the join form is gone during the call");
    await ann.screenshot({ path: path.join(SHOTS, "meeting.png") });

    const dan = await joinAs(a, url, "Dan");
    await dan.waitForFunction(() => /is full/.test(document.querySelector("#notice").textContent), null, {
      timeout: 10000,
    });
    assert.equal(await dan.isVisible("#join"), true, "back at the join form");
    assert.equal(await dan.isHidden("#call"), true);

    await cat.click("#leave");
    await Promise.all([seesPlaying(ann, 1), seesPlaying(bob, 1)]);
    assert.deepEqual(await remoteNames(ann), ["Bob"]);

    // Plain HTTP from the other machine: the page says to use HTTPS, with link and fingerprint.
    const plain = await (await b.newContext()).newPage();
    await plain.goto(`http://${SERVER}:5000/r/test`);
    await plain.waitForFunction(() => !document.querySelector("#notice").hidden);
    const text = await plain.textContent("#notice");
    assert.match(text, new RegExp(`https://${SERVER.replace(/\./g, "\\.")}:5443/r/test`));
    assert.ok(text.includes(fingerprint), text);
  } finally {
    await a.close();
    await b.close();
    assert.equal(await server.stop(), 0, server.out.stderr);
  }
});

test("HTTPS serves the page, the config and both transports, beside plain HTTP", async () => {
  process.env.NODE_TLS_REJECT_UNAUTHORIZED = "0"; // the generated certificate, in this process only
  const server = await startServer([
    "--tls-port",
    "0",
    "--tls-dir",
    path.join(tmp, "tls-loopback"),
    "--ice-server",
    "stun:10.0.0.2:3478",
  ]);
  try {
    const line = (await lineMatching(server, /^HTTPS on https:\/\//)).match(/https:\/\/([\d.:]+)/) || [];
    const https = `https://${line[1]}`;
    assert.ok(line[1], server.out.stdout);
    const page = await fetch(`${https}/r/standup`);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /<title>Free Meetings<\/title>/);
    const config = await (await fetch(`${https}/api/meeting`)).json();
    assert.deepEqual(config.iceServers, [{ urls: "stun:10.0.0.2:3478" }]);
    assert.equal(config.httpsPort, Number(line[1].split(":")[1]));
    assert.match(config.fingerprint, /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    const bundle = await fetch(`${server.url}/meet/socket.io.min.js`);
    assert.match(await bundle.text(), /Socket\.IO v4\.8/);
    // A Socket.IO peer over WSS and one over plain WS meet in one room.
    const secure = await client(https, "socket.io", { rejectUnauthorized: false });
    const plain = await client(server.url);
    await join(secure, "tls", "Secure");
    const init = await join(plain, "tls", "Plain");
    assert.deepEqual(init, [{ id: secure.id, userName: "Secure" }]);
    const got = plain.next("signal");
    secure.emit("signal", { to: plain.id, signal: { type: "offer", sdp: "v=0" } });
    assert.equal((await got).from, secure.id);
  } finally {
    closeAll();
    assert.equal(await server.stop(), 0);
  }
});

test("on this machine the page says when the camera is denied and when the server is gone", async () => {
  const server = await startServer(["--tls-port", "0", "--tls-dir", path.join(tmp, "tls-messages")]);
  // No fake-UI flag: the permission request is refused, as when a person clicks Block.
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [...CHROMIUM_FLAGS, "--use-fake-device-for-media-stream"],
  });
  try {
    const watcher = await client(server.url);
    await join(watcher, "messages", "Watcher");
    const joined = watcher.next("user-joined", 10000);
    const context = await browser.newContext();
    const denied = await context.newPage();
    await denied.goto(`${server.url}/r/messages`); // loopback is a secure context
    await denied.fill("#name", "Denied");
    await denied.click("#join-button");
    await denied.waitForFunction(() => /denied/.test(document.querySelector("#notice").textContent), null, {
      timeout: 10000,
    });
    assert.equal(await denied.isVisible("#call"), true, "joined without camera and microphone");
    assert.equal(await denied.isDisabled("#mic"), true);
    assert.equal((await joined).userName, "Denied", "the page joined through the unchanged contract");

    server.proc.kill("SIGTERM");
    await denied.waitForFunction(() => /server/.test(document.querySelector("#notice").textContent), null, {
      timeout: 10000,
    });
    assert.match(await denied.textContent("#notice"), /Reconnecting/);
  } finally {
    closeAll();
    await browser.close();
    await server.stop();
  }
});
