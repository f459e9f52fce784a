// Protects the HTTP surface in front of the transports: web pages of other origins get 403 on
// every transport (counted and logged) while allow-listed ones get in with CORS headers and `*`
// lets anyone in; a client that trickles or withholds its headers is cut off after the header
// timeout; /health reports counts; /metrics counts what happens; a request naming another host
// than the server's own (DNS rebinding) gets 421 everywhere; every page carries its security
// headers (CSP, nosniff, no referrer, no framing).
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { once } from "node:events";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { after, afterEach, before, test } from "node:test";
import WebSocket from "ws";
import {
  BIN,
  client,
  closeAll,
  get,
  join,
  lineMatching,
  machineName,
  metrics,
  refused,
  room,
  ROOT,
  startServer,
  UPGRADE_HEADERS,
  withWitness,
} from "./fixture.mjs";

let server;
before(async () => (server = await startServer(["--header-timeout", "1s"])));
after(async () => assert.equal(await server.stop(), 0));
afterEach(closeAll);

const polling = (url) => `${url}/socket.io/?EIO=4&transport=polling`;

test("handshakes from other origins get 403 on every transport, counted and logged; same origin and native clients get in", async () => {
  await withWitness(server.url, async () => {
    const before = await refused(server.url, "origin");
    const evil = { Origin: "http://evil.example" };
    assert.equal((await get(polling(server.url), evil)).status, 403);
    const ws = new WebSocket(`${server.url.replace(/^http/, "ws")}/ws`, { headers: evil });
    const [, res] = await once(ws, "unexpected-response");
    assert.equal(res.statusCode, 403);
    const sio = await client(server.url, "socket.io", { wait: false, extraHeaders: evil });
    assert.ok((await sio.next("connect_error")) instanceof Error);
    assert.equal((await get(`${server.url}/ws`, { ...evil, ...UPGRADE_HEADERS })).status, 403);
    assert.equal(await refused(server.url, "origin"), before + 4);
    assert.match(server.logs(), /origin.*http:\/\/evil\.example/);
    const host = new URL(server.url).host;
    assert.equal((await get(polling(server.url), { Origin: `http://${host}` })).status, 200, "same origin");
    assert.equal((await get(polling(server.url))).status, 200, "no Origin: a native client");
  });
});

test("allow-listed origins get in, with CORS headers; * allows any", async () => {
  const listed = await startServer(["--allowed-origin", "http://localhost:3000,https://app.example"]);
  try {
    const ok = await get(polling(listed.url), { Origin: "http://localhost:3000" });
    assert.equal(ok.status, 200);
    assert.equal(ok.headers["access-control-allow-origin"], "http://localhost:3000");
    assert.equal((await get(polling(listed.url), { Origin: "https://app.example" })).status, 200);
    const foreign = await get(polling(listed.url), { Origin: "http://localhost:3001" });
    assert.equal(foreign.status, 403);
    assert.equal(foreign.headers["access-control-allow-origin"], undefined);
    const c = await client(listed.url, "socket.io", { extraHeaders: { Origin: "http://localhost:3000" } });
    assert.deepEqual(await join(c, "cors", "Ann"), []);
  } finally {
    closeAll();
    assert.equal(await listed.stop(), 0);
  }
  const any = await startServer([], { env: { CLIENT_ORIGIN: "*" } });
  try {
    const res = await get(polling(any.url), { Origin: "http://anything.example" });
    assert.equal(res.status, 200);
    assert.equal(res.headers["access-control-allow-origin"], "*");
  } finally {
    assert.equal(await any.stop(), 0);
  }
});

test("slowloris: headers trickled a byte at a time are cut off after the header timeout, and so is a silent socket", async () => {
  await withWitness(server.url, async () => {
    const sock = net.connect({ port: server.port, host: "127.0.0.1" });
    sock.on("error", () => {}); // the cut may come as a reset while a byte is in flight
    await once(sock, "connect");
    const request = `GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ${"a".repeat(200)}\r\n\r\n`;
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
    const silent = net.connect({ port: server.port, host: "127.0.0.1" });
    silent.on("error", () => {});
    await new Promise((resolve) => silent.on("close", resolve));
  });
});

test("/health reports status, version and counts", async () => {
  await room(server.url, "health", ["A", "B"]);
  const res = await fetch(`${server.url}/health`);
  assert.equal(res.status, 200);
  const body = await res.json();
  assert.equal(body.status, "ok");
  assert.match(body.version, /^\d+\.\d+\.\d+/);
  assert.ok(body.peers >= 2 && body.rooms >= 1, JSON.stringify(body));
  // Where the media forwarder is reached now (the fixture's servers listen on 127.0.0.1).
  if (!process.env.FM_CLUSTER) assert.match(body.media.addrs.join(), /^127\.0\.0\.1:\d+$/, JSON.stringify(body));
});

test("/metrics counts connections, rooms, joins and relays, and refuses a rebinding host", async () => {
  const [a, b] = [await client(server.url), await client(server.url, "ws")];
  const before = await metrics(server.url);
  await join(a, "metrics", "A");
  await join(b, "metrics", "B");
  const got = b.next("signal");
  a.emit("signal", { to: b.id, signal: "m" });
  await got;
  const now = await metrics(server.url);
  assert.ok(now['free_meetings_connections{transport="socketio"}'] >= 1);
  assert.ok(now['free_meetings_connections{transport="ws"}'] >= 1);
  assert.ok(now.free_meetings_rooms >= 1);
  assert.equal(now.free_meetings_joins_total, before.free_meetings_joins_total + 2);
  assert.equal(now.free_meetings_signals_relayed_total, before.free_meetings_signals_relayed_total + 1);
  assert.equal(now.free_meetings_relay_latency_seconds_count, before.free_meetings_relay_latency_seconds_count + 1);
  assert.equal((await get(`${server.url}/metrics`, { Host: "evil.example" })).status, 421, "a foreign name");
});

test("/metrics has a token of its own, the dashboard's does not open it, and no label holds a room's or a person's name", async () => {
  const own = await startServer(["--metrics-token", "m0nitor", "--dashboard-token", "d4shboard"]);
  try {
    const ann = await client(own.url);
    await join(ann, "succession-plan", "Zelda Quartermain");
    const bearer = (token) => ({ authorization: `Bearer ${token}` });
    assert.equal((await get(`${own.url}/metrics`)).status, 403, "no token, even on this machine");
    assert.equal((await get(`${own.url}/metrics`, bearer("d4shboard"))).status, 403, "the dashboard's token");
    assert.equal(
      (await get(`${own.url}/api/rooms`, bearer("m0nitor"))).status,
      403,
      "the metrics token opens no names",
    );
    const answer = await get(`${own.url}/metrics`, bearer("m0nitor"));
    assert.equal(answer.status, 200);
    const text = answer.body;
    assert.ok(!text.includes("succession") && !text.includes("Zelda"), "no name in the figures");
    assert.ok(!text.includes(ann.id), "no peer id either");
    // Every label is one of a fixed set, so the number of series is bounded.
    const labels = new Set([...text.matchAll(/[{,]([a-z_]+)="/g)].map((m) => m[1]));
    for (const label of labels)
      assert.ok(["transport", "reason", "media", "worker", "direction", "version", "le"].includes(label), label);
    assert.match(text, /^free_meetings_build_info\{version="\d+\.\d+\.\d+"\} 1$/m);
    for (const figure of [
      "process_cpu_seconds_total",
      "process_resident_memory_bytes",
      "process_open_fds",
      "process_max_fds",
    ])
      assert.match(text, new RegExp(`^${figure} \\d`, "m"), figure);
    assert.match(text, /^free_meetings_media_sent_bytes_total \d+$/m, "media counted in bytes");
  } finally {
    await own.stop();
  }
});

test("with TLS on, a browser's page request over plain HTTP goes to HTTPS; the transports, /health and loopback stay on HTTP; /trust and tls export give the certificate", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "fm-https-first-"));
  const tls = await startServer(["--tls", "--tls-port", "0", "--tls-dir", dir]);
  try {
    // Printed right after the HTTP line startServer waits for: waited for too.
    const [, httpsPort, fingerprint] = (
      await lineMatching(tls, /^HTTPS on https:\/\/[\d.]+:(\d+) \(certificate SHA-256 ([0-9A-F:]+)\)/)
    ).match(/:(\d+) \(certificate SHA-256 ([0-9A-F:]+)\)/);
    const https = Number(httpsPort);
    const page = { Accept: "text/html,application/xhtml+xml,*/*;q=0.8" };
    const lan = "192.0.2.10";
    const moved = await get(`${tls.url}/r/standup?lang=de`, { ...page, Host: `${lan}:${tls.port}` });
    assert.equal(moved.status, 308);
    assert.equal(moved.headers.location, `https://${lan}:${https}/r/standup?lang=de`);
    assert.equal((await get(`${tls.url}/`, { ...page, Host: `${lan}:${tls.port}` })).status, 308);
    // Not pages, or not a browser navigating: answered on HTTP as before.
    assert.equal((await get(polling(tls.url), { Host: `${lan}:${tls.port}` })).status, 200, "Socket.IO polling");
    assert.equal((await get(`${tls.url}/health`, { ...page, Host: `${lan}:${tls.port}` })).status, 200);
    assert.equal((await get(`${tls.url}/r/standup`, { Host: `${lan}:${tls.port}`, Accept: "*/*" })).status, 200);
    assert.equal((await get(`${tls.url}/r/standup`, page)).status, 200, "loopback is a secure context already");
    const c = await client(tls.url, "ws");
    await join(c, "still-http", "Ann");

    // /trust shows the fingerprint the server printed and offers the very certificate it serves;
    // `tls export` writes the same one.
    const trust = await get(`${tls.url}/trust`, page);
    assert.equal(trust.status, 200);
    assert.ok(trust.body.includes(fingerprint), "the fingerprint on the page");
    assert.match(trust.headers["content-security-policy"], /script-src 'self'/);
    for (const system of ["Windows", "macOS", "Linux", "Android", "iPhone"])
      assert.ok(trust.body.includes(system), system);
    const certificate = await get(`${tls.url}/trust/certificate.crt`);
    assert.equal(certificate.headers["content-type"], "application/x-x509-ca-cert");
    assert.equal(certificate.body, fs.readFileSync(path.join(dir, "cert.pem"), "utf8"));
    const exported = spawnSync(BIN, ["tls", "export", "--tls-dir", dir], { encoding: "utf8" });
    assert.equal(exported.status, 0, exported.stderr);
    assert.equal(exported.stdout, certificate.body);
    assert.equal(exported.stderr.trim(), `certificate SHA-256 ${fingerprint}`);
    const none = spawnSync(BIN, ["tls", "export", "--tls-dir", path.join(dir, "nowhere")], { encoding: "utf8" });
    assert.equal(none.status, 2);
    assert.match(none.stderr, /no certificate at .*nowhere\/cert\.pem.*serve --tls/);
  } finally {
    await tls.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
  assert.equal((await get(`${server.url}/trust`)).status, 404, "no /trust without TLS");
  // With --https-redirect off, or without TLS, nothing is redirected.
  const dir2 = fs.mkdtempSync(path.join(os.tmpdir(), "fm-https-off-"));
  const off = await startServer(["--tls", "--tls-port", "0", "--tls-dir", dir2, "--https-redirect", "off"]);
  try {
    const asked = await get(`${off.url}/r/standup`, { Accept: "text/html", Host: `192.0.2.10:${off.port}` });
    assert.equal(asked.status, 200);
  } finally {
    await off.stop();
    fs.rmSync(dir2, { recursive: true, force: true });
  }
  const page = await get(`${server.url}/r/standup`, { Accept: "text/html", Host: `192.0.2.10:${server.port}` });
  assert.equal(page.status, 200);
});

test("DNS rebinding: a request naming another host gets 421 on the pages, polling, Socket.IO websocket and /ws, counted and logged once with the option; the server's own names and --public-name get in", async () => {
  const named = await startServer(["--public-name", "meet.example.org"]);
  try {
    const port = named.port;
    // A page of http://evil.example:PORT whose name now points at the server: Host and Origin agree.
    const rebound = { Host: `evil.example:${port}`, Origin: `http://evil.example:${port}` };
    const before = await refused(named.url, "host");
    const started = Date.now();
    assert.equal((await get(polling(named.url), rebound)).status, 421, "polling");
    assert.equal((await get(polling(named.url), { Host: `evil.example:${port}` })).status, 421, "polling, no Origin");
    const upgrade = { ...rebound, ...UPGRADE_HEADERS };
    assert.equal((await get(`${named.url}/socket.io/?EIO=4&transport=websocket`, upgrade)).status, 421, "websocket");
    assert.equal((await get(`${named.url}/ws`, upgrade)).status, 421, "/ws");
    const ws = new WebSocket(`${named.url.replace(/^http/, "ws")}/ws`, { headers: rebound });
    const [, res] = await once(ws, "unexpected-response");
    assert.equal(res.statusCode, 421, "/ws with the ws client");
    for (const page of ["/", "/r/standup", "/meet/main.js", "/dashboard/", "/health"])
      assert.equal((await get(`${named.url}${page}`, rebound)).status, 421, page);
    assert.equal((await refused(named.url, "host")) - before, 10);
    // Logged with the option that would allow it, at most once per 10 s however many come.
    const said = named
      .logs()
      .split("\n")
      .filter((l) => l.includes("evil.example"));
    const most = 1 + Math.floor((Date.now() - started) / 10_000);
    assert.ok(said.length >= 1 && said.length <= most, said.join("\n"));
    assert.match(said[0], /--public-name evil\.example/);

    // Its own names: any address, localhost, the host name (plain and .local), --public-name.
    for (const host of [
      `127.0.0.1:${port}`,
      `localhost:${port}`,
      `${machineName()}:${port}`,
      `${machineName()}.local:${port}`,
      `meet.example.org:${port}`,
      `MEET.example.org.`,
    ]) {
      const own = { Host: host, Origin: `http://${host}` };
      const opened = await get(polling(named.url), own);
      assert.equal(opened.status, 200, host);
      assert.match(opened.body, /^0\{"sid"/, host);
      assert.equal((await get(`${named.url}/`, own)).status, 200, host);
    }
    // A native client (no Origin) connecting by address, on both transports.
    await room(named.url, "by-address", ["A", "B"]);
    await room(named.url, "by-address-ws", ["A", "B"], "ws");
  } finally {
    closeAll();
    assert.equal(await named.stop(), 0);
  }
});

test("every page carries its security headers: a strict CSP on the built-in pages, none but the given one on --static-dir", async () => {
  for (const path of ["/", "/r/standup", "/dashboard/"]) {
    const { status, headers } = await get(`${server.url}${path}`);
    assert.equal(status, 200, path);
    const csp = headers["content-security-policy"] ?? "";
    for (const rule of ["script-src 'self'", "frame-ancestors 'none'", "connect-src 'self'", "object-src 'none'"])
      assert.ok(csp.includes(rule), `${path}: ${rule} in ${csp}`);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/, path);
    assert.equal(headers["x-content-type-options"], "nosniff", path);
    assert.equal(headers["referrer-policy"], "no-referrer", path);
    assert.equal(headers["x-frame-options"], "DENY", path);
  }
  const pages = path.join(ROOT, "tests/js/pages");
  fs.copyFileSync(path.join(pages, "peer.html"), path.join(pages, "index.html"));
  try {
    const plain = await startServer(["--static-dir", pages]);
    const given = await startServer(["--static-dir", pages, "--static-csp", "default-src 'self'"]);
    try {
      const a = await get(`${plain.url}/`);
      assert.equal(a.status, 200);
      assert.equal(a.headers["content-security-policy"], undefined, "no policy it cannot know");
      assert.equal(a.headers["x-content-type-options"], "nosniff");
      assert.equal(a.headers["referrer-policy"], "no-referrer");
      const b = await get(`${given.url}/`);
      assert.equal(b.headers["content-security-policy"], "default-src 'self'");
    } finally {
      assert.equal(await plain.stop(), 0);
      assert.equal(await given.stop(), 0);
    }
  } finally {
    fs.rmSync(path.join(pages, "index.html"), { force: true });
  }
});
