// Protects the original server's event contract, as the original front-end uses it with
// socket.io-client 4.8: join-room -> init-users / user-joined, signal relay, user-left, error.
import { test, before, after, afterEach } from "node:test";
import assert from "node:assert/strict";
import { startServer, connected, join, waitFor, closeAll, record, until } from "./fixture.mjs";

let server;
before(async () => (server = await startServer()));
after(async () => assert.equal(await server.stop(), 0));
afterEach(closeAll);

for (const [label, options] of [
  ["websocket only, as the original front-end", { transports: ["websocket"] }],
  ["default transports (polling, then upgrade)", { transports: ["polling", "websocket"] }],
]) {
  test(`join, relay and leave: ${label}`, async () => {
    const ann = await connected(server.url, options);
    const bob = await connected(server.url, options);
    const carl = await connected(server.url, options);
    if (options.transports[0] === "polling") {
      // Starts on polling and upgrades to websocket, as socket.io-client does by default.
      await Promise.all([ann, bob, carl].map((s) => s.io.engine.transport.name === "websocket" || waitFor(s.io.engine, "upgrade")));
      assert.ok([ann, bob, carl].every((s) => s.io.engine.transport.name === "websocket"));
    }
    assert.deepEqual(await join(ann, "standup", "Ann"), []);

    const annSeesBob = waitFor(ann, "user-joined");
    assert.deepEqual(await join(bob, "standup", "Bob"), [{ id: ann.id, userName: "Ann" }]);
    assert.deepEqual(await annSeesBob, { id: bob.id, userName: "Bob" });

    const joinedAnn = waitFor(ann, "user-joined");
    const joinedBob = waitFor(bob, "user-joined");
    assert.deepEqual(await join(carl, "standup", "Carl"), [
      { id: ann.id, userName: "Ann" },
      { id: bob.id, userName: "Bob" },
    ]);
    assert.deepEqual(await joinedAnn, { id: carl.id, userName: "Carl" });
    assert.deepEqual(await joinedBob, { id: carl.id, userName: "Carl" });

    // An SDP-like offer and a raw ICE candidate object, relayed unchanged.
    const offer = { type: "offer", sdp: "v=0\r\no=- 46117 2 IN IP4 127.0.0.1\r\ns=-\r\n" };
    const got = waitFor(bob, "signal");
    ann.emit("signal", { to: bob.id, signal: offer });
    assert.deepEqual(await got, { from: ann.id, signal: offer, userName: "Ann" });
    const candidate = { candidate: "candidate:1 1 udp 2122260223 10.0.0.2 54321 typ host", sdpMid: "0", sdpMLineIndex: 0, usernameFragment: null };
    const got2 = waitFor(ann, "signal");
    bob.emit("signal", { to: ann.id, signal: candidate });
    assert.deepEqual(await got2, { from: bob.id, signal: candidate, userName: "Bob" });

    // Logs name rooms and peers but never carry SDP or ICE contents at the default level.
    assert.match(server.logs(), new RegExp(`joined room peer=${bob.id} room=standup`));
    assert.ok(!server.logs().includes("46117"), "SDP leaked into the logs");
    assert.ok(!server.logs().includes("2122260223"), "ICE leaked into the logs");

    const leftAnn = waitFor(ann, "user-left");
    const leftBob = waitFor(bob, "user-left");
    const carlId = carl.id;
    carl.disconnect();
    assert.equal(await leftAnn, carlId);
    assert.equal(await leftBob, carlId);
  });
}

test("the joiner's first event right after connect is not lost", async () => {
  const ann = await connected(server.url);
  await join(ann, "eager", "Ann");
  const joined = waitFor(ann, "user-joined");
  const { connect } = await import("./fixture.mjs");
  const bob = connect(server.url);
  const init = waitFor(bob, "init-users");
  bob.on("connect", () => bob.emit("join-room", { roomId: "eager", userName: "Bob" }));
  assert.deepEqual(await init, [{ id: ann.id, userName: "Ann" }]);
  assert.equal((await joined).userName, "Bob");
});

test("a join without roomId or userName gets an error and the connection stays", async () => {
  const ann = await connected(server.url);
  for (const bad of [{}, { roomId: "x" }, { userName: "Ann" }, null, "x", { roomId: "", userName: "Ann" }]) {
    const error = waitFor(ann, "error");
    ann.emit("join-room", bad);
    assert.equal(typeof (await error), "string");
  }
  const errors = record(ann, "error");
  ann.emit("join-room");
  await until(() => errors.length === 1, "error for a join with no payload");
  assert.ok(ann.connected);
  assert.deepEqual(await join(ann, "after-errors", "Ann"), []);
});
