// The one fixture of the end-to-end tests: starting the real binaries, the clients (npm
// socket.io-client and ws behind one interface, so a test body runs on both transports), and
// the helpers every file shares. Tests import from here; nothing is copied between them.
import { spawn } from "node:child_process";
import { once } from "node:events";
import fs from "node:fs";
import http from "node:http";
import path from "node:path";
import { fileURLToPath } from "node:url";
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
 * Starts `free-meetings serve` on a free loopback port with extra args; resolves once it prints
 * its address. `prlimit` caps its open files (`--nofile`) to test running out of descriptors.
 */
export async function startServer(args = [], { env = {}, cwd = ROOT, prlimit } = {}) {
  const serve = [BIN, "serve", "--bind", "127.0.0.1", "--port", "0", "--no-mdns", ...args];
  const [command, ...commandArgs] = prlimit ? ["prlimit", `--nofile=${prlimit}:${prlimit}`, ...serve] : serve;
  const started = spawnCollecting(command, commandArgs, {
    cwd,
    env: { ...process.env, RUST_LOG: process.env.RUST_LOG || "info", ...env },
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

/** Closes every client opened by this file's tests (for afterEach). */
export function closeAll() {
  for (const c of clients) c.close();
  clients.clear();
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

/** Connects `names.length` clients of `transport` into `roomId`, in order. */
export async function room(url, roomId, names, transport = "socket.io") {
  const peers = [];
  for (const name of names) {
    const c = await client(url, transport);
    await join(c, roomId, name);
    peers.push(c);
  }
  return peers;
}

/**
 * Sends a marker signal from `from` to `to` and resolves when it arrives: a barrier that proves
 * everything the server queued for `to` before it has been delivered.
 */
export async function barrier(from, to) {
  const marker = Math.random();
  const got = new Promise((resolve) => {
    const off = to.on("signal", (msg) => {
      if (msg?.signal?.barrier === marker) {
        off();
        resolve();
      }
    });
  });
  from.emit("signal", { to: to.id, signal: { barrier: marker } });
  await got;
}

/**
 * A witness: two peers in a room of their own that keep signalling each other while `attack()`
 * runs. Every probe must arrive within 1 s; resolves with the attack's result once it is done
 * and the witness still answers, or throws naming the slow probe.
 */
export async function withWitness(url, attack) {
  const [a, b] = await room(url, `witness-${Math.random()}`, ["Witness A", "Witness B"]);
  let running = true;
  let probes = 0;
  const probing = (async () => {
    while (running || probes < 3) {
      const marker = Math.random();
      const got = new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`witness probe ${probes} took over 1 s`)), 1000);
        const off = b.on("signal", (msg) => {
          if (msg.signal?.probe === marker) {
            clearTimeout(timer);
            off();
            resolve();
          }
        });
      });
      a.emit("signal", { to: b.id, signal: { probe: marker } });
      await got;
      probes++;
      await sleep(20); // pacing between probes; each probe awaits its own arrival
    }
  })();
  probing.catch(() => {}); // observed below, after the attack; not an unhandled rejection
  try {
    const result = await attack();
    running = false;
    await probing;
    return result;
  } finally {
    running = false;
    await probing.catch(() => {});
    a.close();
    b.close();
  }
}

/** `GET /metrics` from loopback, parsed into {"name{labels}": value}. */
export async function metrics(url) {
  const text = await (await fetch(`${url}/metrics`)).text();
  const values = {};
  for (const line of text.split("\n")) {
    const m = line.match(/^([a-z_]+(?:\{[^}]*\})?) ([0-9.e+-]+)$/);
    if (m) values[m[1]] = Number(m[2]);
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
