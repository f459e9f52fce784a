// Peers on a thread of their own (a worker), started by the fixture's `peerOnThread` and
// `withWitness`. A peer in the test's own thread reads only when the test yields: a test busy
// sending a burst then measures itself (its peer, not reading, is rightly dropped by the server
// as stuck, or its probe waits for the loop), not the server. Here the reader has its own event
// loop.
//
// Roles (workerData.role):
// - "peer": one client joins `roomId`, counts what it receives, emits when told.
// - "witness": two clients in a room of their own probe each other until told to stop; every
//   probe must arrive within 1 s.
import { parentPort, workerData } from "node:worker_threads";
import { client, join, room, sleep } from "./fixture.mjs";

const { role, url, transport = "socket.io" } = workerData;

if (role === "peer") {
  const c = await client(url, transport);
  const counts = {};
  const last = {};
  for (const event of workerData.count ?? []) {
    counts[event] = 0;
    c.on(event, (data) => {
      counts[event]++;
      last[event] = data;
    });
  }
  let closedBy = null;
  c.closed().then((reason) => (closedBy = reason ?? "closed"));
  await join(c, workerData.roomId, workerData.userName);
  parentPort.postMessage({ type: "ready", id: c.id });
  parentPort.on("message", (msg) => {
    if (msg.type === "emit") c.emit(msg.event, msg.data);
    else if (msg.type === "report") parentPort.postMessage({ type: "report", counts, last, closedBy });
    else if (msg.type === "close") {
      c.close();
      parentPort.close();
    }
  });
} else if (role === "witness") {
  const [a, b] = await room(url, `witness-${Math.random()}`, ["Witness A", "Witness B"]);
  let running = true;
  parentPort.on("message", (msg) => {
    if (msg.type === "stop") running = false;
  });
  parentPort.postMessage({ type: "ready" });
  let probes = 0;
  let error = null;
  try {
    while (running || probes < 3) {
      const marker = Math.random();
      const sent = Date.now();
      await new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          off();
          reject(new Error(`witness probe ${probes} took over 1 s`));
        }, 1000);
        const off = b.on("signal", (msg) => {
          if (msg.signal?.probe === marker) {
            clearTimeout(timer);
            off();
            resolve();
          }
        });
        a.emit("signal", { to: b.id, signal: { probe: marker } });
      });
      probes++;
      // Pacing between probes, not synchronisation: each probe awaited its own arrival.
      await sleep(Math.max(0, 20 - (Date.now() - sent)));
    }
  } catch (e) {
    error = e.message;
  }
  a.close();
  b.close();
  parentPort.postMessage({ type: "done", probes, error });
  parentPort.close();
} else {
  throw new Error(`peer_thread: unknown role ${role}`);
}
