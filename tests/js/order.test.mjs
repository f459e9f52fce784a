// Protects ordering and isolation under load: 1,000 back-to-back signals arrive complete and
// in order on both transports (even when sent right after connecting), and 20 rooms x 5
// clients at once see no event from another room.
import assert from "node:assert/strict";
import { after, afterEach, before, test } from "node:test";
import { client, closeAll, join, startServer, TRANSPORTS, until } from "./fixture.mjs";

const COUNT = 1000;
let server;
// Ordering, not rate limits, is under test here: a burst allowance above the 1,001 events.
before(async () => (server = await startServer(["--event-burst", "2000"])));
after(async () => assert.equal(await server.stop(), 0));
afterEach(closeAll);

function assertInOrder(received, from) {
  const seqs = received.filter((m) => m.from === from).map((m) => m.signal.seq);
  const missing = [...Array(COUNT).keys()].filter((seq) => !seqs.includes(seq));
  assert.equal(seqs.length, COUNT, `received ${seqs.length} of ${COUNT}; missing: ${missing.slice(0, 20)}`);
  for (const [i, seq] of seqs.entries()) assert.equal(seq, i, `message ${i} out of order`);
}

for (const transport of TRANSPORTS) {
  test(`1,000 ${transport} signals sent right after connecting arrive complete and in order`, async () => {
    const roomId = `order-${transport}`;
    const receiver = await client(server.url, transport);
    await join(receiver, roomId, "Receiver");
    const received = receiver.record("signal");
    const burst = (sender) => {
      sender.emit("join-room", { roomId, userName: "Sender" });
      for (let seq = 0; seq < COUNT; seq++) {
        const candidate = `candidate:${seq} 1 udp 2122260223 10.0.0.2 5000 typ host`;
        sender.emit("signal", { to: receiver.id, signal: { seq, candidate } });
      }
    };
    let sender;
    if (transport === "socket.io") {
      // From inside the connect handler: the first events race socketioxide's connect ack.
      sender = await client(server.url, transport, { wait: false });
      sender.on("connect", () => burst(sender));
    } else {
      // Right after the welcome, the first moment a /ws client knows it is connected.
      sender = await client(server.url, transport);
      burst(sender);
    }
    // Past the wait, the assertion says how many came and which went missing.
    await until(() => received.length >= COUNT, `${COUNT} signals`, { ms: 20000 }).catch(() => {});
    assertInOrder(received, sender.id);
  });
}

test("20 rooms x 5 clients at once: no event crosses rooms", async () => {
  const ROOMS = 20;
  const PER_ROOM = 5;
  const clients = [];
  for (let r = 0; r < ROOMS; r++) {
    for (let i = 0; i < PER_ROOM; i++) {
      // Both transports in every room.
      const c = await client(server.url, TRANSPORTS[i % 2], { wait: false });
      clients.push({
        c,
        room: `load-${r}`,
        name: `u${r}-${i}`,
        joined: c.record("user-joined"),
        signals: c.record("signal"),
        inits: c.record("init-users"),
      });
    }
  }
  await until(() => clients.every(({ c }) => c.id), "every client connected");
  // Everybody joins at once.
  for (const { c, room, name } of clients) c.emit("join-room", { roomId: room, userName: name });
  await until(() => clients.every((x) => x.inits.length === 1), "every init-users");
  const members = (room) => clients.filter((x) => x.room === room);
  await until(() => clients.every((x) => x.inits[0].length + x.joined.length === PER_ROOM - 1), "every join announced");
  // Everybody signals every other member of its room.
  for (const x of clients) {
    for (const other of members(x.room)) {
      if (other !== x) x.c.emit("signal", { to: other.c.id, signal: { room: x.room, from: x.name } });
    }
  }
  await until(() => clients.every((x) => x.signals.length === PER_ROOM - 1), "every signal");
  for (const x of clients) {
    const roomIds = new Set(members(x.room).map((m) => m.c.id));
    for (const u of [...x.inits[0], ...x.joined])
      assert.ok(roomIds.has(u.id), `${x.name} saw ${u.userName} from another room`);
    for (const s of x.signals) {
      assert.equal(s.signal.room, x.room);
      assert.ok(roomIds.has(s.from));
    }
  }
});
