// Protects the room rules this server adds to the original contract, on both transports: one
// room per connection (joining another moves it, joining the same one again is idempotent),
// leave-room keeps the connection, signals reach only members of the sender's room (the sender
// is told otherwise, and the refusal is counted), unknown events are ignored, and a full room
// refuses with an error.
import assert from "node:assert/strict";
import { after, afterEach, before, test } from "node:test";
import { barrier, client, closeAll, join, refused, room, startServer, TRANSPORTS } from "./fixture.mjs";

let server;
before(async () => (server = await startServer(["--max-peers-per-room", "3"])));
after(async () => assert.equal(await server.stop(), 0));
afterEach(closeAll);

for (const transport of TRANSPORTS) {
  const name = (what) => `${what}-${transport}`;
  const peers = (roomId, ...names) => room(server.url, name(roomId), names, transport);

  test(`joining another room moves the connection, the old room told first (${transport})`, async () => {
    const [ann, bob] = await peers("move-a", "Ann", "Bob");
    const [carl] = await peers("move-b", "Carl");
    const left = ann.next("user-left");
    const joined = carl.next("user-joined");
    assert.deepEqual(await join(bob, name("move-b"), "Bob"), [{ id: carl.id, userName: "Carl" }]);
    assert.equal(await left, bob.id);
    assert.deepEqual(await joined, { id: bob.id, userName: "Bob" });
  });

  test(`joining the room you are in again is idempotent: nobody else is told (${transport})`, async () => {
    const [ann, bob] = await peers("same", "Ann", "Bob");
    await barrier(bob, ann); // Bob's first user-joined has reached Ann
    const joinedSeen = ann.record("user-joined");
    const leftSeen = ann.record("user-left");
    assert.deepEqual(await join(bob, name("same"), "Bob"), [{ id: ann.id, userName: "Ann" }]);
    await barrier(bob, ann);
    assert.deepEqual(joinedSeen, []);
    assert.deepEqual(leftSeen, []);
  });

  test(`leave-room tells the others and the connection stays usable (${transport})`, async () => {
    const [ann, bob] = await peers("leaving", "Ann", "Bob");
    const left = ann.next("user-left");
    bob.emit("leave-room", { whatever: true });
    assert.equal(await left, bob.id);
    const error = bob.next("error");
    bob.emit("signal", { to: ann.id, signal: { type: "offer" } });
    assert.match(await error, /join a room/);
    assert.deepEqual(await join(bob, name("leaving"), "Bob"), [{ id: ann.id, userName: "Ann" }]);
  });

  test(`signals cross no room boundary and reach nobody before a join; the sender is told (${transport})`, async () => {
    const [ann, bob] = await peers("sig-a", "Ann", "Bob");
    const [eve] = await peers("sig-b", "Eve");
    const outsider = await client(server.url, transport);
    const annSignals = ann.record("signal");
    const before = await refused(server.url, "routing");
    for (const [from, to, expected] of [
      [eve, ann.id, /not in your room/],
      [eve, "no-such-peer", /not in your room/],
      [eve, "AAAAAAAAAAAAAAAA", /not in your room/],
      [outsider, ann.id, /join a room/],
    ]) {
      const error = from.next("error");
      from.emit("signal", { to, signal: { type: "offer", sdp: "stolen" } });
      assert.match(await error, expected);
    }
    await barrier(bob, ann);
    assert.deepEqual(
      annSignals.filter((s) => s.from !== bob.id),
      [],
    );
    assert.equal(await refused(server.url, "routing"), before + 4, "each refusal counted in /metrics");
  });

  test(`unknown events are ignored without an error, as the original did (${transport})`, async () => {
    const [ann, bob] = await peers("unknown", "Ann", "Bob");
    const errors = ann.record("error");
    ann.emit("chat-message", { text: "hi" });
    ann.emit("custom");
    await barrier(ann, bob);
    assert.deepEqual(errors, []);
  });

  test(`a full room refuses with an error, counted (${transport})`, async () => {
    await peers("full", "A", "B", "C");
    const d = await client(server.url, transport);
    const before = await refused(server.url, "room_full");
    const error = d.next("error");
    d.emit("join-room", { roomId: name("full"), userName: "D" });
    assert.match(await error, /full \(3 peers\)/);
    assert.equal(await refused(server.url, "room_full"), before + 1, "counted in /metrics");
  });
}
