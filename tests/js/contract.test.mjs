// Protects the original server's event contract, as front-ends use it with socket.io-client 4.8
// (websocket only, and polling then upgrade) and as native clients use it over /ws: join-room ->
// init-users / user-joined, signal relayed unchanged, user-left; the two transports in one call;
// and logs that never carry SDP or ICE.
import assert from "node:assert/strict";
import { after, afterEach, before, test } from "node:test";
import { client, closeAll, join, startServer } from "./fixture.mjs";

let server;
before(async () => (server = await startServer()));
after(async () => assert.equal(await server.stop(), 0));
afterEach(closeAll);

const SET_UPS = [
  ["Socket.IO, websocket only, as the original front-end", "socket.io", { transports: ["websocket"] }],
  ["Socket.IO, default transports (polling, then upgrade)", "socket.io", { transports: ["polling", "websocket"] }],
  ["plain WebSocket at /ws", "ws", {}],
];

for (const [label, transport, options] of SET_UPS) {
  test(`join, relay and leave: ${label}`, async () => {
    const room = `standup-${transport}-${options.transports?.length ?? 0}`;
    const [ann, bob, carl] = [
      await client(server.url, transport, options),
      await client(server.url, transport, options),
      await client(server.url, transport, options),
    ];
    if (options.transports?.[0] === "polling") {
      // Starts on polling and upgrades to websocket, as socket.io-client does by default.
      const engines = [ann, bob, carl].map((c) => c.raw.io.engine);
      await Promise.all(
        engines.map((e) => e.transport.name === "websocket" || new Promise((r) => e.once("upgrade", r))),
      );
      assert.ok(engines.every((e) => e.transport.name === "websocket"));
    }
    assert.deepEqual(await join(ann, room, "Ann"), []);

    const annSeesBob = ann.next("user-joined");
    assert.deepEqual(await join(bob, room, "Bob"), [{ id: ann.id, userName: "Ann" }]);
    assert.deepEqual(await annSeesBob, { id: bob.id, userName: "Bob" });

    const joinedAnn = ann.next("user-joined");
    const joinedBob = bob.next("user-joined");
    assert.deepEqual(await join(carl, room, "Carl"), [
      { id: ann.id, userName: "Ann" },
      { id: bob.id, userName: "Bob" },
    ]);
    assert.deepEqual(await joinedAnn, { id: carl.id, userName: "Carl" });
    assert.deepEqual(await joinedBob, { id: carl.id, userName: "Carl" });

    // An SDP-like offer and a raw ICE candidate object, relayed unchanged.
    const offer = { type: "offer", sdp: "v=0\r\no=- 46117 2 IN IP4 127.0.0.1\r\ns=-\r\n" };
    const got = bob.next("signal");
    ann.emit("signal", { to: bob.id, signal: offer });
    assert.deepEqual(await got, { from: ann.id, signal: offer, userName: "Ann" });
    const candidate = {
      candidate: "candidate:1 1 udp 2122260223 10.0.0.2 54321 typ host",
      sdpMid: "0",
      sdpMLineIndex: 0,
      usernameFragment: null,
    };
    const got2 = ann.next("signal");
    bob.emit("signal", { to: ann.id, signal: candidate });
    assert.deepEqual(await got2, { from: bob.id, signal: candidate, userName: "Bob" });

    // Logs name rooms and peers but never carry SDP or ICE contents at the default level.
    assert.match(server.logs(), new RegExp(`joined room peer=${bob.id} room=${room}`));
    assert.ok(!server.logs().includes("46117"), "SDP leaked into the logs");
    assert.ok(!server.logs().includes("2122260223"), "ICE leaked into the logs");

    const leftAnn = ann.next("user-left");
    const leftBob = bob.next("user-left");
    const carlId = carl.id;
    carl.close();
    assert.equal(await leftAnn, carlId);
    assert.equal(await leftBob, carlId);
  });
}

test("a /ws peer and a Socket.IO peer share a room and exchange offer, answer and ICE candidates", async () => {
  const sio = await client(server.url, "socket.io");
  assert.deepEqual(await join(sio, "mixed", "Browser"), []);
  const ws = await client(server.url, "ws");
  assert.match(ws.id, /^[A-Za-z0-9_-]{16}$/, "ids have the Socket.IO format");
  assert.match(sio.id, /^[A-Za-z0-9_-]{16}$/);
  const joined = sio.next("user-joined");
  assert.deepEqual(await join(ws, "mixed", "Native"), [{ id: sio.id, userName: "Browser" }]);
  assert.deepEqual(await joined, { id: ws.id, userName: "Native" });

  const offer = { type: "offer", sdp: "v=0\r\na=group:BUNDLE 0\r\n" };
  const gotOffer = ws.next("signal");
  sio.emit("signal", { to: ws.id, signal: offer });
  assert.deepEqual(await gotOffer, { from: sio.id, signal: offer, userName: "Browser" });

  const answer = { type: "answer", sdp: "v=0\r\na=group:BUNDLE 0\r\n" };
  const gotAnswer = sio.next("signal");
  ws.emit("signal", { to: sio.id, signal: answer });
  assert.deepEqual(await gotAnswer, { from: ws.id, signal: answer, userName: "Native" });

  const candidate = {
    candidate: "candidate:2 1 udp 2122260223 10.0.0.3 40000 typ host",
    sdpMid: "0",
    sdpMLineIndex: 0,
  };
  const gotCandidate = ws.next("signal");
  sio.emit("signal", { to: ws.id, signal: candidate });
  assert.deepEqual((await gotCandidate).signal, candidate);

  const left = sio.next("user-left");
  const wsId = ws.id;
  ws.close();
  assert.equal(await left, wsId);
});

test("the joiner's first event right after connect is not lost", async () => {
  const ann = await client(server.url, "socket.io");
  await join(ann, "eager", "Ann");
  const joined = ann.next("user-joined");
  const bob = await client(server.url, "socket.io", { wait: false });
  const init = bob.next("init-users");
  bob.on("connect", () => bob.emit("join-room", { roomId: "eager", userName: "Bob" }));
  assert.deepEqual(await init, [{ id: ann.id, userName: "Ann" }]);
  assert.equal((await joined).userName, "Bob");
});
