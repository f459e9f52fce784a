// Protects the plain WebSocket transport at /ws: same events and ids as Socket.IO, shared
// rooms with Socket.IO peers, and clear errors for malformed or binary frames.
import { test, before, after, afterEach } from "node:test";
import assert from "node:assert/strict";
import { startServer, connected, join, waitFor, closeAll, wsConnect } from "./fixture.mjs";

let server;
before(async () => (server = await startServer()));
after(async () => assert.equal(await server.stop(), 0));
afterEach(closeAll);

test("a /ws peer and a Socket.IO peer exchange offer, answer and ICE candidates", async () => {
  const sio = await connected(server.url);
  assert.deepEqual(await join(sio, "mixed", "Browser"), []);
  const ws = await wsConnect(server.url);
  assert.match(ws.id, /^[A-Za-z0-9_-]{16}$/, "ids have the Socket.IO format");
  assert.match(sio.id, /^[A-Za-z0-9_-]{16}$/);
  const joined = waitFor(sio, "user-joined");
  ws.send("join-room", { roomId: "mixed", userName: "Native" });
  assert.deepEqual(await ws.next("init-users"), [{ id: sio.id, userName: "Browser" }]);
  assert.deepEqual(await joined, { id: ws.id, userName: "Native" });

  const offer = { type: "offer", sdp: "v=0\r\na=group:BUNDLE 0\r\n" };
  const gotOffer = ws.next("signal");
  sio.emit("signal", { to: ws.id, signal: offer });
  assert.deepEqual(await gotOffer, { from: sio.id, signal: offer, userName: "Browser" });

  const answer = { type: "answer", sdp: "v=0\r\na=group:BUNDLE 0\r\n" };
  const gotAnswer = waitFor(sio, "signal");
  ws.send("signal", { to: sio.id, signal: answer });
  assert.deepEqual(await gotAnswer, { from: ws.id, signal: answer, userName: "Native" });

  const candidate = { candidate: "candidate:2 1 udp 2122260223 10.0.0.3 40000 typ host", sdpMid: "0", sdpMLineIndex: 0 };
  const gotCandidate = ws.next("signal");
  sio.emit("signal", { to: ws.id, signal: candidate });
  assert.deepEqual((await gotCandidate).signal, candidate);

  const left = waitFor(sio, "user-left");
  const wsId = ws.id;
  ws.close();
  assert.equal(await left, wsId);
});

test("malformed and binary /ws frames get an error and the connection stays", async () => {
  const ws = await wsConnect(server.url);
  for (const bad of ["not json", '{"data":1}', "[1,2]", '{"event":"join-room","data":{"roomId":7}}']) {
    const error = ws.next("error");
    ws.ws.send(bad);
    assert.equal(typeof (await error), "string", bad);
  }
  const error = ws.next("error");
  ws.ws.send(Buffer.from([1, 2, 3]));
  assert.match(await error, /binary/);
  ws.send("join-room", { roomId: "still-open", userName: "Ann" });
  assert.deepEqual(await ws.next("init-users"), []);
  ws.send("leave-room");
  ws.close();
});
