// The soak: pairs of clients join, signal, leave and reconnect for a while against one server,
// and the run passes when no signal between connected pairs was lost, no error came but the
// ones provoked, and the server's resident memory at the end is within 10% of its warm
// baseline. `scripts/soak.sh` runs it for 10 minutes with 500 clients; CI runs 30 s
// (tests/js/soak.test.mjs).
//
//   node tests/js/soak.mjs [--clients 500] [--duration 600] [--rate 2] [--bin PATH]
import { spawnSync } from "node:child_process";
import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";
import { client, rss, sleep, startServer } from "./fixture.mjs";

/** A well-formed peer id that nobody has. */
const NOBODY = "AAAAAAAAAAAAAAAA";

/** Runs the soak; resolves with its figures (see `passed`). */
export async function soak({ clients = 500, durationS = 600, rate = 2, log = () => {} } = {}) {
  const server = await startServer(["--max-connections-per-address", String(clients * 2)]);
  const pid = server.proc.pid;
  const pairs = Math.max(1, Math.floor(clients / 2));
  const deadline = Date.now() + durationS * 1000;
  const warmAt = Date.now() + Math.min(60_000, (durationS * 1000) / 3);
  const started = Date.now();
  const stats = {
    sent: 0,
    echoed: 0,
    lost: 0,
    unexpectedErrors: [],
    provoked: 0,
    provokedSeen: 0,
    cycles: 0,
    reconnects: 0,
    rejoins: 0,
  };
  let baseline = 0;
  let peak = 0;
  const sampler = setInterval(() => {
    const now = rss(pid);
    peak = Math.max(peak, now);
    if (!baseline && Date.now() >= warmAt) {
      baseline = now;
      log(`warm baseline RSS ${(now / 1e6).toFixed(1)} MB`);
    }
  }, 500);

  async function pair(k) {
    const room = `soak-${k}`;
    let a = null;
    let b = null;
    let onProvoked = null;
    for (let cycle = 0; Date.now() < deadline; cycle++) {
      // Odd cycles reconnect both sockets; even ones leave the room and rejoin on the same ones.
      if (!a || cycle % 2 === 1) {
        a?.close();
        b?.close();
        const options = { connectWithin: 10_000 };
        const asked = Date.now();
        [a, b] = await Promise.all([
          client(server.url, "socket.io", options),
          client(server.url, "socket.io", options),
        ]).catch((error) => {
          // Seen in full runs (the first wave, beside another test file: once no connection
          // logged in 10 s, once all 500 TCP connections up and the server still logging
          // connects 10 s in) and never in runs alone (500 connects take about 1 s there): say
          // enough to find the cause next time, TCP included.
          const tail = server.out.stderr.split("\n").slice(-15).join("\n");
          const at = `pair ${k}, cycle ${cycle}, ${asked - started} ms into the run`;
          const port = new URL(server.url).port;
          const sockets = spawnSync("ss", ["-tanH", `( sport = :${port} or dport = :${port} )`], { encoding: "utf8" });
          const states = {};
          for (const line of (sockets.stdout ?? "").split("\n").filter(Boolean)) {
            const [state, , , local] = line.trim().split(/\s+/);
            const side = local?.endsWith(`:${port}`) ? "server" : "client";
            states[`${side} ${state}`] = (states[`${side} ${state}`] ?? 0) + 1;
          }
          error.message += ` (${at}; ${stats.reconnects} pairs had connected; TCP to the server's port: ${JSON.stringify(states)}; server log tail:\n${tail})`;
          throw error;
        });
        stats.reconnects++;
        for (const s of [a, b]) {
          s.on("error", (e) => {
            if (String(e).includes(NOBODY)) {
              stats.provokedSeen++;
              onProvoked?.();
            } else stats.unexpectedErrors.push(String(e));
          });
        }
        b.on("signal", ({ from, signal }) => b.emit("signal", { to: from, signal }));
      } else {
        a.emit("leave-room");
        b.emit("leave-room");
        stats.rejoins++;
      }
      const joined = a.next("user-joined", 10_000);
      const aInit = a.next("init-users", 10_000);
      a.emit("join-room", { roomId: room, userName: "A" });
      await aInit;
      const bInit = b.next("init-users", 10_000);
      b.emit("join-room", { roomId: room, userName: "B" });
      await Promise.all([bInit, joined]);
      // A provoked error: a signal to nobody must get exactly one error, naming that id.
      const provoked = new Promise((resolve) => {
        const timer = setTimeout(resolve, 10_000); // a missing error shows in provokedSeen
        onProvoked = () => {
          clearTimeout(timer);
          onProvoked = null;
          resolve();
        };
      });
      a.emit("signal", { to: NOBODY, signal: "nobody" });
      stats.provoked++;
      await provoked;
      // Signals, each echoed by B: every one must come back while both are connected.
      const rounds = 3 + Math.floor(Math.random() * 4);
      for (let i = 0; i < rounds && Date.now() < deadline; i++) {
        const seq = `${k}-${cycle}-${i}`;
        const back = new Promise((resolve) => {
          const timer = setTimeout(() => resolve(false), 10_000);
          const off = a.on("signal", ({ signal }) => {
            if (signal?.seq === seq) {
              clearTimeout(timer);
              off();
              resolve(true);
            }
          });
        });
        a.emit("signal", { to: b.id, signal: { seq, sdp: "v=0".padEnd(300, "x") } });
        stats.sent++;
        if (await back) stats.echoed++;
        else stats.lost++;
        await sleep(1000 / rate);
      }
      stats.cycles++;
    }
    a?.close();
    b?.close();
  }

  let end;
  try {
    await Promise.all(Array.from({ length: pairs }, (_, k) => sleep((k * 1000) / pairs).then(() => pair(k))));
    end = rss(pid);
  } finally {
    clearInterval(sampler);
    await server.stop();
  }
  const result = {
    clients: pairs * 2,
    seconds: Math.round((Date.now() - started) / 1000),
    ...stats,
    unexpectedErrors: stats.unexpectedErrors.length,
    errorSamples: stats.unexpectedErrors.slice(0, 3),
    rssBaselineBytes: baseline,
    rssPeakBytes: peak,
    rssEndBytes: end,
    rssEndVsBaseline: baseline ? end / baseline : null,
  };
  result.passed =
    result.lost === 0 &&
    result.unexpectedErrors === 0 &&
    result.provokedSeen === result.provoked &&
    result.sent > 0 &&
    baseline > 0 &&
    end <= baseline * 1.1;
  return result;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({
    options: {
      clients: { type: "string", default: "500" },
      duration: { type: "string", default: "600" },
      rate: { type: "string", default: "2" },
    },
  });
  const result = await soak({
    clients: Number(values.clients),
    durationS: Number(values.duration),
    rate: Number(values.rate),
    log: (line) => console.error(line),
  });
  console.log(JSON.stringify(result, null, 2));
  process.exit(result.passed ? 0 : 1);
}
