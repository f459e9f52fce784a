// Protects the other meetings from one hostile client: malformed packets, wrong types, huge
// frames, bursts and floods, signals across rooms, binary frames, handshakes past the caps,
// slowloris and foreign origins. In every test a witness pair in a room of its own keeps
// signalling, and each of its probes must arrive within 1 s while the attack runs; the
// refusals must show up in /metrics.
import { test, before, after, afterEach } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import http from "node:http";
import WebSocket from "ws";
import { once } from "node:events";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { isRoot, createLan, serveIn, spawnIn, runIn, lineMatching } from "./lan.mjs";
import {
  startServer, connected, connect, join, waitFor, closeAll, record, until, withWitness, wsConnect, metrics, refused,
} from "./fixture.mjs";

let server;
before(async () => (server = await startServer(["--header-timeout", "1s"])));
after(async () => assert.equal(await server.stop(), 0));
afterEach(closeAll);

const WITNESS_PROBE = path.join(path.dirname(fileURLToPath(import.meta.url)), "../lan/witness.mjs");
const wsUrl = () => server.url.replace(/^http/, "ws");

/** A raw Engine.IO websocket, past the Engine.IO open packet. */
async function rawEngineIo() {
  const ws = new WebSocket(`${wsUrl()}/socket.io/?EIO=4&transport=websocket`);
  const [open] = await once(ws, "message");
  assert.match(open.toString(), /^0\{/);
  return ws;
}

async function healthy() {
  const res = await fetch(`${server.url}/health`);
  assert.equal(res.status, 200);
}

test("malformed Engine.IO and Socket.IO packets are refused without harm", async () => {
  await withWitness(server.url, async () => {
    const garbage = [
      "", "9", "4", "42", "42[", '42["signal"', "4{}", "40/nowhere,", "41", "44{", "45-[]", "451-[\"x\",{\"_placeholder\":true,\"num\":0}]",
      "42[1,2,3]", '42["join-room",', "42" + "[".repeat(5000), "2probe", "6", "\u0000\uffff", "42[\"signal\",{\"to\":{},\"signal\":1}]",
    ];
    for (const connectFirst of [false, true]) {
      const ws = await rawEngineIo();
      const closed = once(ws, "close");
      if (connectFirst) ws.send("40");
      for (const packet of garbage) if (ws.readyState === WebSocket.OPEN) ws.send(packet);
      // Each raw connection is either closed by the server or keeps getting pings; either
      // way the server answers others.
      await Promise.race([closed, new Promise((r) => setTimeout(r, 300))]);
      ws.terminate();
    }
    const post = await fetch(`${server.url}/socket.io/?EIO=4&transport=polling&sid=nonexistent`, { method: "POST", body: "42[" });
    assert.ok(post.status >= 400, `bad polling POST: ${post.status}`);
    await healthy();
  });
});

test("wrong JSON types in every field each get an error, nothing else", async () => {
  await withWitness(server.url, async () => {
    const s = await connected(server.url);
    const errors = record(s, "error");
    const inits = record(s, "init-users");
    const before = await refused(server.url, "validation");
    const values = [null, 1, -1.5, true, [], {}, [1], { a: 1 }, ""];
    let sent = 0;
    for (const v of values) {
      s.emit("join-room", { roomId: v, userName: "Ann" });
      s.emit("join-room", { roomId: "r", userName: v });
      s.emit("join-room", v);
      s.emit("signal", { to: v, signal: { sdp: 1 } });
      s.emit("signal", v);
      sent += 5;
    }
    s.emit("signal", { to: "AAAAAAAAAAAAAAAA" }); // no signal at all
    sent += 1;
    await until(() => errors.length >= sent, `${sent} errors`);
    assert.equal(inits.length, 0);
    assert.ok(errors.every((e) => typeof e === "string" && e.length > 0));
    // Signals from a peer in no room are routing refusals; every other one is a validation one.
    assert.ok((await refused(server.url, "validation")) - before >= sent - values.length, "validation refusals counted");
    await healthy();
  });
});

test("oversized names, room ids and signals are refused with an error", async () => {
  await withWitness(server.url, async () => {
    const s = await connected(server.url);
    const errors = record(s, "error");
    s.emit("join-room", { roomId: "r".repeat(129), userName: "Ann" });
    s.emit("join-room", { roomId: "r", userName: "n".repeat(65) });
    s.emit("join-room", { roomId: "r".repeat(100_000), userName: "n".repeat(100_000) });
    await until(() => errors.length >= 3, "3 errors");
    assert.match(errors[0], /roomId/);
    assert.match(errors[1], /userName/);
    const [a, b] = [s, await connected(server.url)];
    await join(a, "big", "A");
    await join(b, "big", "B");
    const before = await refused(server.url, "size");
    const got = record(b, "signal");
    a.emit("signal", { to: b.id, signal: "x".repeat(70 * 1024) });
    await until(() => errors.length >= 4, "the size error");
    assert.match(errors[3], /over the .*limit/);
    assert.equal(got.length, 0);
    assert.equal(await refused(server.url, "size"), before + 1);
  });
});

test("2 MB frames close only that connection, on both transports", async () => {
  await withWitness(server.url, async () => {
    const s = await connected(server.url);
    const gone = waitFor(s, "disconnect");
    s.emit("signal", { to: "AAAAAAAAAAAAAAAA", signal: "x".repeat(2 * 1024 * 1024) });
    await gone;
    const w = await wsConnect(server.url);
    const closed = once(w.ws, "close");
    w.ws.send(JSON.stringify({ event: "signal", data: { signal: "x".repeat(2 * 1024 * 1024) } }));
    const [code] = await closed;
    assert.equal(code, 1009, "message too big");
    await healthy();
  });
});

test("a 10,000-signal burst is rate limited and does not slow other rooms", async () => {
  await withWitness(server.url, async () => {
    const a = await connected(server.url);
    const b = await connected(server.url);
    await join(a, "burst", "A");
    await join(b, "burst", "B");
    const errors = record(a, "error");
    const got = record(b, "signal");
    const before = await refused(server.url, "rate");
    for (let i = 0; i < 10_000; i++) {
      a.emit("signal", { to: b.id, signal: { i } });
      // B lives in this same process: let it read, or the server rightly drops it as stuck.
      if (i % 50 === 49) await new Promise((r) => setImmediate(r));
    }
    await until(() => errors.length >= 1, "a rate-limit error");
    assert.match(errors[0], /too many events/);
    // Every one of the 10,000 is accounted for: relayed to B, or refused and counted.
    let refusedNow = 0;
    for (let i = 0; i < 400 && refusedNow + got.length < 10_000; i++) {
      await new Promise((r) => setTimeout(r, 25));
      refusedNow = (await refused(server.url, "rate")) - before;
    }
    assert.equal(refusedNow + got.length, 10_000);
    assert.ok(got.length >= 1000, `the burst allowance passed: ${got.length}`);
    assert.ok(got.length <= 2500, `at most the burst plus the refill passed: ${got.length}`);
    assert.ok(errors.length <= 10, `at most one rate error a second: ${errors.length}`);
  });
});

test("signals to peers in other rooms and before joining are refused and not delivered", async () => {
  await withWitness(server.url, async () => {
    const outsider = await connected(server.url);
    const [x, y] = [await connected(server.url), await connected(server.url)];
    await join(x, "other", "X");
    await join(y, "mine", "Y");
    const errors = record(outsider, "error");
    const xGot = record(x, "signal");
    const before = await refused(server.url, "routing");
    outsider.emit("signal", { to: x.id, signal: "before join" });
    await until(() => errors.length === 1, "the not-in-room error");
    assert.match(errors[0], /join a room/);
    const yErrors = record(y, "error");
    y.emit("signal", { to: x.id, signal: "across rooms" });
    await until(() => yErrors.length === 1, "the other-room error");
    assert.match(yErrors[0], /not in your room/);
    assert.equal(xGot.length, 0);
    assert.equal(await refused(server.url, "routing"), before + 2);
  });
});

test("a join/leave flood is handled in order and leaves no room behind", async () => {
  await withWitness(server.url, async () => {
    const s = await connected(server.url);
    const watcher = await connected(server.url);
    await join(watcher, "flood-0", "Watcher");
    const inits = record(s, "init-users");
    for (let i = 0; i < 450; i++) {
      s.emit("join-room", { roomId: `flood-${i % 7}`, userName: "F" });
      s.emit("leave-room");
    }
    await until(() => inits.length === 450, "450 init-users");
    const rooms = (await (await fetch(`${server.url}/api/rooms`)).json()).rooms.map((r) => r.id);
    assert.deepEqual(rooms.filter((r) => r.startsWith("flood-")), ["flood-0"], "only the watcher's room is left");
  });
});

test("binary payloads get an error on both transports and the connection stays", async () => {
  await withWitness(server.url, async () => {
    const s = await connected(server.url);
    const errors = record(s, "error");
    s.emit("signal", { to: "AAAAAAAAAAAAAAAA", signal: Buffer.from([1, 2, 3]) });
    await until(() => errors.length === 1, "the binary error");
    assert.match(errors[0], /binary/);
    const w = await wsConnect(server.url);
    const err = w.next("error");
    w.ws.send(Buffer.from([0xde, 0xad, 0xbe, 0xef]), { binary: true });
    assert.match(await err, /binary/);
    const init = w.next("init-users");
    w.send("join-room", { roomId: "still", userName: "W" });
    assert.deepEqual(await init, []);
    w.close();
  });
});

test("handshakes past the per-address cap and the connection cap get 503; others still get in", async () => {
  const capped = await startServer(["--max-connections", "8", "--max-connections-per-address", "3"]);
  try {
    await withWitness(capped.url, async () => {
      // The witness holds 2 of 127.0.0.1's 3 slots.
      const one = await connected(capped.url);
      const status = (headers = {}, localAddress = "127.0.0.1") =>
        new Promise((resolve, reject) => {
          const req = net.connect({ port: capped.port, host: "127.0.0.1", localAddress }, () => {
            const extra = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join("");
            req.write(`GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: 127.0.0.1\r\n${extra}Connection: close\r\n\r\n`);
          });
          let text = "";
          req.on("data", (d) => (text += d));
          req.on("end", () => resolve(Number(text.split(" ")[1])));
          req.on("error", reject);
        });
      assert.equal(await status(), 503, "127.0.0.1 is at its 3");
      assert.equal(await status({ "X-Forwarded-For": "10.9.9.9", "X-Real-IP": "10.9.9.9" }), 503, "headers are not trusted");
      const body = await (await fetch(`${capped.url}/socket.io/?EIO=4&transport=polling`)).text();
      assert.match(body, /too many connections from 127\.0\.0\.1/);
      // Polling handshakes from other loopback addresses are sessions too: they hold slots.
      const held = [];
      for (const addr of ["127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5", "127.0.0.6"]) {
        const code = await status({}, addr);
        if (code === 200) held.push(addr);
      }
      assert.equal(held.length, 5, "five more sessions fit under the cap of 8");
      assert.equal(await status({}, "127.0.0.7"), 503, "the server is full");
      assert.ok((await refused(capped.url, "address_full")) >= 3);
      assert.ok((await refused(capped.url, "server_full")) >= 1);
      // One peer leaves: its slot comes back once the server has seen it go.
      one.close();
      let code = 503;
      for (let i = 0; i < 100 && code === 503; i++) {
        code = await status({}, "127.0.0.7");
        if (code === 503) await new Promise((r) => setTimeout(r, 50));
      }
      assert.equal(code, 200, "a slot freed by a departure is given again");
    });
    const logs = capped.logs();
    assert.equal(logs.match(/the server is full/g)?.length, 1, "one log line per episode");
    assert.equal(logs.match(/too many connections from one address/g)?.length, 1);
  } finally {
    closeAll();
    assert.equal(await capped.stop(), 0);
  }
});

test("slowloris: headers trickled a byte at a time are cut off after the header timeout", async () => {
  await withWitness(server.url, async () => {
    const sock = net.connect({ port: server.port, host: "127.0.0.1" });
    sock.on("error", () => {}); // the cut may come as a reset while a byte is in flight
    await once(sock, "connect");
    const request = "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + "a".repeat(200) + "\r\n\r\n";
    let sent = 0;
    // Not events.once: it would reject on the reset's 'error', which is a fine way to be cut off.
    const closed = new Promise((resolve) => sock.on("close", resolve));
    const started = Date.now();
    const trickle = setInterval(() => {
      if (sent < request.length && !sock.destroyed) sock.write(request[sent++]);
    }, 100);
    trickle.unref(); // never what keeps the test process alive
    try {
      await closed;
    } finally {
      clearInterval(trickle);
      sock.destroy();
    }
    const took = Date.now() - started;
    assert.ok(sent < request.length, `cut off before the headers were complete (${sent} bytes sent)`);
    assert.ok(took < 5000, `cut off after ${took} ms`);
    // A silent connection is cut off too.
    const silent = net.connect({ port: server.port, host: "127.0.0.1" });
    silent.on("error", () => {});
    await new Promise((resolve) => silent.on("close", resolve));
  });
});

test("cross-origin handshakes get 403 on both transports and are counted", async () => {
  await withWitness(server.url, async () => {
    const before = await refused(server.url, "origin");
    const polling = await fetch(`${server.url}/socket.io/?EIO=4&transport=polling`, { headers: { Origin: "http://evil.example" } });
    assert.equal(polling.status, 403);
    const ws = new WebSocket(`${wsUrl()}/ws`, { headers: { Origin: "http://evil.example" } });
    const [, res] = await once(ws, "unexpected-response");
    assert.equal(res.statusCode, 403);
    const sio = connect(server.url, { extraHeaders: { Origin: "http://evil.example" } });
    await waitFor(sio, "connect_error");
    assert.equal(await refused(server.url, "origin"), before + 3);
  });
});

test("/metrics counts connections, rooms, joins and relays", async () => {
  const a = await connected(server.url);
  const b = await connected(server.url);
  const before = await metrics(server.url);
  await join(a, "metrics", "A");
  await join(b, "metrics", "B");
  const got = waitFor(b, "signal");
  a.emit("signal", { to: b.id, signal: "m" });
  await got;
  const now = await metrics(server.url);
  assert.ok(now['free_meetings_connections{transport="socketio"}'] >= 2);
  assert.ok(now.free_meetings_rooms >= 1);
  assert.equal(now.free_meetings_joins_total, before.free_meetings_joins_total + 2);
  assert.equal(now.free_meetings_signals_relayed_total, before.free_meetings_signals_relayed_total + 1);
  assert.equal(now.free_meetings_relay_latency_seconds_count, before.free_meetings_relay_latency_seconds_count + 1);
  const foreign = await new Promise((resolve, reject) =>
    http.get(`${server.url}/metrics`, { headers: { Host: "evil.example" } }, (res) => resolve(res.statusCode)).on("error", reject),
  );
  assert.equal(foreign, 403, "a rebinding host is refused as on the dashboard");
});

test("from another machine the dashboard, its API and /metrics answer 403 without a token", { skip: isRoot ? false : "needs root to create network namespaces (CI runs as root)" }, async () => {
  const lan = createLan({ srv: "10.79.0.1", evil: "10.79.0.2" });
  try {
    const served = await serveIn(lan.ns("srv"), ["--bind", "0.0.0.0", "--port", "5000", "--no-mdns"]);
    try {
      // The witness runs inside the server's namespace (its own loopback).
      const probe = spawnIn(lan.ns("srv"), "node", [WITNESS_PROBE, "http://127.0.0.1:5000"]);
      await lineMatching(probe.out, /^probing/);
      for (const route of ["/dashboard/", "/api/status", "/api/rooms", "/api/events", "/metrics"]) {
        const res = await runIn(lan.ns("evil"), "node", ["-e", `fetch("http://10.79.0.1:5000${route}").then((r) => console.log(r.status))`]);
        assert.equal(res.stdout.trim(), "403", `${route}: ${res.stdout}${res.stderr}`);
        const spoofed = await runIn(lan.ns("evil"), "node", ["-e", `fetch("http://10.79.0.1:5000${route}", { headers: { "X-Forwarded-For": "127.0.0.1" } }).then((r) => console.log(r.status))`]);
        assert.equal(spoofed.stdout.trim(), "403", `${route} with X-Forwarded-For: ${spoofed.stdout}`);
      }
      probe.proc.kill("SIGINT");
      assert.equal(await probe.exited, 0, probe.out.stdout + probe.out.stderr);
      assert.match(probe.out.stdout, /every probe within 1 s/);
    } finally {
      assert.equal(await served.stop(), 0);
    }
  } finally {
    lan.destroy();
  }
});
