// Protects the two events this server adds beside the original contract, on both transports:
// `chat` reaches every member of the sender's room once, in order, with the sender's name and
// the server's time, and nobody else; bad, oversized and flooding messages get `error` while a
// witness room keeps its signals; chat text never reaches the logs. `state` reaches the others
// at once and every later joiner, and a page that never uses either never sees one.
import assert from "node:assert/strict";
import { after, afterEach, before, test } from "node:test";
import {
  barrier,
  client,
  closeAll,
  join,
  metrics,
  refused,
  room,
  startServer,
  TRANSPORTS,
  until,
  withWitness,
} from "./fixture.mjs";

let server;
before(async () => (server = await startServer(["--event-rate", "50", "--event-burst", "100"])));
after(async () => assert.equal(await server.stop(), 0));
afterEach(closeAll);

for (const transport of TRANSPORTS) {
  test(`chat reaches the sender's room once, in order, and nobody else (${transport})`, async () => {
    const roomId = `chat-${transport}`;
    // Both transports in the room, whichever one the test is about.
    const ann = await client(server.url, transport);
    const bob = await client(server.url, transport === "ws" ? "socket.io" : "ws");
    const cat = await client(server.url, transport);
    for (const [c, name] of [
      [ann, "Ann"],
      [bob, "Bob"],
      [cat, "Cat"],
    ])
      await join(c, roomId, name);
    const [dan] = await room(server.url, `${roomId}-other`, ["Dan"], transport);
    const seen = [ann, bob, cat, dan].map((c) => c.record("chat"));
    const before = (await metrics(server.url)).free_meetings_chat_messages_total;
    const started = Date.now();
    const lines = ["hello", "second <b>not html</b>", "third https://example.org/x?y=1"];
    for (const text of lines) ann.emit("chat", { text });
    bob.emit("chat", { text: "  from Bob  " });
    await until(() => seen.slice(0, 3).every((s) => s.length === 4), "4 messages in each of the 3 members");
    const shown = (messages) => messages.map(({ from, userName, text }) => ({ from, userName, text }));
    for (const messages of seen.slice(0, 3)) {
      // Each sender's messages in the order sent; Bob's and Ann's may interleave, but every
      // member sees the same sequence (one decision delivers to all of them).
      assert.deepEqual(shown(messages), shown(seen[0]));
      assert.deepEqual(
        shown(messages.filter((m) => m.from === ann.id)),
        lines.map((text) => ({ from: ann.id, userName: "Ann", text })),
      );
      assert.deepEqual(shown(messages.filter((m) => m.from === bob.id)), [
        { from: bob.id, userName: "Bob", text: "from Bob" },
      ]);
      for (const { at } of messages) assert.ok(at >= started - 1000 && at <= Date.now() + 1000, `at ${at}`);
    }
    // Dan's own message comes after everything the others sent: once it is here, nothing else is on its way.
    const probe = dan.next("chat");
    dan.emit("chat", { text: "only mine" });
    assert.equal((await probe).text, "only mine", "a room of one hears itself");
    assert.deepEqual(
      seen[3].map((m) => m.text),
      ["only mine"],
      "nothing from another room",
    );
    assert.equal((await metrics(server.url)).free_meetings_chat_messages_total, before + 5);
    assert.ok(!server.logs().includes("not html"), "chat text stays out of the logs");
  });

  test(`bad, oversized and flooding chat messages get an error and harm nobody (${transport})`, async () => {
    await withWitness(server.url, async () => {
      const [ann, bob] = await room(server.url, `chat-bad-${transport}`, ["Ann", "Bob"], transport);
      const bobChats = bob.record("chat");
      const outsider = await client(server.url, transport);
      for (const [c, payload, expected] of [
        [ann, { text: "x".repeat(2001) }, /chat needs \{text\}/],
        [ann, { text: "   " }, /chat needs \{text\}/],
        [ann, { text: 42 }, /chat needs \{text\}/],
        [ann, "just a string", /chat needs \{text\}/],
        [outsider, { text: "hello?" }, /join a room before sending chat messages/],
      ]) {
        const error = c.next("error");
        c.emit("chat", payload);
        assert.match(await error, expected);
      }
      // 2,000 characters is the most, and passes.
      const longest = bob.next("chat");
      ann.emit("chat", { text: "é".repeat(2000) });
      assert.equal((await longest).text.length, 2000);
      // A flood: the rate limit (50/s, bursts of 100) drops the excess with an error.
      const errors = ann.record("error");
      const before = await refused(server.url, "rate");
      for (let i = 0; i < 300; i++) ann.emit("chat", { text: `flood ${i}` });
      await until(() => errors.some((e) => /too many events/.test(e)), "the rate-limit error");
      const dropped = await until(async () => {
        const n = (await refused(server.url, "rate")) - before;
        return n + bobChats.filter((m) => m.text.startsWith("flood")).length >= 300 && n;
      }, "300 messages delivered or refused");
      assert.ok(dropped >= 100, `${dropped} refused`);
    });
  });

  test(`state reaches the others at once and later joiners after init-users (${transport})`, async () => {
    const roomId = `state-${transport}`;
    const [ann, bob] = await room(server.url, roomId, ["Ann", "Bob"], transport);
    const got = bob.next("state");
    ann.emit("state", { muted: true, camera: false, screen: null });
    assert.deepEqual(await got, { from: ann.id, muted: true, camera: false, screen: null });
    const error = ann.next("error");
    ann.emit("state", { muted: "yes", camera: true });
    assert.match(await error, /state needs \{muted, camera, screen\}/);
    // Whether Bob's state reaches the server before or after Cat's join, Cat gets it after init-users.
    bob.emit("state", { muted: false, camera: true, screen: "{0f1e2d3c}" });
    const cat = await client(server.url, transport);
    const events = [];
    for (const name of ["init-users", "state"]) cat.on(name, (data) => events.push([name, data]));
    await join(cat, roomId, "Cat");
    await until(() => events.length === 3, "init-users and two states");
    assert.equal(events[0][0], "init-users", "init-users comes first");
    assert.deepEqual(
      events.slice(1).map(([, data]) => data),
      [
        { from: ann.id, muted: true, camera: false, screen: null },
        { from: bob.id, muted: false, camera: true, screen: "{0f1e2d3c}" },
      ],
    );
  });
}

test("a page that uses neither chat nor state sees none of either (the original front-end)", async () => {
  const [ann, bob] = await room(server.url, "plain", ["Ann", "Bob"]);
  const chats = ann.record("chat");
  const states = ann.record("state");
  ann.emit("signal", { to: bob.id, signal: { type: "offer", sdp: "v=0" } });
  await barrier(bob, ann);
  const late = await client(server.url);
  const lateStates = late.record("state");
  await join(late, "plain", "Late");
  await barrier(late, ann);
  assert.deepEqual([chats, states, lateStates], [[], [], []]);
});
