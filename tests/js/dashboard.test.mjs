// Protects the dashboard: a real Chromium shows rooms and people as they join and leave (within
// 1 s, pushed, no reload); the API answers this machine only (no other origin, no DNS-rebinding
// host, nobody on another machine) unless a token is set, and then only with the token.
import assert from "node:assert/strict";
import path from "node:path";
import { after, afterEach, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import {
  CHROMIUM,
  CHROMIUM_FLAGS,
  client,
  closeAll,
  createLan,
  cspViolations,
  get,
  join,
  lineMatching,
  machineName,
  NEEDS_ROOT,
  runIn,
  serveIn,
  spawnIn,
  startServer,
} from "./fixture.mjs";
import { maskedShot } from "./pictures.mjs";

const WITNESS_PROBE = path.join(path.dirname(fileURLToPath(import.meta.url)), "../lan/witness.mjs");
let server;
let browser;

before(async () => {
  server = await startServer();
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_FLAGS });
});
after(async () => {
  await browser?.close();
  if (server) assert.equal(await server.stop(), 0);
});
afterEach(closeAll);

test("the dashboard shows people as they join and drops them as they leave, within 1 s", async () => {
  const page = await browser.newPage({ viewport: { width: 1000, height: 900 } });
  const refusedByCsp = cspViolations(page);
  await page.goto(`${server.url}/dashboard`);
  assert.ok(page.url().endsWith("/dashboard/"));
  await page.waitForSelector("#connection.live");
  await page.waitForSelector("#empty:not([hidden])");
  const ann = await client(server.url);
  const bob = await client(server.url, "ws");
  await join(ann, "standup", "Ann");
  await join(bob, "standup", "Bob");
  await page.waitForSelector(`[data-peer="${ann.id}"]`, { timeout: 1000 });
  await page.waitForSelector(`[data-peer="${bob.id}"]`, { timeout: 1000 });
  const row = await page.textContent(`[data-peer="${bob.id}"]`);
  assert.match(row, /Bob.*ws.*127\.0\.0\.1/);
  assert.match(await page.textContent(`[data-peer="${ann.id}"]`), /Ann.*socket\.io.*127\.0\.0\.1/);
  assert.match(await page.textContent("#totals"), /1 meeting, 2 people/);
  assert.ok(await page.isHidden("#empty"));
  // Relayed signals show in the traffic line.
  const got = bob.next("signal");
  ann.emit("signal", { to: bob.id, signal: { type: "offer" } });
  await got;
  await page.waitForFunction(
    () => /[1-9]\d* relayed since start/.test(document.querySelector("#rate").textContent),
    null,
    { timeout: 2500 },
  );
  // The addresses, their QR code and the fingerprint change with every run's ports and key.
  await maskedShot(page, "dashboard.png", { mask: ["#links code", "#qr", "#fingerprint", "td"] });

  // Each live room offers Join (the meeting page, in a new tab here) and its link.
  assert.equal(await page.isVisible('[data-room="standup"] button[aria-label="Copy the link to standup"]'), true);
  const [joinTab] = await Promise.all([page.waitForEvent("popup"), page.click('[data-room="standup"] >> text=Join')]);
  assert.match(joinTab.url(), /\/r\/standup$/);
  await joinTab.close();

  const bobId = bob.id;
  bob.close();
  await page.waitForSelector(`[data-peer="${bobId}"]`, { state: "detached", timeout: 1000 });
  ann.emit("leave-room");
  await page.waitForSelector(`[data-room="standup"]`, { state: "detached", timeout: 1000 });
  await page.waitForSelector("#empty:not([hidden])", { timeout: 1000 });
  assert.deepEqual(refusedByCsp, [], "the dashboard ran under its Content-Security-Policy, which refused nothing");
  await page.close();
});

test("New meeting opens a fresh private meeting as its host and copies the guest link", async () => {
  const context = await browser.newContext();
  await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: server.url });
  const page = await context.newPage();
  await page.goto(`${server.url}/dashboard/`);
  await page.waitForSelector("#connection.live");
  const [meeting] = await Promise.all([page.waitForEvent("popup"), page.click("#new-meeting")]);
  await page.waitForFunction(() => /link copied/.test(document.querySelector("#new-meeting-result").textContent));
  const copied = await page.evaluate(() => navigator.clipboard.readText());
  const [, room] = copied.match(/\/r\/([a-z]+-[a-z]+-\d{2})#k=[A-Za-z0-9_-]{24}$/) ?? [];
  assert.ok(room, `the guest link is copied: ${copied}`);
  // It opened with the host link; once the page has set itself up (it fills the room in after
  // loading its config), the keys are kept for the tab and gone from the address bar.
  await meeting.waitForFunction(
    () =>
      location.hash === "" &&
      JSON.parse(sessionStorage.getItem(`fm-keys:${document.querySelector("#room").value}`) ?? "{}").hostKey,
  );
  assert.equal(await meeting.inputValue("#room"), room, "the page opens on that room");
  assert.ok(await meeting.isVisible("#private-note"));
  const again = await (await get(`${server.url}/api/new-meeting`)).body;
  assert.notEqual(JSON.parse(again).room, room, "each new meeting gets its own room");
  await context.close();
});

test("a private meeting shows who hosts and who waits, and offers no link it cannot make", async () => {
  const page = await browser.newPage({ viewport: { width: 1000, height: 900 } });
  await page.goto(`${server.url}/dashboard/`);
  await page.waitForSelector("#connection.live");
  const made = await (await fetch(`${server.url}/api/new-meeting`)).json();
  const key = (link, k) => new URLSearchParams(new URL(link).hash.slice(1)).get(k);
  const hana = await client(server.url);
  const init = hana.next("init-users");
  hana.emit("join-room", { roomId: made.room, userName: "Hana", key: key(made.hostLink, "h") });
  await init;
  hana.emit("host", { action: "lobby", on: true });
  const eve = await client(server.url, "ws");
  const waiting = eve.next("waiting");
  eve.emit("join-room", { roomId: made.room, userName: "Eve", key: key(made.link, "k") });
  await waiting;
  const box = `[data-room="${made.room}"]`;
  await page.waitForFunction(
    (sel) => /waiting for the host: Eve/.test(document.querySelector(sel)?.textContent ?? ""),
    box,
  );
  assert.match(await page.textContent(box), /private: invitation link only/);
  assert.match(await page.textContent(`[data-peer="${hana.id}"]`), /Hana \(host\)/);
  assert.equal(await page.$(`${box} button[aria-label^="Copy the link"]`), null, "no link for a private meeting");
  await page.close();
});

test("the API answers this machine, and refuses other origins and rebinding hosts", async () => {
  const rooms = await get(`${server.url}/api/rooms`);
  assert.equal(rooms.status, 200);
  assert.deepEqual(Object.keys(JSON.parse(rooms.body)).sort(), ["lobby", "peers", "relayed", "rooms", "summary"]);
  const status = JSON.parse((await get(`${server.url}/api/status`)).body);
  assert.equal(status.port, server.port);
  assert.equal((await get(`${server.url}/api/rooms`, { Origin: "http://evil.example" })).status, 403);
  // A foreign name is refused in front of everything (421); one of the server's own names that
  // is not loopback is refused by the dashboard's own rule (403): it answers this machine only.
  assert.equal((await get(`${server.url}/api/rooms`, { Host: `evil.example:${server.port}` })).status, 421);
  assert.equal((await get(`${server.url}/api/rooms`, { Host: `${machineName()}.local:${server.port}` })).status, 403);
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

test("from another machine the dashboard, its API and /metrics answer 403 without their tokens, 200 with them", {
  skip: NEEDS_ROOT,
}, async () => {
  const lan = createLan({ srv: "10.79.0.1", other: "10.79.0.2" });
  const status = (route, headers = {}) =>
    runIn(lan.ns("other"), "node", [
      "-e",
      `fetch("http://10.79.0.1:5000${route}", { headers: ${JSON.stringify(headers)} }).then((r) => console.log(r.status))`,
    ]).then((r) => r.stdout.trim() || r.stderr);
  try {
    const open = await serveIn(lan.ns("srv"), ["--bind", "0.0.0.0", "--port", "5000", "--no-mdns"]);
    try {
      // A witness pair signals inside the server's namespace (its own loopback) throughout.
      const probe = spawnIn(lan.ns("srv"), "node", [WITNESS_PROBE, "http://127.0.0.1:5000"]);
      await lineMatching(probe, /^probing/);
      for (const route of ["/dashboard/", "/api/status", "/api/rooms", "/api/events", "/metrics"]) {
        assert.equal(await status(route), "403", route);
        assert.equal(await status(route, { "X-Forwarded-For": "127.0.0.1" }), "403", `${route} with X-Forwarded-For`);
      }
      assert.equal(await status("/health"), "200", "health is public");
      probe.proc.kill("SIGINT");
      assert.equal(await probe.exited, 0, probe.out.stdout + probe.out.stderr);
      assert.match(probe.out.stdout, /every probe within 1 s/);
    } finally {
      assert.equal(await open.stop(), 0);
    }
    const tokened = await serveIn(lan.ns("srv"), [
      "--port",
      "5000",
      "--no-mdns",
      "--dashboard-token",
      "lan-secret",
      "--metrics-token",
      "monitoring-secret",
    ]);
    try {
      assert.equal(await status("/api/rooms"), "403");
      assert.equal(await status("/api/rooms?token=lan-secret"), "200");
      assert.equal(await status("/dashboard/?token=lan-secret"), "200");
      // /metrics has its own token: the dashboard's does not open it, nor its the dashboard.
      assert.equal(await status("/metrics", { Authorization: "Bearer lan-secret" }), "403");
      assert.equal(await status("/metrics", { Authorization: "Bearer monitoring-secret" }), "200");
      assert.equal(await status("/api/rooms", { Authorization: "Bearer monitoring-secret" }), "403");
    } finally {
      assert.equal(await tokened.stop(), 0);
    }
  } finally {
    lan.destroy();
  }
});
