// The one fixture of the end-to-end tests: starting the real binaries, the clients (npm
// socket.io-client and ws behind one interface, so a test body runs on both transports), the
// simulated LAN (network namespaces), the meeting page in Chromium, and the helpers every file
// shares. Tests import from here; nothing is copied between them.
import assert from "node:assert/strict";
import { execFile, execFileSync, spawn } from "node:child_process";
import { once } from "node:events";
import fs from "node:fs";
import http from "node:http";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import { io } from "socket.io-client";
import WebSocket from "ws";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const TARGET = process.env.CARGO_TARGET_DIR || path.join(ROOT, "target");
/** The headless server and the desktop app, as built by the test command. */
export const BIN = process.env.FM_BIN || path.join(TARGET, "debug", "free-meetings");
export const DESKTOP_BIN = process.env.FM_DESKTOP_BIN || path.join(TARGET, "debug", "free-meetings-desktop");
/** Where the tests' screenshots go (the README shows them). */
export const SHOTS = path.join(ROOT, "docs");

/** Debian's Chromium, as the tests launch it: no network of its own beyond the test's. */
export const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
export const CHROMIUM_FLAGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  // Let WebRTC hand out host candidates unobfuscated (no mDNS .local names in a test network).
  "--disable-features=WebRtcHideLocalIpsWithMdns",
];

/** Default time any single awaited event may take before a test fails. */
export const TIMEOUT_MS = 5000;

/** The request headers of a WebSocket upgrade, for raw HTTP probes of the handshake. */
export const UPGRADE_HEADERS = {
  Connection: "Upgrade",
  Upgrade: "websocket",
  "Sec-WebSocket-Version": "13",
  "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
};

/** Both transports, for tests whose body runs on each. */
export const TRANSPORTS = ["socket.io", "ws"];

/**
 * Waits for time itself, never for an event: pacing a load loop, or letting a time-based limit
 * (the rate bucket) refill. Anything that can be awaited is awaited instead.
 */
export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Resolves with the first truthy value of `check()` (sync or async), checked every `every` ms;
 * throws naming `what` after `ms`. For state that announces no event: an in-memory list, a
 * counter in /metrics, a window title, a port.
 */
export async function until(check, what, { ms = TIMEOUT_MS, every = 5 } = {}) {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(every);
  }
}

/** Spawns a command and collects its output: {proc, out: {stdout, stderr}, exited}. */
export function spawnCollecting(command, args, options = {}) {
  const proc = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"], ...options });
  const out = { stdout: "", stderr: "" };
  proc.stdout.on("data", (d) => (out.stdout += d));
  proc.stderr.on("data", (d) => (out.stderr += d));
  const exited = new Promise((resolve) => proc.on("exit", (code, signal) => resolve(code ?? signal)));
  return { proc, out, exited };
}

/**
 * Resolves with the first line a spawned process (from `spawnCollecting`) printed on `stream`
 * that matches `pattern`, as soon as it is printed; rejects if the process exits first.
 */
export function lineMatching({ proc, out }, pattern, { ms = 15000, stream = "stdout" } = {}) {
  return new Promise((resolve, reject) => {
    const find = () => out[stream].split("\n").find((line) => pattern.test(line));
    const done = (settle) => {
      clearTimeout(timer);
      proc[stream].off("data", onData);
      proc.off("exit", onExit);
      settle();
    };
    // `out` is appended by a listener added at spawn, before this one: it holds the chunk.
    const onData = () => {
      const line = find();
      if (line) done(() => resolve(line));
    };
    const onExit = (code) =>
      done(() => reject(new Error(`exited (${code}) before printing ${pattern}:\n${out.stdout}\n${out.stderr}`)));
    const timer = setTimeout(
      () =>
        done(() => reject(new Error(`nothing matching ${pattern} within ${ms} ms in:\n${out.stdout}\n${out.stderr}`))),
      ms,
    );
    proc[stream].on("data", onData);
    proc.on("exit", onExit);
    onData();
  });
}

/**
 * Starts `free-meetings serve` on free loopback ports with extra args; resolves once it prints
 * its address. `prlimit` caps its open files (`--nofile`) to test running out of descriptors.
 */
export async function startServer(args = [], options = {}) {
  return CLUSTER ? startBalancedCluster(args, { requireSpread: true }) : startNode(args, options);
}

/**
 * With FM_CLUSTER=haproxy, every `startServer` of the tests is three cluster nodes behind HAProxy
 * (deploy/haproxy.cfg) instead of one process: how the test command runs the contract and rule
 * tests a second time, unchanged. FM_CLUSTER=redis-cluster: the same, with the nodes' Redis a
 * Redis Cluster of three primaries (`startRedisCluster`).
 */
const CLUSTER = ["haproxy", "redis-cluster"].includes(process.env.FM_CLUSTER);
const ON_REDIS_CLUSTER = process.env.FM_CLUSTER === "redis-cluster";

/** A meetings file of its own for each server (`--meetings-file`): servers run side by side, and
 * none may see another's private meetings, nor the user's. */
export function meetingsFile() {
  return path.join(os.tmpdir(), `fm-meetings-${process.pid}-${Math.random().toString(16).slice(2)}.json`);
}

/** One `free-meetings serve` process (see `startServer`). */
export async function startNode(args = [], { env = {}, cwd = ROOT, prlimit } = {}) {
  // Port 0 for media too: tests run side by side.
  const serve = [BIN, "serve", "--bind", "127.0.0.1", "--port", "0", "--media-port", "0", "--no-mdns", ...args];
  const [command, ...commandArgs] = prlimit ? ["prlimit", `--nofile=${prlimit}:${prlimit}`, ...serve] : serve;
  const started = spawnCollecting(command, commandArgs, {
    cwd,
    env: { ...process.env, RUST_LOG: process.env.RUST_LOG || "info", MEETINGS_FILE: meetingsFile(), ...env },
  });
  const { proc, out } = started;
  const line = await lineMatching(started, /listening on http:\/\/[\d.]+:\d+/).catch((error) => {
    throw new Error(`server did not start: ${error.message}`);
  });
  const url = line.match(/(http:\/\/[\d.]+:\d+)/)[1];
  return {
    url,
    port: Number(new URL(url).port),
    proc,
    out,
    logs: () => out.stderr,
    /** SIGTERM, then the exit code; anything but 0 throws with the server's log. */
    async stop() {
      let code = proc.exitCode;
      let signal = proc.signalCode;
      if (code === null && signal === null) {
        proc.kill("SIGTERM");
        [code, signal] = await once(proc, "exit");
      }
      if (code !== 0) throw new Error(`server exited with code ${code}, signal ${signal}:\n${out.stderr}`);
      return code;
    },
  };
}

/** A port free on loopback right now (for servers that cannot pick their own, like Redis). */
export async function freeLoopbackPort() {
  const probe = net.createServer().listen(0, "127.0.0.1");
  await once(probe, "listening");
  const { port } = probe.address();
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

/** A Redis of the test's own on loopback (Debian's redis-server, no persistence); on `port`
 * when given (to start it again where it was), with `extra` options (a password, TLS). */
export async function startRedis(port, extra = []) {
  port ??= await freeLoopbackPort();
  const started = spawnCollecting("redis-server", [
    "--port",
    String(port),
    "--bind",
    "127.0.0.1",
    "--save",
    "",
    "--appendonly",
    "no",
    ...extra,
  ]);
  await lineMatching(started, /Ready to accept connections/).catch((error) => {
    throw new Error(`redis-server did not start: ${error.message}: ${started.out.stdout}${started.out.stderr}`);
  });
  return { ...started, port, url: `redis://127.0.0.1:${port}/` };
}

/**
 * A Redis Cluster of `primaries` primaries on loopback (Debian's redis-server in cluster mode,
 * no persistence, no replicas), created with `redis-cli --cluster create`; resolves once every
 * node says `cluster_state:ok`; `extra` options for each server. `url` lists every node's address, comma-separated, as
 * `--cluster` takes them; `stop()` stops them all.
 */
export async function startRedisCluster(primaries = 3, extra = []) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "fm-redis-cluster-"));
  const servers = [];
  for (let i = 0; i < primaries; i++) {
    const port = await freeLoopbackPort();
    // The cluster bus port, chosen too: port + 10000, Redis's default, may be taken.
    const bus = await freeLoopbackPort();
    servers.push(
      await startRedis(port, [
        "--cluster-enabled",
        "yes",
        "--cluster-port",
        String(bus),
        "--cluster-config-file",
        path.join(dir, `nodes-${port}.conf`),
        "--dir",
        dir,
        ...extra,
      ]),
    );
  }
  const addresses = servers.map((s) => `127.0.0.1:${s.port}`);
  const created = spawnCollecting("redis-cli", ["--cluster", "create", ...addresses, "--cluster-yes"]);
  const [code] = await once(created.proc, "exit");
  if (code !== 0) throw new Error(`redis-cli --cluster create failed: ${created.out.stdout}${created.out.stderr}`);
  const state = (port) =>
    new Promise((resolve) =>
      execFile("redis-cli", ["-p", String(port), "cluster", "info"], (_, stdout) => resolve(stdout ?? "")),
    );
  await until(
    async () => (await Promise.all(servers.map((s) => state(s.port)))).every((i) => i.includes("cluster_state:ok")),
    "every Redis Cluster node to say cluster_state:ok",
    { ms: 20000, every: 100 },
  );
  return {
    servers,
    port: servers[0].port,
    url: servers.map((s) => s.url).join(","),
    proc: {
      kill(signal) {
        for (const s of servers) s.proc.kill(signal);
        fs.rmSync(dir, { recursive: true, force: true });
      },
    },
  };
}

/** `count` nodes of one cluster on `redis`, with `args` each. */
export async function startCluster(redis, count, args = []) {
  return Promise.all(Array.from({ length: count }, () => startNode(["--cluster", redis.url, ...args])));
}

/** The node URLs behind each balancer URL, so that `metrics` can add up the whole cluster. */
const balanced = new Map();

/**
 * Redis, three nodes and HAProxy with deploy/haproxy.cfg (its addresses replaced); resolves
 * once HAProxy has sent a request to every node (`redisUrls`: see below). `stop()` stops them all, and with
 * `requireSpread` fails if the clients of the run did not land on every node.
 */
export async function startBalancedCluster(
  args = [],
  { nodes = 3, config = "deploy/haproxy.cfg", requireSpread = false, redisUrls = null } = {},
) {
  const redis = ON_REDIS_CLUSTER ? await startRedisCluster() : await startRedis();
  // `redisUrls(redis)`: the Redis address each node is given (a test's proxy in front of it).
  const started = redisUrls
    ? await Promise.all((await redisUrls(redis)).map((url) => startNode(["--cluster", url, ...args])))
    : await startCluster(redis, nodes, args);
  const port = await freeLoopbackPort();
  const servers = started.map((n, i) => `    server node${i + 1} 127.0.0.1:${n.port} cookie node${i + 1}`).join("\n");
  const text = fs
    .readFileSync(path.join(ROOT, config), "utf8")
    .replace(/^\s*bind :80$/m, `    bind 127.0.0.1:${port}`)
    .replace(/^\s*server node1 .*$/m, servers)
    .replace(/^\s*server node\d+ .*\n/gm, (line) => (servers.includes(line.trim()) ? line : ""));
  const file = path.join(os.tmpdir(), `fm-haproxy-${port}.cfg`);
  fs.writeFileSync(file, text);
  const haproxy = spawnCollecting("haproxy", ["-db", "-f", file]);
  const url = `http://127.0.0.1:${port}`;
  const seen = new Set();
  await until(
    async () => {
      try {
        seen.add((await (await fetch(`${url}/health`)).json()).cluster.node);
      } catch {}
      return seen.size === nodes;
    },
    `HAProxy to reach all ${nodes} nodes`,
    { ms: 15000, every: 50 },
  ).catch((error) => {
    throw new Error(`${error.message}: ${haproxy.out.stdout}${haproxy.out.stderr}`);
  });
  balanced.set(
    url,
    started.map((n) => n.url),
  );
  return {
    url,
    port,
    redis,
    haproxy,
    nodes: started,
    logs: () => started.map((n) => n.logs()).join("\n"),
    async stop() {
      haproxy.proc.kill("SIGTERM");
      const spread = started.map((n) => (n.logs().match(/peer connected/g) ?? []).length);
      for (const node of started) await node.stop();
      redis.proc.kill("SIGTERM");
      balanced.delete(url);
      fs.rmSync(file, { force: true });
      if (requireSpread && spread.some((count) => count === 0))
        throw new Error(`clients did not spread over the nodes: ${spread}`);
      return 0;
    },
  };
}

/** This machine's host name as the server names itself (first label, lowercase, other
 * characters as hyphens): with `.local` appended, one of its own names. */
export function machineName() {
  const label = os
    .hostname()
    .split(".")[0]
    .toLowerCase()
    .replace(/[^a-z0-9]/g, "-")
    .slice(0, 63)
    .replace(/^-+|-+$/g, "");
  return label || "free-meetings";
}

/** A raw HTTP GET (any headers, e.g. a foreign Host): resolves with {status, headers, body}. */
export function get(url, headers = {}, options = {}) {
  return new Promise((resolve, reject) => {
    http
      .get(url, { headers, ...options }, (res) => {
        let body = "";
        res.on("data", (d) => (body += d));
        res.on("end", () => resolve({ status: res.statusCode, headers: res.headers, body }));
      })
      .on("error", reject);
  });
}

const clients = new Set();

/** Closes every client opened by this file's tests (for afterEach), and ends the threads of
 * `peerOnThread` peers, so that a failed test cannot keep its file's process alive. */
export function closeAll() {
  for (const c of clients) c.close();
  clients.clear();
  for (const worker of threads) worker.terminate();
  threads.clear();
}

/**
 * A client of either transport behind one interface: `id`, `emit(event, data)`,
 * `next(event)` (the next payload of `event`, listened for from this call on), `record(event)`
 * (a live list of every payload), `on(event, fn)` (returns its `off`), `closed()` (resolves
 * when the server ends the connection: the close code on /ws, the reason on Socket.IO),
 * `close()`, and `raw` (the socket.io-client socket or the ws WebSocket underneath).
 *
 * Socket.IO connects exactly as the original front-end does (websocket only) unless
 * `options.transports` says otherwise; `options.wait === false` returns before the handshake
 * ends (Socket.IO only: to send events the moment it connects), `options.connectWithin` is how
 * long the handshake may take (ms). Other options go to socket.io-client or ws.
 */
export async function client(url, transport = "socket.io", options = {}) {
  const c = transport === "ws" ? await wsClient(url, options) : await socketIoClient(url, options);
  clients.add(c);
  const close = c.close;
  c.close = () => {
    clients.delete(c);
    close();
  };
  return c;
}

/** A Socket.IO client, connected (shorthand for the many tests that use only that one). */
export const connected = (url, options = {}) => client(url, "socket.io", options);

/** The shared half of both clients: listeners by event, fed by `deliver`. */
function events(c) {
  const listeners = new Map();
  c.on = (event, fn) => {
    if (!listeners.has(event)) listeners.set(event, new Set());
    listeners.get(event).add(fn);
    return () => listeners.get(event).delete(fn);
  };
  c.next = (event, ms = TIMEOUT_MS) =>
    new Promise((resolve, reject) => {
      const off = c.on(event, (data) => {
        clearTimeout(timer);
        off();
        resolve(data);
      });
      const timer = setTimeout(() => {
        off();
        reject(new Error(`timed out waiting for ${c.transport} '${event}'`));
      }, ms);
    });
  c.record = (event) => {
    const seen = [];
    c.on(event, (data) => seen.push(data));
    return seen;
  };
  return (event, data) => {
    for (const fn of [...(listeners.get(event) ?? [])]) fn(data);
  };
}

async function socketIoClient(url, { wait = true, connectWithin = TIMEOUT_MS, ...options } = {}) {
  const socket = io(url, {
    path: "/socket.io",
    transports: ["websocket"],
    forceNew: true,
    reconnection: false,
    // A browser sends the balancer's sticky cookie back by itself; Node's client, when asked.
    withCredentials: CLUSTER,
    ...options,
  });
  const c = { transport: "socket.io", raw: socket };
  const deliver = events(c);
  socket.onAny((event, data) => deliver(event, data));
  for (const reserved of ["connect", "connect_error", "disconnect"])
    socket.on(reserved, (data) => deliver(reserved, data));
  c.emit = (event, data) => (data === undefined ? socket.emit(event) : socket.emit(event, data));
  c.closed = (ms) => c.next("disconnect", ms);
  c.close = () => socket.close();
  Object.defineProperty(c, "id", { get: () => socket.id });
  if (wait) {
    await new Promise((resolve, reject) => {
      const settle = (outcome) => {
        clearTimeout(timer);
        offConnect();
        offError();
        outcome();
      };
      const offConnect = c.on("connect", () => settle(resolve));
      const offError = c.on("connect_error", (error) => settle(() => reject(error)));
      const timer = setTimeout(
        () => settle(() => reject(new Error("timed out waiting for socket.io 'connect'"))),
        connectWithin,
      );
    });
  }
  return c;
}

async function wsClient(url, options = {}) {
  const ws = new WebSocket(`${url.replace(/^http/, "ws")}/ws`, options);
  const c = { transport: "ws", raw: ws, frames: [] };
  const deliver = events(c);
  ws.on("message", (data) => {
    const frame = JSON.parse(data.toString());
    c.frames.push(frame);
    deliver(frame.event, frame.data);
  });
  const closed = new Promise((resolve) => ws.on("close", (code) => resolve(code)));
  c.emit = (event, data) => ws.send(JSON.stringify({ event, data }));
  c.closed = () => closed;
  c.close = () => ws.close();
  const welcome = c.next("connect");
  await once(ws, "open");
  c.id = (await welcome).id;
  return c;
}

/** Joins a room and resolves with the `init-users` list. */
export async function join(c, roomId, userName) {
  const init = c.next("init-users");
  c.emit("join-room", { roomId, userName });
  return init;
}

/** Connects `names.length` clients of `transport` into `roomId`, in order; each is in once
 * those already there have been told (`user-joined`), as a page waits before signalling it:
 * behind a cluster, another node hears of a join a moment after the joiner's `init-users`. */
export async function room(url, roomId, names, transport = "socket.io") {
  const peers = [];
  for (const name of names) {
    const c = await client(url, transport);
    const told = peers.map((p) => p.next("user-joined"));
    await join(c, roomId, name);
    await Promise.all(told);
    peers.push(c);
  }
  return peers;
}

/**
 * Sends a marker signal from `from` to `to` and resolves when it arrives: a barrier that proves
 * everything the server queued for `to` before it has been delivered. Fails, naming both, if
 * it does not arrive within `ms`.
 */
export async function barrier(from, to, ms = 2 * TIMEOUT_MS) {
  const marker = Math.random();
  const got = new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`a signal from ${from.id} to ${to.id} did not arrive within ${ms} ms`));
    }, ms);
    const off = to.on("signal", (msg) => {
      if (msg?.signal?.barrier === marker) {
        clearTimeout(timer);
        off();
        resolve();
      }
    });
  });
  from.emit("signal", { to: to.id, signal: { barrier: marker } });
  await got;
}

/** The threads of `thread` still running. */
const threads = new Set();

/** A worker running tests/js/peer_thread.mjs in `role`; resolves once it says it is ready. */
async function thread(role, data) {
  const worker = new Worker(new URL("./peer_thread.mjs", import.meta.url), { workerData: { role, ...data } });
  threads.add(worker);
  worker.on("exit", () => threads.delete(worker));
  const messages = [];
  const waiting = [];
  worker.on("message", (msg) => {
    const i = waiting.findIndex((w) => w.type === msg.type);
    if (i >= 0) waiting.splice(i, 1)[0].resolve(msg);
    else messages.push(msg);
  });
  const failed = new Promise((_, reject) => {
    worker.on("error", reject);
    worker.on("exit", (code) => reject(new Error(`the ${role} thread exited (${code}) before answering`)));
  });
  failed.catch(() => {}); // observed by `answer`
  /** The next message of `type` from the worker (one already received counts). */
  const answer = (type, ms = 2 * TIMEOUT_MS) => {
    const i = messages.findIndex((m) => m.type === type);
    if (i >= 0) return Promise.resolve(messages.splice(i, 1)[0]);
    let timer;
    return Promise.race([
      new Promise((resolve) => waiting.push({ type, resolve })),
      failed,
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`the ${role} thread did not answer '${type}' in ${ms} ms`)), ms);
      }),
    ]).finally(() => clearTimeout(timer));
  };
  return { worker, ready: await answer("ready"), answer };
}

/**
 * A Socket.IO (or `/ws`) peer in `roomId` that reads on a thread of its own, so that a test
 * busy sending (a burst) cannot keep it from reading: what the test measures is the server.
 * `count` names the events it counts; `report()` resolves with {counts, last, closedBy}.
 */
export async function peerOnThread(url, roomId, userName, { count = [], transport = "socket.io" } = {}) {
  const { worker, ready, answer } = await thread("peer", { url, roomId, userName, count, transport });
  return {
    id: ready.id,
    emit: (event, data) => worker.postMessage({ type: "emit", event, data }),
    async report() {
      worker.postMessage({ type: "report" });
      return answer("report");
    },
    close: () => worker.postMessage({ type: "close" }),
  };
}

/**
 * A witness: two peers in a room of their own, on a thread of their own, that keep signalling
 * each other while `attack()` runs. Every probe must arrive within 1 s; resolves with the
 * attack's result once it is done and the witness still answers, or throws naming the slow
 * probe. On its own thread, a busy test cannot delay the witness's reads: a slow probe is the
 * server's.
 */
export async function withWitness(url, attack) {
  const { worker, answer } = await thread("witness", { url });
  const done = answer("done", 24 * 60 * 60 * 1000);
  done.catch(() => {}); // observed below, after the attack; not an unhandled rejection
  try {
    const result = await attack();
    worker.postMessage({ type: "stop" });
    const { probes, error } = await done;
    if (error) throw new Error(error);
    assert.ok(probes >= 3, `the witness probed ${probes} times`);
    return result;
  } finally {
    worker.postMessage({ type: "stop" });
    await done.catch(() => {});
  }
}

/** `GET /metrics` from loopback, parsed into {"name{labels}": value}. */
export async function metrics(url) {
  const values = {};
  // Behind a balancer, the cluster's figures are the sum of its nodes'.
  for (const node of balanced.get(url) ?? [url]) {
    const text = await (await fetch(`${node}/metrics`)).text();
    for (const line of text.split("\n")) {
      const m = line.match(/^([a-z_]+(?:\{[^}]*\})?) ([0-9.e+-]+)$/);
      if (m) values[m[1]] = (values[m[1]] ?? 0) + Number(m[2]);
    }
  }
  return values;
}

/** The refusal counter for one reason. */
export async function refused(url, reason) {
  return (await metrics(url))[`free_meetings_refused_total{reason="${reason}"}`];
}

/** Resident memory of a process, in bytes (0 once it is gone). */
export function rss(pid) {
  const m = fs.readFileSync(`/proc/${pid}/status`, "utf8").match(/VmRSS:\s+(\d+) kB/);
  return m ? Number(m[1]) * 1024 : 0;
}

// ---------------------------------------------------------------- a simulated LAN

// Network namespaces joined by a bridge, with test addresses the tests choose. Traffic stays
// inside these namespaces.
export const isRoot = process.getuid?.() === 0;
/** What a test that needs namespaces says when it cannot have them. */
export const NEEDS_ROOT = isRoot ? false : "needs root to create network namespaces (CI runs as root)";
let lans = 0;

function ip(...args) {
  execFileSync("ip", args, { stdio: ["ignore", "ignore", "pipe"] });
}

/**
 * Creates namespaces `hosts` ({a: "10.77.0.1", ...}) on one bridged segment. Hosts named in
 * `isolated` hang off isolated bridge ports, as Wi-Fi with client isolation: they reach the
 * others but not each other.
 */
export function createLan(hosts, { isolated = [] } = {}) {
  // Unique per process and per LAN: a test may build a second one beside the first.
  const prefix = `fm${process.pid}n${lans++}`;
  const lan = `${prefix}-lan`;
  const ns = (name) => `${prefix}-${name}`;
  const created = [lan];
  const add = (name) => {
    ip("netns", "add", name);
    created.push(name);
    // IPv4 only: an IPv6 address appearing seconds later (after duplicate detection) is a
    // network change, which makes Chromium abort a navigation in flight (ERR_NETWORK_CHANGED).
    execFileSync("ip", ["netns", "exec", name, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1"]);
    execFileSync("ip", ["netns", "exec", name, "sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1"]);
  };
  add(lan);
  ip("-n", lan, "link", "add", "br0", "type", "bridge");
  ip("-n", lan, "link", "set", "br0", "up");
  for (const [name, address] of Object.entries(hosts)) {
    add(ns(name));
    ip("link", "add", "lan0", "netns", ns(name), "type", "veth", "peer", "name", `p-${name}`, "netns", lan);
    ip("-n", lan, "link", "set", `p-${name}`, "master", "br0");
    if (isolated.includes(name))
      ip("-n", lan, "link", "set", "dev", `p-${name}`, "type", "bridge_slave", "isolated", "on");
    ip("-n", lan, "link", "set", `p-${name}`, "up");
    ip("-n", ns(name), "link", "set", "lo", "up");
    ip("-n", ns(name), "link", "set", "lan0", "up");
    ip("-n", ns(name), "addr", "add", `${address}/24`, "dev", "lan0");
    ip("-n", ns(name), "route", "add", "224.0.0.0/4", "dev", "lan0");
  }
  return {
    ns,
    /** Adds a namespace with no link to anyone: multicast reaches nobody from there. */
    isolated(name, address) {
      add(ns(name));
      ip("-n", ns(name), "link", "set", "lo", "up");
      // A link to nowhere: a veth pair with both ends in this namespace.
      ip("-n", ns(name), "link", "add", "lan0", "type", "veth", "peer", "name", "nowhere");
      ip("-n", ns(name), "link", "set", "nowhere", "up");
      ip("-n", ns(name), "link", "set", "lan0", "up");
      ip("-n", ns(name), "addr", "add", `${address}/24`, "dev", "lan0");
    },
    /** Takes an address off a host (a network that is not up yet). */
    unaddress(name, address) {
      ip("-n", ns(name), "addr", "del", `${address}/24`, "dev", "lan0");
    },
    /** Gives a host an address (the network comes up). */
    address(name, address) {
      ip("-n", ns(name), "addr", "add", `${address}/24`, "dev", "lan0");
    },
    /** Moves a host to another address, as a DHCP renewal or a new network would. */
    readdress(name, from, to) {
      ip("-n", ns(name), "addr", "del", `${from}/24`, "dev", "lan0");
      ip("-n", ns(name), "addr", "add", `${to}/24`, "dev", "lan0");
    },
    destroy() {
      for (const name of created.reverse()) {
        try {
          ip("netns", "del", name);
        } catch {
          // already gone
        }
      }
    },
  };
}

/** Spawns a command inside a namespace; collects its output (see `spawnCollecting`). */
export function spawnIn(namespace, command, args, options = {}) {
  return spawnCollecting("ip", ["netns", "exec", namespace, command, ...args], options);
}

/** Runs a command in a namespace to completion: {code, stdout, stderr, ms}. */
export async function runIn(namespace, command, args) {
  const started = Date.now();
  const { out, exited } = spawnIn(namespace, command, args);
  const code = await exited;
  return { code, ...out, ms: Date.now() - started };
}

/** Starts `free-meetings serve` in a namespace; resolves once it listens. */
export async function serveIn(namespace, args) {
  const server = spawnIn(namespace, BIN, ["serve", ...args], {
    env: { ...process.env, RUST_LOG: process.env.FM_SERVER_LOG || "info", MEETINGS_FILE: meetingsFile() },
  });
  await lineMatching(server, /listening on http/);
  return {
    ...server,
    async stop() {
      server.proc.kill("SIGTERM");
      return server.exited;
    },
  };
}

/** The meeting server in a namespace as the meeting tests use it: every address, HTTP on 5000,
 * HTTPS (and UDP media) on 5443, no mDNS; resolves once HTTPS listens. */
export async function serveMeetingIn(namespace, extra = []) {
  // FM_MEDIA_THREADS=1 runs the media tests again on one forwarding thread (the default is one
  // per core), unless a test chooses its own.
  const threads = process.env.FM_MEDIA_THREADS;
  if (threads && !extra.includes("--media-threads")) extra = [...extra, "--media-threads", threads];
  const server = await serveIn(namespace, [
    "--bind",
    "0.0.0.0",
    "--port",
    "5000",
    "--tls-port",
    "5443",
    "--no-mdns",
    ...extra,
  ]);
  await lineMatching(server, /^HTTPS on https:\/\//);
  return server;
}

// ---------------------------------------------------------------- the meeting page in Chromium

/** Chromium as a meeting participant: fake devices, the generated certificate accepted. */
export const MEETING_FLAGS = [
  ...CHROMIUM_FLAGS,
  // Three fake cameras and a fake microphone that beeps; with the fake UI, getDisplayMedia also
  // answers, headless, with a fake 1280x720 "screen" (no capture-source flag is needed). The
  // second fake camera sends Y16 (depth) frames, which WebRTC does not encode; the first and
  // third send ordinary video.
  "--use-fake-device-for-media-stream=device-count=3",
  "--use-fake-ui-for-media-stream",
  "--ignore-certificate-errors",
  "--autoplay-policy=no-user-gesture-required",
];
/** Calls of five Chromiums on two cores: fewer frames from the fake cameras. */
export const FEW_FRAMES_FLAGS = MEETING_FLAGS.map((f) =>
  f.startsWith("--use-fake-device-for-media-stream") ? "--use-fake-device-for-media-stream=fps=15" : f,
);
/** A small window, for calls of several pages. */
export const SMALL_WINDOW = { width: 800, height: 560 };
/** Five pages encoding three layers and decoding four videos on two cores saturate them, and a
 * page starved of CPU stalls for seconds: the tests that are not about sizes use small cameras
 * (`joinAs`'s `camera`). */
export const SMALL_CAMERA = { width: 320, height: 240 };
/** A small camera and no microphone: five pages are too many microphones for two cores (see
 * `joinAs`). */
export const SMALL_CAMERA_NO_MIC = { ...SMALL_CAMERA, microphone: false };
/** A machine with no camera and no microphone at all. */
export const NO_DEVICE_FLAGS = MEETING_FLAGS.filter((f) => !f.startsWith("--use-fake-device-for-media-stream"));

/** A Chromium whose network is namespace `host`'s: a wrapper as playwright's executable. */
export async function browserIn(lan, host, args = MEETING_FLAGS) {
  const wrapper = path.join(wrappers(), `chromium-${lan.ns(host)}.sh`);
  fs.writeFileSync(wrapper, `#!/bin/sh\nexec ip netns exec ${lan.ns(host)} ${CHROMIUM} "$@"\n`, { mode: 0o755 });
  // Loaded here, not at the top: the peer threads import this file too, and start faster
  // without Playwright.
  const { chromium } = await import("playwright-core");
  return chromium.launch({ executablePath: wrapper, args });
}

let wrapperDir;
/** A folder for the wrappers, made once per test process and removed when it exits. */
function wrappers() {
  if (!wrapperDir) {
    wrapperDir = fs.mkdtempSync(path.join(os.tmpdir(), "fm-chromium-"));
    process.on("exit", () => fs.rmSync(wrapperDir, { recursive: true, force: true }));
  }
  return wrapperDir;
}

/** Opens the meeting page and joins as `name` (in a desktop-sized window unless told); waits for
 * the call view unless `inCall` is false (a full room sends the page back at once). `camera`
 * ({width, height}) caps what the page asks of the camera: five pages encoding and decoding on
 * two cores need small pictures to keep up. With `microphone: false` the page gets no
 * microphone: measured on two cores, five pages' microphones (echo cancellation, Opus, level
 * meters, the audio service) took half a core, and starved pages answered an offer 20 s late. */
export async function joinAs(browser, url, name, viewport = { width: 960, height: 640 }, inCall = true, camera) {
  const context = await browser.newContext({
    viewport,
    isMobile: viewport.width < 500,
    hasTouch: viewport.width < 500,
  });
  if (camera) {
    await context.addInitScript((cap) => {
      const original = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
      navigator.mediaDevices.getUserMedia = (constraints) => {
        if (constraints?.video) {
          const video = typeof constraints.video === "object" ? constraints.video : {};
          constraints = { ...constraints, video: { ...video, width: { max: cap.width }, height: { max: cap.height } } };
        }
        if (cap.microphone === false) constraints = { ...constraints, audio: false };
        return original(constraints);
      };
    }, camera);
  }
  const page = await context.newPage();
  page.cspViolations = cspViolations(page);
  await page.goto(url);
  await page.fill("#name", name);
  await page.click("#join-button");
  if (inCall) {
    await page.waitForSelector("#call:not([hidden])").catch(async (error) => {
      // Joining waits for the camera and microphone: say whether they came, and what the page said.
      const seen = await page
        .evaluate(() => ({
          camera: state.local?.getTracks().map((t) => `${t.kind} ${t.readyState}`) ?? "none yet",
          notice: document.querySelector("#notice").textContent,
          socket: !!state.socket?.connected,
        }))
        .catch((e) => e.message);
      throw new Error(`${name} could not join: ${error.message.split("\n")[0]} ${JSON.stringify(seen)}`);
    });
  }
  return page;
}

/** Clicks `selector` in the meeting page's "More" menu, opening the menu first (as a person
 * does: the menu closes after each choice). */
export async function fromMenu(page, selector) {
  if (await page.isHidden("#more-menu")) await page.click("#more");
  await page.click(selector);
}

/** A live list of what the page's Content-Security-Policy refused, as Chromium reports it on the
 * console: a page that works under its policy leaves it empty. */
export function cspViolations(page) {
  const seen = [];
  page.on("console", (message) => {
    if (/Content Security Policy/i.test(message.text())) seen.push(message.text());
  });
  return seen;
}

/** What a page's peer connections are doing, for a failure message. */
/** What a page sends through the server, per video layer: for a test that failed, whether a
 * sender encodes, makes keyframes and hears the server's keyframe requests (PLIs). */
export async function sending(page) {
  return page.evaluate(async () =>
    state.sfu
      ? [...(await state.sfu.pc.getStats()).values()]
          .filter((s) => s.type === "outbound-rtp" && s.kind === "video")
          .map(
            (s) =>
              `${state.name} ${s.mid}/${s.rid ?? "-"} packets ${s.packetsSent} frames ${s.framesEncoded} keyframes ${s.keyFramesEncoded} plis ${s.pliCount} firs ${s.firCount} limited ${s.qualityLimitationReason} active ${s.active}`,
          )
      : [`${state.name}: no server connection`],
  );
}

export async function diagnose(page) {
  return page.evaluate(async () => ({
    sfuTracks: state.sfu
      ? [...(await state.sfu.pc.getStats()).values()]
          .filter((s) => s.type === "inbound-rtp" && s.kind === "video")
          .map(
            (s) =>
              `${s.mid} ${s.trackIdentifier.slice(0, 8)} packets ${s.packetsReceived} frames ${s.framesDecoded} keyframes ${s.keyFramesDecoded} plis ${s.pliCount}`,
          )
      : undefined,
    notice: document.querySelector("#notice").textContent,
    socket: state.socket?.connected,
    mode: state.mode,
    sfu: state.sfu?.pc.connectionState,
    peers: [...state.peers].map(([id, p]) => ({
      id,
      name: p.name,
      streams: [...p.streams.values()].map(
        (st) => `${st.id}: ${st.getTracks().map((t) => `${t.kind}/${t.readyState}/${t.muted ? "muted" : "live"}`)}`,
      ),
      transceivers: p.pc
        ?.getTransceivers()
        .map((t) => `${t.mid} ${t.receiver.track.kind} ${t.direction}/${t.currentDirection}`),
      connection: p.pc?.connectionState,
      ice: p.pc?.iceConnectionState,
      signaling: p.pc?.signalingState,
      pending: p.pending.length,
      video: ((v) => ({
        videoWidth: v.videoWidth,
        readyState: v.readyState,
        currentTime: v.currentTime,
        frames: v.getVideoPlaybackQuality().totalVideoFrames,
        paused: v.paused,
        stream: v.srcObject?.id,
      }))(p.tile.querySelector("video")),
    })),
  }));
}

/** Waits until the page shows exactly `count` remote videos, each with frames and playing. */
export async function seesPlaying(page, count) {
  try {
    await playing(page, count);
  } catch (error) {
    throw new Error(`${error.message}\n${JSON.stringify(await diagnose(page).catch((e) => e.message), null, 1)}`);
  }
}

async function playing(page, count) {
  await page.waitForFunction(
    (n) => {
      const videos = [...document.querySelectorAll("#stage .tile:not(.screen) video.remote")];
      return videos.length === n && videos.every((v) => v.videoWidth > 0 && v.readyState >= 2);
    },
    count,
    { timeout: 20000 },
  );
  // New frames keep arriving (a stalled track can keep currentTime moving, not the frame count).
  // Counted per video and stream: a tile that switches stream (mesh to server) starts again from
  // zero, and tiles can move.
  const frames = () =>
    Object.fromEntries(
      [...document.querySelectorAll("#stage .tile:not(.screen) video.remote")].map((v) => [
        `${v.closest(".tile").dataset.key}/${v.srcObject?.id}`,
        v.getVideoPlaybackQuality().totalVideoFrames,
      ]),
    );
  const before = await page.evaluate(frames);
  await page.waitForFunction(
    ([f0, count]) => {
      const now = [...document.querySelectorAll("#stage .tile:not(.screen) video.remote")].map((v) => [
        `${v.closest(".tile").dataset.key}/${v.srcObject?.id}`,
        v.getVideoPlaybackQuality().totalVideoFrames,
      ]);
      return now.length === count && now.every(([key, n]) => n > (f0[key] ?? 0) + 5);
    },
    [before, count],
    { timeout: 10000 },
  );
}

export const remoteNames = (page) =>
  page.$$eval("#stage .tile:not(.self):not(.screen) .name", (els) => els.map((e) => e.textContent).sort());

/** Waits until `selector`'s video on the page has frames and its time advances. */
export async function videoPlays(page, selector) {
  await page.waitForFunction(
    (sel) => {
      const v = document.querySelector(sel);
      return v && v.videoWidth > 0 && v.readyState >= 2;
    },
    selector,
    { timeout: 20000 },
  );
  const f0 = await page.$eval(selector, (v) => v.getVideoPlaybackQuality().totalVideoFrames);
  await page.waitForFunction(
    ([sel, f]) => document.querySelector(sel)?.getVideoPlaybackQuality().totalVideoFrames > f + 5,
    [selector, f0],
    { timeout: 10000 },
  );
}
