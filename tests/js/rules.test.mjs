// Protects the stricter rules this server adds to the original contract: one room per
// connection, leave-room, same-room-only signals, validation, and the configurable limits.
import { test, before, after, afterEach } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import { startServer, connected, connect, join, waitFor, closeAll, record, until, refused, barrier, rss } from "./fixture.mjs";

let server;
before(async () => (server = await startServer(["--max-peers-per-room", "3", "--max-signal-size", "64KiB", "--max-message-size", "128KiB"])));
after(async () => assert.equal(await server.stop(), 0));
afterEach(closeAll);

/** A room of named, connected peers. */
async function room(roomId, ...names) {
  const peers = [];
  for (const name of names) {
    const s = await connected(server.url);
    await join(s, roomId, name);
    peers.push(s);
  }
  return peers;
}

test("joining another room moves the connection: the old room is told first", async () => {
  const [ann, bob] = await room("move-a", "Ann", "Bob");
  const [carl] = await room("move-b", "Carl");
  const left = waitFor(ann, "user-left");
  const joined = waitFor(carl, "user-joined");
  assert.deepEqual(await join(bob, "move-b", "Bob"), [{ id: carl.id, userName: "Carl" }]);
  assert.equal(await left, bob.id);
  assert.deepEqual(await joined, { id: bob.id, userName: "Bob" });
});

test("joining the room you are in again is idempotent: nobody else is told", async () => {
  const [ann, bob] = await room("same", "Ann", "Bob");
  await barrier(bob, ann); // Bob's first user-joined has reached Ann
  const annEvents = record(ann, "user-joined");
  const annLeft = record(ann, "user-left");
  assert.deepEqual(await join(bob, "same", "Bob"), [{ id: ann.id, userName: "Ann" }]);
  await barrier(bob, ann);
  assert.deepEqual(annEvents, []);
  assert.deepEqual(annLeft, []);
});

test("leave-room tells the others and the connection stays usable", async () => {
  const [ann, bob] = await room("leaving", "Ann", "Bob");
  const left = waitFor(ann, "user-left");
  bob.emit("leave-room", { whatever: true });
  assert.equal(await left, bob.id);
  assert.ok(bob.connected);
  const error = waitFor(bob, "error");
  bob.emit("signal", { to: ann.id, signal: { type: "offer" } });
  assert.match(await error, /join a room/);
  assert.deepEqual(await join(bob, "leaving", "Bob"), [{ id: ann.id, userName: "Ann" }]);
});

test("signals cross no room boundary, and the sender is told", async () => {
  const [ann, bob] = await room("sig-a", "Ann", "Bob");
  const [eve] = await room("sig-b", "Eve");
  const annSignals = record(ann, "signal");
  const error = waitFor(eve, "error");
  eve.emit("signal", { to: ann.id, signal: { type: "offer", sdp: "stolen" } });
  assert.match(await error, /not in your room/);
  const error2 = waitFor(eve, "error");
  eve.emit("signal", { to: "no-such-peer", signal: { type: "offer" } });
  assert.match(await error2, /not in your room/);
  await barrier(bob, ann);
  assert.deepEqual(annSignals.filter((s) => s.from === eve.id), []);
});

test("unknown events are ignored without an error, as the original did", async () => {
  const [ann, bob] = await room("unknown", "Ann", "Bob");
  const errors = record(ann, "error");
  ann.emit("chat-message", { text: "hi" });
  ann.emit("custom");
  await barrier(ann, bob);
  assert.deepEqual(errors, []);
});

test("a connection in no room cannot signal anyone", async () => {
  const [ann] = await room("lonely", "Ann");
  const loner = await connected(server.url);
  const error = waitFor(loner, "error");
  loner.emit("signal", { to: ann.id, signal: { candidate: "x" } });
  assert.match(await error, /join a room/);
});

test("room ids and user names are validated and trimmed", async () => {
  const s = await connected(server.url);
  for (const payload of [
    { roomId: "r".repeat(129), userName: "Ann" },
    { roomId: "   ", userName: "Ann" },
    { roomId: "ok", userName: "n".repeat(65) },
    { roomId: "ok", userName: "Ann\u0000" },
    { roomId: "ok", userName: "Ann\nBob" },
    { roomId: 42, userName: "Ann" },
    { roomId: "ok", userName: ["Ann"] },
  ]) {
    const error = waitFor(s, "error");
    s.emit("join-room", payload);
    assert.equal(typeof (await error), "string", JSON.stringify(payload));
  }
  const watcher = await connected(server.url);
  assert.deepEqual(await join(watcher, "r".repeat(128), "Watcher"), []);
  const joined = waitFor(watcher, "user-joined");
  await join(s, ` ${"r".repeat(128)} `, "  Ann  ");
  assert.deepEqual(await joined, { id: s.id, userName: "Ann" });
});

test("a signal over the size limit is refused and not relayed", async () => {
  const [ann, bob] = await room("big", "Ann", "Bob");
  const bobSignals = record(bob, "signal");
  const error = waitFor(ann, "error");
  ann.emit("signal", { to: bob.id, signal: { sdp: "x".repeat(70 * 1024) } });
  assert.match(await error, /over the 65536-byte limit/);
  await barrier(ann, bob);
  assert.equal(bobSignals.length, 1, "only the barrier arrived");
  // Just under the limit still goes through.
  const got = waitFor(bob, "signal");
  ann.emit("signal", { to: bob.id, signal: { sdp: "y".repeat(60 * 1024) } });
  assert.equal((await got).signal.sdp.length, 60 * 1024);
});

for (const transports of [["websocket"], ["polling"]]) {
  test(`an oversized message closes only that connection (${transports})`, async () => {
    const [ann, bob] = await room(`huge-${transports}`, "Ann", "Bob");
    const big = await connected(server.url, { transports });
    await join(big, `huge-${transports}`, "Big");
    const disconnected = waitFor(big, "disconnect");
    big.emit("signal", { to: ann.id, signal: { sdp: "z".repeat(200 * 1024) } });
    await disconnected;
    const got = waitFor(bob, "signal");
    ann.emit("signal", { to: bob.id, signal: { still: "working" } });
    assert.deepEqual((await got).signal, { still: "working" });
  });
}

test("a full room refuses with an error", async () => {
  await room("full", "A", "B", "C");
  const d = await connected(server.url);
  const before = await refused(server.url, "room_full");
  const error = waitFor(d, "error");
  d.emit("join-room", { roomId: "full", userName: "D" });
  assert.match(await error, /full \(3 peers\)/);
  assert.equal(await refused(server.url, "room_full"), before + 1, "counted in /metrics");
});

test("health reports status, version and counts", async () => {
  await room("health", "A", "B");
  const res = await fetch(`${server.url}/health`);
  assert.equal(res.status, 200);
  const body = await res.json();
  assert.equal(body.status, "ok");
  assert.match(body.version, /^\d+\.\d+\.\d+/);
  assert.ok(body.peers >= 2 && body.rooms >= 1, JSON.stringify(body));
});

/** A raw HTTP GET with headers; resolves with {status, headers}. */
function get(url, headers = {}) {
  return new Promise((resolve, reject) => {
    http.get(url, { headers }, (res) => {
      res.resume();
      resolve({ status: res.statusCode, headers: res.headers });
    }).on("error", reject);
  });
}

test("handshakes from other origins are refused with 403 on every transport", async () => {
  const host = new URL(server.url).host;
  const polling = `${server.url}/socket.io/?EIO=4&transport=polling`;
  assert.equal((await get(polling, { Origin: "http://evil.example" })).status, 403);
  assert.equal((await get(`${server.url}/ws`, { Origin: "http://evil.example", Connection: "Upgrade", Upgrade: "websocket", "Sec-WebSocket-Version": "13", "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==" })).status, 403);
  assert.equal((await get(polling, { Origin: `http://${host}` })).status, 200, "same origin");
  assert.equal((await get(polling)).status, 200, "no Origin: a native client");
  const ws = connect(server.url, { extraHeaders: { Origin: "http://evil.example" } });
  const err = await waitFor(ws, "connect_error");
  assert.ok(err instanceof Error);
  assert.match(server.logs(), /origin.*http:\/\/evil\.example/);
});

test("allow-listed origins get in, with CORS headers; * allows any", async () => {
  const listed = await startServer(["--allowed-origin", "http://localhost:3000,https://app.example"]);
  try {
    const polling = `${listed.url}/socket.io/?EIO=4&transport=polling`;
    const ok = await get(polling, { Origin: "http://localhost:3000" });
    assert.equal(ok.status, 200);
    assert.equal(ok.headers["access-control-allow-origin"], "http://localhost:3000");
    assert.equal((await get(polling, { Origin: "https://app.example" })).status, 200);
    const refused = await get(polling, { Origin: "http://localhost:3001" });
    assert.equal(refused.status, 403);
    assert.equal(refused.headers["access-control-allow-origin"], undefined);
    const s = await connected(listed.url, { extraHeaders: { Origin: "http://localhost:3000" } });
    assert.deepEqual(await join(s, "cors", "Ann"), []);
    s.close();
  } finally {
    assert.equal(await listed.stop(), 0);
  }
  const any = await startServer([], { env: { CLIENT_ORIGIN: "*" } });
  try {
    const res = await get(`${any.url}/socket.io/?EIO=4&transport=polling`, { Origin: "http://anything.example" });
    assert.equal(res.status, 200);
    assert.equal(res.headers["access-control-allow-origin"], "*");
  } finally {
    assert.equal(await any.stop(), 0);
  }
});

test("past the connection cap handshakes get 503 and existing peers keep working", async () => {
  const capped = await startServer(["--max-connections", "2"]);
  try {
    const a = await connected(capped.url);
    const b = await connected(capped.url);
    await join(a, "cap", "A");
    await join(b, "cap", "B");
    assert.equal((await get(`${capped.url}/socket.io/?EIO=4&transport=polling`)).status, 503);
    const upgrade = { Connection: "Upgrade", Upgrade: "websocket", "Sec-WebSocket-Version": "13", "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==" };
    assert.equal((await get(`${capped.url}/ws`, upgrade)).status, 503);
    const third = connect(capped.url);
    await waitFor(third, "connect_error");
    const got = waitFor(b, "signal");
    a.emit("signal", { to: b.id, signal: "still here" });
    assert.equal((await got).signal, "still here");
  } finally {
    closeAll();
    assert.equal(await capped.stop(), 0);
  }
});

test("the rate limit drops excess events with at most one error per second", async () => {
  const limited = await startServer(["--event-rate", "2", "--event-burst", "10"]);
  try {
    const s = await connected(limited.url);
    const inits = record(s, "init-users");
    const errors = record(s, "error");
    for (let i = 0; i < 30; i++) s.emit("join-room", { roomId: "rate", userName: "A" });
    await until(() => inits.length >= 10 && errors.length >= 1, "the burst to be handled");
    assert.equal(errors.length, 1);
    assert.match(errors[0], /too many events/);
    // The limit itself is time-based: after the bucket refills, a join is accepted again, and
    // since one connection's events are handled in order, all 30 were handled before it.
    await new Promise((r) => setTimeout(r, 1100));
    const init = waitFor(s, "init-users");
    s.emit("join-room", { roomId: "rate", userName: "A" });
    await init;
    assert.ok(inits.length <= 12, `accepted ${inits.length}`);
    assert.equal(errors.length, 1);
  } finally {
    closeAll();
    assert.equal(await limited.stop(), 0);
  }
});

test("a Socket.IO peer that stops reading is dropped; its room is told and others are not delayed", async () => {
  const small = await startServer(["--peer-queue", "8", "--event-rate", "100000", "--event-burst", "100000"]);
  try {
    const sender = await connected(small.url);
    const stuck = await connected(small.url);
    const [ann, bob] = [await connected(small.url), await connected(small.url)];
    await join(sender, "stuck", "Sender");
    await join(stuck, "stuck", "Stuck");
    await join(ann, "fine", "Ann");
    await join(bob, "fine", "Bob");
    const stuckId = stuck.id;
    const rssBefore = rss(small.proc.pid);
    // Stop reading at the TCP level: the server's queue for `stuck` fills up.
    const stuckTcp = stuck.io.engine.transport.ws._socket;
    stuckTcp.pause();
    const left = waitFor(sender, "user-left", 20000);
    let gone = false;
    left.then(() => (gone = true), () => {});
    const payload = "p".repeat(32 * 1024);
    for (let i = 0; i < 20000 && !gone; i++) {
      sender.emit("signal", { to: stuckId, signal: payload });
      if (i % 50 === 49) await new Promise((r) => setImmediate(r)); // let `user-left` in
    }
    assert.equal(await left, stuckId);
    // Up to 20,000 x 32 KB went its way; the queue (8 events) bounds what the server kept.
    const grown = rss(small.proc.pid) - rssBefore;
    assert.ok(grown < 64 * 1024 * 1024, `server RSS grew by ${grown} bytes`);
    const got = waitFor(bob, "signal");
    ann.emit("signal", { to: bob.id, signal: "unaffected" });
    assert.equal((await got).signal, "unaffected");
    stuckTcp.destroy(); // a paused socket would hold the test process until ws's close timeout
  } finally {
    closeAll();
    assert.equal(await small.stop(), 0);
  }
});
