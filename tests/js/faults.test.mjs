// Protects the meetings against faults: a peer killed mid-frame (TCP reset), a half-open peer
// (no FIN, no pongs), SIGTERM under traffic, and the process running out of file descriptors.
// In each, the remaining peers are told exactly once and the server keeps serving.
import assert from "node:assert/strict";
import { once } from "node:events";
import net from "node:net";
import { afterEach, test } from "node:test";
import { barrier, client, closeAll, join, room, startServer, until } from "./fixture.mjs";

afterEach(closeAll);

test("a peer reset mid-frame is announced exactly once, on both transports", async () => {
  const server = await startServer();
  try {
    const [ann, bob] = await room(server.url, "reset", ["Ann", "Bob"]);
    const left = ann.record("user-left");

    // Socket.IO: half a websocket frame header, then RST.
    const victim = await client(server.url);
    await join(victim, "reset", "Victim");
    const victimId = victim.id;
    const tcp = victim.raw.io.engine.transport.ws._socket;
    tcp.write(Buffer.from([0x81, 0xfe, 0x40]));
    tcp.resetAndDestroy();
    await until(() => left.length >= 1, "user-left for the reset Socket.IO peer");

    // /ws: the same.
    const w = await client(server.url, "ws");
    const joined = ann.next("user-joined");
    w.emit("join-room", { roomId: "reset", userName: "WsVictim" });
    await joined;
    w.raw._socket.write(Buffer.from([0x81, 0xfe]));
    w.raw._socket.resetAndDestroy();
    await until(() => left.length >= 2, "user-left for the reset /ws peer");

    await barrier(bob, ann);
    await barrier(bob, ann);
    assert.deepEqual(left, [victimId, w.id], "each departure exactly once");
    assert.equal((await (await fetch(`${server.url}/health`)).json()).peers, 2);
  } finally {
    closeAll();
    assert.equal(await server.stop(), 0);
  }
});

/** A TCP relay in front of the server that can freeze: it then forwards nothing either way
 * and closes nothing, so the server sees a peer that went silent without a FIN. */
async function freezableProxy(port) {
  const pairs = [];
  const proxy = net.createServer((client) => {
    const upstream = net.connect({ port, host: "127.0.0.1" });
    const pair = { client, upstream, frozen: false };
    pairs.push(pair);
    client.on("data", (d) => pair.frozen || upstream.write(d));
    upstream.on("data", (d) => pair.frozen || client.write(d));
    client.on("error", () => {});
    upstream.on("error", () => {});
    // While frozen, a close on one side is not passed on (that would be a FIN).
    client.on("close", () => pair.frozen || upstream.destroy());
    upstream.on("close", () => pair.frozen || client.destroy());
  });
  proxy.listen(0, "127.0.0.1");
  await once(proxy, "listening");
  return {
    url: `http://127.0.0.1:${proxy.address().port}`,
    freeze() {
      for (const p of pairs) p.frozen = true;
    },
    /** Whether the server has closed its side of a frozen connection. */
    serverClosed: () => pairs.every((p) => p.upstream.destroyed || p.upstream.readableEnded),
    close() {
      for (const p of pairs) {
        p.client.destroy();
        p.upstream.destroy();
      }
      proxy.close();
    },
  };
}

test("a half-open peer is dropped after the ping timeout and its room is told, on both transports", async () => {
  const server = await startServer(["--ping-interval", "300ms", "--ping-timeout", "300ms"]);
  const proxy = await freezableProxy(server.port);
  try {
    const [ann] = await room(server.url, "half", ["Ann"]);
    const sio = await client(proxy.url);
    await join(sio, "half", "Ghost");
    const w = await client(proxy.url, "ws");
    await join(w, "half", "WsGhost");
    const left = ann.record("user-left");
    const ids = [sio.id, w.id];
    const started = Date.now();
    proxy.freeze();
    await until(() => left.length >= 2, "both ghosts dropped", { ms: 3000 });
    assert.ok(Date.now() - started < 3000);
    assert.deepEqual([...left].sort(), [...ids].sort());
    await until(() => proxy.serverClosed(), "the server to close its side", { ms: 3000 });
  } finally {
    proxy.close();
    closeAll();
    assert.equal(await server.stop(), 0);
  }
});

test("SIGTERM under traffic: every peer sees a disconnect and the server exits 0 within 5 s", async () => {
  const server = await startServer();
  const peers = [];
  for (let r = 0; r < 5; r++) {
    for (let i = 0; i < 5; i++) {
      const s = await client(server.url);
      await join(s, `term-${r}`, `P${i}`);
      peers.push({ s, room: r });
    }
  }
  const disconnects = peers.map(({ s }) => s.closed(5000));
  // Traffic: each peer keeps signalling a room mate until it is disconnected.
  let relayed = 0;
  for (const { s } of peers) s.on("signal", () => relayed++);
  const pumps = peers.map(({ s, room }, i) => {
    const mate = peers[room * 5 + ((i + 1) % 5)].s;
    return (async () => {
      while (s.raw.connected) {
        s.emit("signal", { to: mate.id, signal: { n: 1 } });
        await new Promise((r) => setImmediate(r));
      }
    })();
  });
  await until(() => relayed > 500, "traffic to flow");
  const started = Date.now();
  const exited = once(server.proc, "exit");
  server.proc.kill("SIGTERM");
  await Promise.all(disconnects);
  const [code] = await exited;
  await Promise.all(pumps);
  assert.equal(code, 0, server.logs());
  assert.ok(Date.now() - started < 5000, `exited after ${Date.now() - started} ms`);
});

test("out of file descriptors: the accept loop logs once, survives, and serves again", async () => {
  const limit = 300;
  const server = await startServer(["--header-timeout", "60s"], { prlimit: limit });
  const logs = server.logs;
  await until(() => /at most 44 connections: the open-file limit is 300/.test(logs()), "the lowered cap to be logged");
  const sockets = [];
  try {
    // Idle TCP connections, each a descriptor in the server, until accept fails.
    for (let i = 0; i < limit + 20; i++) {
      const s = net.connect({ port: server.port, host: "127.0.0.1" });
      s.on("error", () => {});
      sockets.push(s);
      await once(s, "connect");
    }
    await until(() => /cannot accept connections/.test(logs()), "the accept failure to be logged", { ms: 10000 });
    for (const s of sockets) s.destroy();
    const health = () =>
      fetch(`${server.url}/health`).then(
        (r) => r.status === 200,
        () => false,
      );
    await until(health, "/health to answer 200 once descriptors are free", { every: 50 });
    await until(() => /accepting connections again/.test(logs()), "the recovery to be logged");
    assert.equal(logs().match(/cannot accept connections/g).length, 1, "logged once");
  } finally {
    for (const s of sockets) s.destroy();
    assert.equal(await server.stop(), 0);
  }
});
