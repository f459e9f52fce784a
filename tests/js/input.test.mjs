// Protects the server from malformed input, on both transports: broken Engine.IO and Socket.IO
// packets, /ws frames that are not {event, data} JSON, binary frames, every JSON type in every
// field, missing fields, and room ids and names outside their bounds. Each gets an `error` (or
// closes only that raw connection), is counted, changes nothing, and the connection stays
// usable; a witness room keeps signalling within 1 s throughout.
import assert from "node:assert/strict";
import { after, afterEach, before, test } from "node:test";
import WebSocket from "ws";
import { client, closeAll, health, join, refused, startServer, TRANSPORTS, until, withWitness } from "./fixture.mjs";

let server;
before(async () => (server = await startServer()));
after(async () => assert.equal(await server.stop(), 0));
afterEach(closeAll);

async function healthy() {
  assert.equal((await health(server.url)).status, 200);
}

test("malformed Engine.IO and Socket.IO packets are refused without harm", async () => {
  await withWitness(server.url, async () => {
    const garbage = [
      "",
      "9",
      "4",
      "42",
      "42[",
      '42["signal"',
      "4{}",
      "40/nowhere,",
      "41",
      "44{",
      "45-[]",
      '451-["x",{"_placeholder":true,"num":0}]',
      "42[1,2,3]",
      '42["join-room",',
      `42${"[".repeat(5000)}`,
      "2probe",
      "6",
      "\u0000\uffff",
      '42["signal",{"to":{},"signal":1}]',
    ];
    for (const connectFirst of [false, true]) {
      const ws = new WebSocket(`${server.url.replace(/^http/, "ws")}/socket.io/?EIO=4&transport=websocket`);
      const closed = new Promise((resolve) => ws.on("close", resolve));
      const opened = await new Promise((resolve) => ws.once("message", (data) => resolve(data.toString())));
      assert.match(opened, /^0\{/, "the Engine.IO open packet");
      if (connectFirst) ws.send("40");
      for (const packet of garbage) if (ws.readyState === WebSocket.OPEN) ws.send(packet);
      // Our close frame comes after the garbage, so once the server has answered it (or closed
      // first, refusing the garbage) every packet has been read.
      if (ws.readyState === WebSocket.OPEN) ws.close();
      await closed;
    }
    const post = await fetch(`${server.url}/socket.io/?EIO=4&transport=polling&sid=nonexistent`, {
      method: "POST",
      body: "42[",
    });
    assert.ok(post.status >= 400, `bad polling POST: ${post.status}`);
    await healthy();
  });
});

for (const transport of TRANSPORTS) {
  test(`wrong JSON types in every field each get an error, nothing else (${transport})`, async () => {
    await withWitness(server.url, async () => {
      const c = await client(server.url, transport);
      const errors = c.record("error");
      const inits = c.record("init-users");
      const before = await refused(server.url, "validation");
      const values = [null, 1, -1.5, true, [], {}, [1], { a: 1 }, ""];
      let sent = 0;
      for (const v of values) {
        c.emit("join-room", { roomId: v, userName: "Ann" });
        c.emit("join-room", { roomId: "r", userName: v });
        c.emit("join-room", v);
        c.emit("signal", { to: v, signal: { sdp: 1 } });
        c.emit("signal", v);
        sent += 5;
      }
      c.emit("signal", { to: "AAAAAAAAAAAAAAAA" }); // no signal at all
      sent += 1;
      await until(() => errors.length >= sent, `${sent} errors`);
      assert.equal(inits.length, 0);
      assert.ok(errors.every((e) => typeof e === "string" && e.length > 0));
      // Signals from a peer in no room are routing refusals; every other one is a validation one.
      const counted = (await refused(server.url, "validation")) - before;
      assert.ok(counted >= sent - values.length, `validation refusals counted: ${counted}`);
      await healthy();
    });
  });

  test(`a join without roomId or userName gets an error and the connection stays (${transport})`, async () => {
    const c = await client(server.url, transport);
    for (const bad of [
      {},
      { roomId: "x" },
      { userName: "Ann" },
      null,
      "x",
      { roomId: "", userName: "Ann" },
      undefined,
    ]) {
      const error = c.next("error");
      c.emit("join-room", bad);
      assert.equal(typeof (await error), "string", JSON.stringify(bad));
    }
    assert.deepEqual(await join(c, `after-errors-${transport}`, "Ann"), []);
  });

  test(`room ids and user names are bounded, trimmed and free of control characters (${transport})`, async () => {
    await withWitness(server.url, async () => {
      const c = await client(server.url, transport);
      for (const [payload, expected] of [
        [{ roomId: "r".repeat(129), userName: "Ann" }, /roomId/],
        [{ roomId: "   ", userName: "Ann" }, /roomId/],
        [{ roomId: "r".repeat(100_000), userName: "n".repeat(100_000) }, /roomId/],
        [{ roomId: "ok", userName: "n".repeat(65) }, /userName/],
        [{ roomId: "ok", userName: "Ann\u0000" }, /userName/],
        [{ roomId: "ok", userName: "Ann\nBob" }, /userName/],
        [{ roomId: 42, userName: "Ann" }, /roomId/],
        [{ roomId: "ok", userName: ["Ann"] }, /userName/],
      ]) {
        const error = c.next("error");
        c.emit("join-room", payload);
        assert.match(await error, expected, JSON.stringify(payload).slice(0, 80));
      }
      const longest = `${transport}-${"r".repeat(128)}`.slice(0, 128); // the most a room id may be
      const watcher = await client(server.url, transport);
      assert.deepEqual(await join(watcher, longest, "Watcher"), []);
      const joined = watcher.next("user-joined");
      await join(c, ` ${longest} `, "  Ann  ");
      assert.deepEqual(await joined, { id: c.id, userName: "Ann" });
    });
  });

  test(`binary payloads get an error and the connection stays (${transport})`, async () => {
    await withWitness(server.url, async () => {
      const c = await client(server.url, transport);
      const error = c.next("error");
      if (transport === "ws") c.raw.send(Buffer.from([0xde, 0xad, 0xbe, 0xef]), { binary: true });
      else c.emit("signal", { to: "AAAAAAAAAAAAAAAA", signal: Buffer.from([1, 2, 3]) });
      assert.match(await error, /binary/);
      assert.deepEqual(await join(c, `still-${transport}`, "W"), []);
    });
  });
}

test("/ws frames that are not {event, data} JSON get an error and the connection stays", async () => {
  const ws = await client(server.url, "ws");
  for (const bad of ["not json", '{"data":1}', "[1,2]", '{"event":7}', '{"event":"join-room","data":{"roomId":7}}']) {
    const error = ws.next("error");
    ws.raw.send(bad);
    assert.equal(typeof (await error), "string", bad);
  }
  assert.deepEqual(await join(ws, "still-open", "Ann"), []);
});
