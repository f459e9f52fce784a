// Protects the built-in meeting page over HTTPS between two "machines": network namespaces A
// (the server, 10.78.0.1) and B (10.78.0.2) on one simulated LAN, each with its own headless
// Chromium (fake camera and microphone, the generated certificate accepted). People see each
// other's video playing, a third joins, a fourth finds the room full, one leaves and the
// others' grids drop them; plain HTTP from another machine is sent to the page over HTTPS. Then what
// people do in a meeting: share a screen (its own tile, shown large, gone everywhere when it
// stops), chat (once, in order, named, links clickable, never HTML; nothing to another room),
// switch cameras mid-call, take part with no device at all, see who speaks and who is muted,
// and see a starved link on its tile; on a phone-sized screen too. Needs root for `ip netns`;
// the loopback checks (HTTPS transports, camera denied, server gone) run everywhere.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { chromium } from "playwright-core";
import {
  browserIn,
  CHROMIUM,
  CHROMIUM_FLAGS,
  client,
  closeAll,
  createLan,
  fromMenu,
  join,
  joinAs,
  lineMatching,
  NEEDS_ROOT,
  NO_DEVICE_FLAGS,
  remoteNames,
  seesPlaying,
  sleep,
  startServer,
  until,
  videoPlays,
  withMeetingServer,
} from "./fixture.mjs";
import { maskedShot } from "./pictures.mjs";

const skip = NEEDS_ROOT;
const SERVER = "10.78.0.1";
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

/** The meeting server in namespace A over HTTPS, and a Chromium on each machine (plus, with
 * `bare`, one with no camera or microphone on B), for one test. */
async function withMachines(run, { bare = false } = {}) {
  await withServer(async () => {
    const browsers = [await browserIn(lan, "a"), await browserIn(lan, "b")];
    if (bare) browsers.push(await browserIn(lan, "b", NO_DEVICE_FLAGS));
    try {
      await run(...browsers);
    } finally {
      await Promise.all(browsers.map((browser) => browser.close()));
    }
  });
}

/** The meeting server in namespace A, over HTTPS, for one test. */
const withServer = (run, extra = []) =>
  withMeetingServer(lan.ns("a"), ["--tls-dir", path.join(tmp, "tls"), ...extra], run);

/** The chat messages a page shows: [name, text] pairs. */
const chatShown = (page) =>
  page.$$eval("#messages li", (items) =>
    items.map((li) => [li.querySelector("strong").textContent, li.querySelector("p").textContent]),
  );

test("two machines meet over HTTPS, a third joins, a fourth finds the room full, one leaves", {
  skip,
  timeout: 120000,
}, async () => {
  await withServer(
    async (server) => {
      await lineMatching(server, /^HTTPS on https:\/\/.* SHA-256 [0-9A-F:]+/);
      const [a, b] = [await browserIn(lan, "a"), await browserIn(lan, "b")];
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
        await maskedShot(ann, "meeting.png");

        const dan = await joinAs(a, url, "Dan", undefined, false);
        await dan.waitForFunction(() => /is full/.test(document.querySelector("#notice").textContent), null, {
          timeout: 10000,
        });
        assert.equal(await dan.isVisible("#join"), true, "back at the join form");
        assert.equal(await dan.isHidden("#call"), true);

        await cat.click("#leave");
        await Promise.all([seesPlaying(ann, 1), seesPlaying(bob, 1)]);
        assert.deepEqual(await remoteNames(ann), ["Bob"]);

        // Plain HTTP from the other machine: the browser is sent to the page over HTTPS.
        const plain = await (await b.newContext()).newPage();
        await plain.goto(`http://${SERVER}:5000/r/test`);
        assert.equal(plain.url(), `https://${SERVER}:5443/r/test`);
        await plain.waitForSelector("#join-button:not([disabled])");
        // The whole call ran under the page's Content-Security-Policy, which refused nothing.
        for (const page of [ann, bob, cat, dan]) assert.deepEqual(page.cspViolations, []);
      } finally {
        await a.close();
        await b.close();
      }
    },
    ["--max-peers-per-room", "3"],
  );
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

const URL_A = `https://${SERVER}:5443/r`;

test("a shared screen reaches the other machine as its own tile, shown large; stopping removes it everywhere", {
  skip,
  timeout: 120000,
}, async () => {
  await withMachines(async (a, b) => {
    const ann = await joinAs(a, `${URL_A}/share`, "Ann");
    const bob = await joinAs(b, `${URL_A}/share`, "Bob");
    await Promise.all([seesPlaying(ann, 1), seesPlaying(bob, 1)]);

    await ann.click("#share");
    await ann.waitForSelector('#share[aria-pressed="true"]');
    const screenTile = "#spotlight .tile.screen:not(.self)";
    await bob.waitForSelector(screenTile, { timeout: 20000 });
    await videoPlays(bob, `${screenTile} video`);
    assert.equal(await bob.textContent(`${screenTile} .name`), "Ann's screen");
    await seesPlaying(bob, 1); // the camera keeps playing beside it
    assert.equal(await bob.locator("#grid .tile").count(), 2, "the cameras beside the screen");
    assert.equal(await ann.isVisible("#stage .tile.screen.self"), true, "the sharer sees what it shares");
    await maskedShot(bob, "meeting-screen-share.png");

    // Our button stops it: gone on both sides.
    await ann.click("#share");
    await bob.waitForSelector(".tile.screen", { state: "detached", timeout: 15000 });
    await ann.waitForSelector(".tile.screen", { state: "detached" });
    assert.equal(await bob.isHidden("#spotlight"), true, "back to the grid");

    // The browser's own "Stop sharing" ends the track: gone on both sides too.
    await ann.click("#share");
    await bob.waitForSelector(screenTile, { timeout: 20000 });
    assert.ok(await ann.evaluate(() => fmTest.endScreenShareAsTheBrowserDoes()), "Ann was sharing");
    await bob.waitForSelector(".tile.screen", { state: "detached", timeout: 15000 });
    assert.equal(await ann.getAttribute("#share", "aria-pressed"), "false");
    await seesPlaying(bob, 1);
  });
});

test("chat in the page: three people in a room see each message once, in order, named; another room sees none", {
  skip,
  timeout: 120000,
}, async () => {
  await withMachines(async (a, b) => {
    const ann = await joinAs(a, `${URL_A}/chat`, "Ann");
    const bob = await joinAs(b, `${URL_A}/chat`, "Bob");
    // Cat is on a phone: the same page, fitted to a small screen.
    const cat = await joinAs(b, `${URL_A}/chat`, "Cat", { width: 390, height: 844 });
    const dan = await joinAs(a, `${URL_A}/elsewhere`, "Dan");
    await Promise.all([seesPlaying(ann, 2), seesPlaying(cat, 2)]);

    await ann.keyboard.press("c"); // opens the chat panel
    await ann.waitForSelector("#chat:not([hidden])");
    const lines = [
      "Hello all",
      "<img src=x onerror=\"document.title='pwned'\"> is just text",
      "Agenda: https://example.org/agenda?x=1",
    ];
    for (const line of lines) {
      await ann.fill("#chat-input", line);
      await ann.keyboard.press("Enter");
    }
    await bob.click("#chat-toggle");
    await bob.fill("#chat-input", "Thanks, Ann");
    await bob.click('#chat-form button[type="submit"]');

    const expected = [...lines.map((l) => ["Ann", l]), ["Bob", "Thanks, Ann"]];
    for (const page of [ann, bob]) {
      await page.waitForFunction((n) => document.querySelectorAll("#messages li").length >= n, expected.length);
      assert.deepEqual(await chatShown(page), expected);
    }
    // Cat kept the panel closed: the unread count says so, and opening it shows them all.
    await cat.waitForFunction(() => document.querySelector("#unread").textContent === "4");
    assert.equal(await cat.isVisible("#unread"), true);
    await maskedShot(cat, "meeting-phone.png");
    await cat.click("#chat-toggle");
    assert.deepEqual(await chatShown(cat), expected);
    assert.equal(await cat.isHidden("#unread"), true);
    await maskedShot(cat, "meeting-phone-chat.png");
    // Text is never HTML; links are links.
    assert.equal(await ann.locator("#messages img").count(), 0);
    assert.notEqual(await ann.title(), "pwned");
    assert.equal(await bob.getAttribute('#messages a[href="https://example.org/agenda?x=1"]', "target"), "_blank");
    await maskedShot(bob, "meeting-chat.png");
    assert.deepEqual(await chatShown(dan), [], "nothing reaches another room");
    assert.equal(await dan.isHidden("#unread"), true);
  });
});

test("switching to a second camera mid-call keeps the others' video playing; someone with no device joins, watches and chats", {
  skip,
  timeout: 120000,
}, async () => {
  await withMachines(
    async (a, b, bare) => {
      // Before joining: the camera preview, the microphone meter and the three device choices.
      const lobby = await (await a.newContext({ viewport: { width: 960, height: 640 } })).newPage();
      await lobby.goto(`${URL_A}/devices`);
      await videoPlays(lobby, "#preview");
      await lobby.waitForFunction(() => document.querySelector("#meter").value > 0, null, { timeout: 10000 });
      assert.equal(await lobby.locator("#camera-select option").count(), 3);
      await lobby.fill("#name", "Ann");
      await maskedShot(lobby, "meeting-before-joining.png");
      await lobby.close();
      const ann = await joinAs(a, `${URL_A}/devices`, "Ann");
      const bob = await joinAs(b, `${URL_A}/devices`, "Bob");
      await Promise.all([seesPlaying(ann, 1), seesPlaying(bob, 1)]);
      const cameras = await ann.$$eval("#call-camera-select option", (os) => os.map((o) => [o.value, o.textContent]));
      assert.equal(cameras.length, 3, `three fake cameras: ${JSON.stringify(cameras)}`);
      assert.equal(await ann.evaluate(() => fmTest.cameraLabel()), "fake_device_0");
      const other = cameras.find(([, label]) => label === "fake_device_2");
      await fromMenu(ann, "#devices-toggle");
      await ann.selectOption("#call-camera-select", other[0]);
      await ann.waitForFunction((label) => fmTest.cameraLabel() === label, other[1]);
      await ann.click('#devices button[value="close"]');
      await seesPlaying(bob, 1); // still playing, now from the second camera
      // The choice is remembered for the next visit.
      const saved = await ann.evaluate(() => JSON.parse(localStorage.getItem("fm-devices")).camera);
      assert.equal(saved, other[0]);

      const eve = await joinAs(bare, `${URL_A}/devices`, "Eve");
      await eve.waitForFunction(() => /No camera or microphone/.test(document.querySelector("#notice").textContent));
      await seesPlaying(eve, 2); // watches both
      await ann.waitForFunction(() =>
        [...document.querySelectorAll(".tile .name")].some((n) => n.textContent === "Eve"),
      );
      await eve.click("#chat-toggle");
      await eve.fill("#chat-input", "I can see you both");
      await eve.keyboard.press("Enter");
      await ann.waitForFunction(() => document.querySelector("#unread").textContent === "1");
      await ann.click("#chat-toggle");
      assert.deepEqual(await chatShown(ann), [["Eve", "I can see you both"]]);
      assert.equal(await eve.isDisabled("#mic"), true);
      // Eve's tile says she is muted: she has no microphone.
      await ann.waitForSelector('[data-key$=":camera"].muted .muted-mark:not([hidden])');
    },
    { bare: true },
  );
});

test("a starved link shows on the tile: the connection indicator says poor, in words too, and good once it clears", {
  skip,
  timeout: 120000,
}, async () => {
  // This kernel has no netem, so the link is starved, not delayed: B's side sends at most
  // 64 kbit/s, less than a call's audio and smallest video, and drops the rest.
  const tc = (verb, ...qdisc) =>
    execFileSync("ip", ["netns", "exec", lan.ns("b"), "tc", "qdisc", verb, "dev", "lan0", "root", ...qdisc]);
  await withMachines(async (a, b) => {
    const ann = await joinAs(a, `${URL_A}/starved`, "Ann");
    const bob = await joinAs(b, `${URL_A}/starved`, "Bob");
    await Promise.all([seesPlaying(ann, 1), seesPlaying(bob, 1)]);
    const mark = ann.locator(".tile:not(.self) .link-mark:not([hidden])");
    const level = () => mark.getAttribute("data-level");
    await until(async () => (await level()) === "good", "Bob's link to be good first", { ms: 20000, every: 250 });
    tc("add", "tbf", "rate", "64kbit", "burst", "1600", "limit", "3000");
    try {
      await until(async () => (await level()) === "poor", "Bob's tile at Ann to say poor", { ms: 20000, every: 250 });
      // en.json's "link.poor", filled in.
      assert.match(await mark.getAttribute("aria-label"), /^Connection poor \(loss \d+%, round trip (\d+|\?) ms\)$/);
    } finally {
      tc("del");
    }
    await until(async () => (await level()) === "good", "Bob's link to be good again", { ms: 30000, every: 250 });
  });
});

test("the speaker's tile shows the ring on the other side; muting (key m) clears it and shows the muted marker", {
  skip,
  timeout: 120000,
}, async () => {
  await withMachines(async (a, b) => {
    const ann = await joinAs(a, `${URL_A}/speaking`, "Ann");
    const bob = await joinAs(b, `${URL_A}/speaking`, "Bob");
    await Promise.all([seesPlaying(ann, 1), seesPlaying(bob, 1)]);
    const annTile = (page) =>
      page.evaluate(() => {
        const tile = [...document.querySelectorAll(".tile:not(.self)")].find(
          (t) => t.querySelector(".name").textContent === "Ann",
        );
        return (
          tile && { speaking: tile.classList.contains("speaking"), marker: !tile.querySelector(".muted-mark").hidden }
        );
      });
    // Chromium's fake microphone beeps: Ann's tile lights up on Bob's screen.
    const ringed = () =>
      bob.waitForFunction(
        () =>
          [...document.querySelectorAll(".tile.speaking:not(.self)")].some(
            (t) => t.querySelector(".name").textContent === "Ann" && t.querySelector(".muted-mark").hidden,
          ),
        null,
        { timeout: 20000, polling: 10 },
      );
    await ringed();
    await maskedShot(bob, "meeting-speaking.png");
    await ann.keyboard.press("m");
    assert.equal(await ann.getAttribute("#mic", "aria-pressed"), "true");
    await bob.waitForFunction(() => {
      const tile = [...document.querySelectorAll(".tile:not(.self)")].find(
        (t) => t.querySelector(".name").textContent === "Ann",
      );
      return tile && !tile.querySelector(".muted-mark").hidden && !tile.classList.contains("speaking");
    });
    // It stays clear while muted, beeps or not (two seconds span two beeps).
    const samples = [];
    for (let i = 0; i < 10; i++) {
      samples.push(await annTile(bob));
      await sleep(200); // sampling the page over time, not waiting for it
    }
    assert.ok(
      samples.every((s) => s.marker && !s.speaking),
      JSON.stringify(samples),
    );
    await ann.keyboard.press("m");
    await ringed(); // unmuted: the marker goes, the ring comes back
  });
});
