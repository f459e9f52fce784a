// Shared fixture for the end-to-end tests: starts the real `free-meetings` binary on a free
// loopback port and connects real clients (npm socket.io-client, ws) to it.
import { spawn } from "node:child_process";
import { once } from "node:events";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { io } from "socket.io-client";
import WebSocket from "ws";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const BIN =
  process.env.FM_BIN ||
  path.join(process.env.CARGO_TARGET_DIR || path.join(root, "target"), "debug", "free-meetings");

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

/** Starts the server with extra CLI args; resolves once it prints its address. */
export async function startServer(args = [], { env = {}, cwd = root } = {}) {
  const proc = spawn(BIN, ["serve", "--bind", "127.0.0.1", "--port", "0", "--no-mdns", ...args], {
    cwd,
    env: { ...process.env, RUST_LOG: process.env.RUST_LOG || "info", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let logs = "";
  proc.stderr.on("data", (d) => (logs += d));
  const url = await new Promise((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error(`server did not start:\n${logs}`)), 15000);
    proc.stdout.on("data", (d) => {
      out += d;
      const m = out.match(/listening on (http:\/\/[\d.]+:\d+)/);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    proc.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code}:\n${logs}`));
    });
  });
  return {
    url,
    port: Number(new URL(url).port),
    proc,
    logs: () => logs,
    /** SIGTERM, then the exit code; anything but 0 throws with the server's log. */
    async stop() {
      let code = proc.exitCode;
      let signal = proc.signalCode;
      if (code === null && signal === null) {
        proc.kill("SIGTERM");
        [code, signal] = await once(proc, "exit");
      }
      if (code !== 0) throw new Error(`server exited with code ${code}, signal ${signal}:\n${logs}`);
      return code;
    },
  };
}

const clients = new Set();

/** A socket.io-client connected exactly as the original front-end does (websocket only). */
export function connect(url, options = {}) {
  const socket = io(url, { path: "/socket.io", transports: ["websocket"], forceNew: true, reconnection: false, ...options });
  clients.add(socket);
  return socket;
}

/** Connects and waits for `connect`. */
export async function connected(url, options = {}) {
  const socket = connect(url, options);
  await waitFor(socket, "connect");
  return socket;
}

/** Closes every client opened by this file's tests. */
export function closeAll() {
  for (const s of clients) s.close();
  clients.clear();
}

/** Resolves with the next `event` payload on a socket.io socket or within TIMEOUT_MS. */
export function waitFor(socket, event, ms = TIMEOUT_MS) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.off(event, on);
      reject(new Error(`timed out waiting for '${event}'`));
    }, ms);
    const on = (...args) => {
      clearTimeout(timer);
      resolve(args.length > 1 ? args : args[0]);
    };
    socket.once(event, on);
  });
}

/** Records every payload of `event` on a socket. */
export function record(socket, event) {
  const seen = [];
  socket.on(event, (payload) => seen.push(payload));
  return seen;
}

/** Waits until `predicate()` is true, polling an in-memory condition (not time as sync). */
export async function until(predicate, what, ms = TIMEOUT_MS) {
  const deadline = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Joins a room and resolves with the `init-users` list. */
export async function join(socket, roomId, userName) {
  const init = waitFor(socket, "init-users");
  socket.emit("join-room", { roomId, userName });
  return init;
}

/** A plain /ws client; resolves once the server's welcome (its peer id) arrives. */
export async function wsConnect(url, options = {}) {
  const ws = new WebSocket(url.replace(/^http/, "ws") + "/ws", options);
  const frames = [];
  const waiters = [];
  ws.on("message", (data, isBinary) => {
    const frame = JSON.parse(data.toString());
    frames.push(frame);
    for (const w of [...waiters]) {
      if (w.event === frame.event) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(frame.data);
      }
    }
  });
  const client = {
    ws,
    frames,
    send: (event, data) => ws.send(JSON.stringify({ event, data })),
    next(event, ms = TIMEOUT_MS) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.splice(waiters.indexOf(w), 1);
          reject(new Error(`timed out waiting for /ws '${event}'`));
        }, ms);
        const w = {
          event,
          resolve: (data) => {
            clearTimeout(timer);
            resolve(data);
          },
        };
        waiters.push(w);
      });
    },
    close: () => ws.close(),
  };
  const welcome = client.next("connect");
  await once(ws, "open");
  client.id = (await welcome).id;
  return client;
}

/**
 * A witness: two peers in a room of their own that keep signalling each other while `attack()`
 * runs. Every probe must arrive within 1 s; resolves with the attack's result once it is done
 * and the witness still answers, or throws naming the slow probe.
 */
export async function withWitness(url, attack) {
  const a = await connected(url);
  const b = await connected(url);
  const room = `witness-${Math.random()}`;
  await join(a, room, "Witness A");
  await join(b, room, "Witness B");
  let running = true;
  let probes = 0;
  const probing = (async () => {
    while (running || probes < 3) {
      const marker = Math.random();
      const got = new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`witness probe ${probes} took over 1 s`)), 1000);
        const on = (msg) => {
          if (msg.signal?.probe === marker) {
            clearTimeout(timer);
            b.off("signal", on);
            resolve();
          }
        };
        b.on("signal", on);
      });
      a.emit("signal", { to: b.id, signal: { probe: marker } });
      await got;
      probes++;
      // Pacing between probes, not synchronisation: each probe awaits its own arrival.
      await new Promise((r) => setTimeout(r, 20));
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

/** Sends a marker signal from `from` to `to` and resolves when it arrives: a barrier that proves
 * everything the server queued for `to` before it has been delivered. */
export async function barrier(from, to) {
  const marker = { barrier: Math.random() };
  const got = new Promise((resolve) => {
    const on = (msg) => {
      if (msg.signal && msg.signal.barrier === marker.barrier) {
        to.off("signal", on);
        resolve();
      }
    };
    to.on("signal", on);
  });
  from.emit("signal", { to: to.id, signal: marker });
  await got;
}

/** Resident memory of a process, in bytes (0 once it is gone). */
export function rss(pid) {
  const m = fs.readFileSync(`/proc/${pid}/status`, "utf8").match(/VmRSS:\s+(\d+) kB/);
  return m ? Number(m[1]) * 1024 : 0;
}
