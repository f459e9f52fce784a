// Protects ordering and isolation under load: 1,000 back-to-back signals arrive complete and
// in order on both transports (even when sent right after connecting), and 20 rooms x 5
// clients at once see no event from another room.
import { test, before, after, afterEach } from "node:test";
import assert from "node:assert/strict";
import { startServer, connected, connect, join, closeAll, record, until, wsConnect } from "./fixture.mjs";

const COUNT = 1000;
let server;
// Ordering, not rate limits, is under test here: a burst allowance above the 1,001 events.
before(async () => (server = await startServer(["--event-burst", "2000"])));
after(async () => { const t = Date.now(); assert.equal(await server.stop(), 0); console.log("stop took", Date.now() - t); });
afterEach(closeAll);

function assertInOrder(received, from) {
  const seqs = received.filter((m) => m.from === from).map((m) => m.signal.seq);
  assert.equal(seqs.length, COUNT, `received ${seqs.length} of ${COUNT}`);
  seqs.forEach((seq, i) => assert.equal(seq, i, `message ${i} out of order`));
}

test("1,000 Socket.IO signals sent right after connect arrive complete and in order", async () => {
  const receiver = await connected(server.url);
  await join(receiver, "order-sio", "Receiver");
  const received = record(receiver, "signal");
  const sender = connect(server.url);
  sender.on("connect", () => {
    sender.emit("join-room", { roomId: "order-sio", userName: "Sender" });
    for (let seq = 0; seq < COUNT; seq++) {
      sender.emit("signal", { to: receiver.id, signal: { seq, candidate: `candidate:${seq} 1 udp 2122260223 10.0.0.2 5000 typ host` } });
    }
  });
  await until(() => received.length >= COUNT, "1,000 signals", 20000);
  assertInOrder(received, sender.id);
});

test("1,000 /ws signals sent right after the welcome arrive complete and in order", async () => {
  const receiver = await wsConnect(server.url);
  receiver.send("join-room", { roomId: "order-ws", userName: "Receiver" });
  await receiver.next("init-users");
  const sender = await wsConnect(server.url);
  sender.send("join-room", { roomId: "order-ws", userName: "Sender" });
  for (let seq = 0; seq < COUNT; seq++) {
    sender.send("signal", { to: receiver.id, signal: { seq } });
  }
  const signals = () => receiver.frames.filter((f) => f.event === "signal").map((f) => f.data);
  await until(() => signals().length >= COUNT, "1,000 signals", 20000);
  assertInOrder(signals(), sender.id);
  receiver.close();
  sender.close();
});

test("20 rooms x 5 clients at once: no event crosses rooms", async () => {
  const ROOMS = 20;
  const PER_ROOM = 5;
  const clients = [];
  for (let r = 0; r < ROOMS; r++) {
    for (let i = 0; i < PER_ROOM; i++) {
      const socket = connect(server.url);
      const c = { socket, room: `load-${r}`, name: `u${r}-${i}`, joined: record(socket, "user-joined"), signals: record(socket, "signal"), inits: record(socket, "init-users") };
      clients.push(c);
    }
  }
  await Promise.all(clients.map((c) => new Promise((res) => c.socket.on("connect", res))));
  // Everybody joins at once.
  for (const c of clients) c.socket.emit("join-room", { roomId: c.room, userName: c.name });
  await until(() => clients.every((c) => c.inits.length === 1), "every init-users");
  const members = (room) => clients.filter((c) => c.room === room);
  await until(() => clients.every((c) => c.inits[0].length + c.joined.length === PER_ROOM - 1), "every join announced");
  // Everybody signals every other member of its room.
  for (const c of clients) {
    for (const other of members(c.room)) {
      if (other !== c) c.socket.emit("signal", { to: other.socket.id, signal: { room: c.room, from: c.name } });
    }
  }
  await until(() => clients.every((c) => c.signals.length === PER_ROOM - 1), "every signal");
  for (const c of clients) {
    const roomIds = new Set(members(c.room).map((m) => m.socket.id));
    for (const u of [...c.inits[0], ...c.joined]) assert.ok(roomIds.has(u.id), `${c.name} saw ${u.userName} from another room`);
    for (const s of c.signals) {
      assert.equal(s.signal.room, c.room);
      assert.ok(roomIds.has(s.from));
    }
  }
});
