// Protects the meetings against faults: a peer killed mid-frame (TCP reset), a half-open peer
// (no FIN, no pongs), SIGTERM under traffic, and the process running out of file descriptors.
// In each, the remaining peers are told exactly once and the server keeps serving.
import { test, afterEach } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import { once } from "node:events";
import { spawn } from "node:child_process";
import { startServer, connected, join, waitFor, closeAll, record, until, wsConnect, BIN, barrier } from "./fixture.mjs";

afterEach(closeAll);

test("a peer reset mid-frame is announced exactly once, on both transports", async () => {
  const server = await startServer();
  try {
    const ann = await connected(server.url);
    const bob = await connected(server.url);
    await join(ann, "reset", "Ann");
    await join(bob, "reset", "Bob");
    const left = record(ann, "user-left");

    // Socket.IO: half a websocket frame header, then RST.
    const victim = await connected(server.url);
    await join(victim, "reset", "Victim");
    const victimId = victim.id;
    const tcp = victim.io.engine.transport.ws._socket;
    tcp.write(Buffer.from([0x81, 0xfe, 0x40]));
    tcp.resetAndDestroy();
    await until(() => left.length >= 1, "user-left for the reset Socket.IO peer");

    // /ws: the same.
    const w = await wsConnect(server.url);
    const joined = waitFor(ann, "user-joined");
    w.send("join-room", { roomId: "reset", userName: "WsVictim" });
    await joined;
    w.ws._socket.write(Buffer.from([0x81, 0xfe]));
    w.ws._socket.resetAndDestroy();
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
    freeze: () => pairs.forEach((p) => (p.frozen = true)),
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
    const ann = await connected(server.url);
    await join(ann, "half", "Ann");
    const sio = await connected(proxy.url);
    await join(sio, "half", "Ghost");
    const w = await wsConnect(proxy.url);
    const joined = waitFor(ann, "user-joined");
    w.send("join-room", { roomId: "half", userName: "WsGhost" });
    await joined;
    const left = record(ann, "user-left");
    const ids = [sio.id, w.id];
    const started = Date.now();
    proxy.freeze();
    await until(() => left.length >= 2, "both ghosts dropped", 3000);
    assert.ok(Date.now() - started < 3000);
    assert.deepEqual([...left].sort(), [...ids].sort());
    await until(() => proxy.serverClosed(), "the server to close its side", 3000);
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
      const s = await connected(server.url);
      await join(s, `term-${r}`, `P${i}`);
      peers.push({ s, room: r });
    }
  }
  const disconnects = peers.map(({ s }) => waitFor(s, "disconnect", 5000));
  // Traffic: each peer keeps signalling a room mate until it is disconnected.
  let relayed = 0;
  for (const { s } of peers) s.on("signal", () => relayed++);
  const pumps = peers.map(({ s, room }, i) => {
    const mate = peers[room * 5 + ((i + 1) % 5)].s;
    return (async () => {
      while (s.connected) {
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
  const proc = spawn("prlimit", [`--nofile=${limit}:${limit}`, BIN, "serve", "--bind", "127.0.0.1", "--port", "0", "--no-mdns", "--header-timeout", "60s"], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let logs = "";
  proc.stderr.on("data", (d) => (logs += d));
  let out = "";
  proc.stdout.on("data", (d) => (out += d));
  await until(() => /listening on/.test(out) || proc.exitCode !== null, "the server to start", 15000);
  assert.match(out, /listening on http:\/\/127\.0\.0\.1:(\d+)/, logs);
  const port = Number(out.match(/:(\d+)/)[1]);
  assert.match(logs, /at most 44 connections: the open-file limit is 300/);
  const sockets = [];
  try {
    // Idle TCP connections, each a descriptor in the server, until accept fails.
    for (let i = 0; i < limit + 20; i++) {
      const s = net.connect({ port, host: "127.0.0.1" });
      s.on("error", () => {});
      sockets.push(s);
      await once(s, "connect");
    }
    await until(() => /cannot accept connections/.test(logs), "the accept failure to be logged", 10000);
    for (const s of sockets) s.destroy();
    let status = 0;
    for (let i = 0; i < 100 && status !== 200; i++) {
      status = await fetch(`http://127.0.0.1:${port}/health`).then((r) => r.status, () => 0);
      if (status !== 200) await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(status, 200, "serves again once descriptors are free");
    await until(() => /accepting connections again/.test(logs), "the recovery to be logged");
    assert.equal(logs.match(/cannot accept connections/g).length, 1, "logged once");
  } finally {
    for (const s of sockets) s.destroy();
    proc.kill("SIGTERM");
    const [code] = await once(proc, "exit");
    assert.equal(code, 0, logs);
  }
});
