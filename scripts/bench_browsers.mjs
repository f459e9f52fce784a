// Browser benchmark, mesh against the server's forwarder (SFU): for 4, 5 and 6 people, each a
// headless Chromium in its own network namespace with a fake 15 fps camera (320x240 unless WIDTH
// and HEIGHT say otherwise), joined to one room of a server started with `--media mesh` then
// `--media sfu`. Once every page sees everyone playing and a warm-up has passed, it measures over
// a window each browser's CPU (every process in its namespace, from /proc), its video upload and
// the frames it encodes (bytesSent and framesEncoded of its outbound video, from getStats()), and
// prints one JSON line per run. Needs root (namespaces) and a built server (FM_BIN, default the
// debug build). Not part of the test command: it takes about ten minutes.
//   node scripts/bench_browsers.mjs            4, 5 and 6 people
//   SIZES=5 WINDOW=20 node scripts/bench_browsers.mjs
import fs from "node:fs";
import {
  BIN,
  browserIn,
  createLan,
  joinAs,
  MEETING_FLAGS,
  seesPlaying,
  serveMeetingIn,
  sleep,
} from "../tests/js/fixture.mjs";

const sizes = (process.env.SIZES || "4 5 6").split(" ").map(Number);
const warmup = Number(process.env.WARMUP || 10) * 1000;
const window = Number(process.env.WINDOW || 20) * 1000;
const FLAGS = MEETING_FLAGS.map((f) =>
  f.startsWith("--use-fake-device-for-media-stream") ? "--use-fake-device-for-media-stream=fps=15" : f,
);
const TICKS = 100; // USER_HZ
// Six browsers encoding 640x480 share this machine's two cores with each other; at 320x240 a mesh
// of six still gets going, so the comparison has figures on both sides.
const CAMERA = { width: Number(process.env.WIDTH || 320), height: Number(process.env.HEIGHT || 240) };

/** CPU seconds used so far by every process in the network namespace `ns` (one browser each). */
function namespaceCpu(ns) {
  const inode = fs.statSync(`/run/netns/${ns}`).ino;
  let total = 0;
  for (const entry of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (fs.readlinkSync(`/proc/${entry}/ns/net`) !== `net:[${inode}]`) continue;
      const stat = fs.readFileSync(`/proc/${entry}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      total += (Number(fields[11]) + Number(fields[12])) / TICKS;
    } catch {
      // the process ended while we read
    }
  }
  return total;
}

/** Bytes of video this page has sent so far, over every connection it sends on. */
const videoBytesSent = (page) =>
  page.evaluate(async () => {
    const pcs = [...state.peers.values()].map((p) => p.pc).filter(Boolean);
    if (state.sfu) pcs.push(state.sfu.pc);
    let bytes = 0;
    let frames = 0;
    for (const pc of pcs) {
      for (const s of (await pc.getStats()).values()) {
        if (s.type === "outbound-rtp" && s.kind === "video") {
          bytes += s.bytesSent;
          frames += s.framesEncoded ?? 0;
        }
      }
    }
    return { bytes, frames, connections: pcs.length, at: performance.now() };
  });

/** The first page's outgoing video per layer, and what its browser thinks it may send. */
const sending = (page) =>
  page.evaluate(async () => {
    const pc = state.sfu?.pc ?? [...state.peers.values()].find((p) => p.pc)?.pc;
    const out = [];
    for (const s of (await pc.getStats()).values()) {
      if (s.type === "outbound-rtp" && s.kind === "video") {
        out.push(`${s.rid ?? "-"} ${s.frameWidth}x${s.frameHeight} ${s.framesPerSecond}fps ${s.qualityLimitationReason}`);
      }
      if (s.type === "candidate-pair" && s.nominated && s.availableOutgoingBitrate) {
        out.push(`estimate ${Math.round(s.availableOutgoingBitrate / 1000)} kbit/s`);
      }
    }
    return out;
  });

async function run(mode, n) {
  const hosts = { srv: "10.81.0.1" };
  for (let i = 0; i < n; i++) hosts[`p${i}`] = `10.81.0.${10 + i}`;
  const lan = createLan(hosts);
  const server = await serveMeetingIn(lan.ns("srv"), ["--media", mode]);
  const browsers = [];
  try {
    const pages = [];
    for (let i = 0; i < n; i++) {
      const browser = await browserIn(lan, `p${i}`, FLAGS);
      browsers.push(browser);
      pages.push(await joinAs(browser, "https://10.81.0.1:5443/r/bench", `P${i}`, undefined, true, CAMERA));
    }
    await Promise.all(pages.map((page) => seesPlaying(page, n - 1)));
    await sleep(warmup);
    const people = Object.keys(hosts).filter((h) => h !== "srv");
    // CPU over the wall-clock window between its two readings; the pages' counters (slow to
    // read from busy browsers) over their own, measured by each page's clock.
    const sent0 = await Promise.all(pages.map(videoBytesSent));
    const cpu0 = people.map((h) => namespaceCpu(lan.ns(h)));
    const server0 = namespaceCpu(lan.ns("srv"));
    const t0 = Date.now();
    await sleep(window);
    const cpu1 = people.map((h) => namespaceCpu(lan.ns(h)));
    const server1 = namespaceCpu(lan.ns("srv"));
    const seconds = (Date.now() - t0) / 1000;
    const sent = await Promise.all(pages.map(videoBytesSent));
    const cpu = cpu1.map((c, i) => ((c - cpu0[i]) / seconds) * 100);
    const serverCpu = ((server1 - server0) / seconds) * 100;
    const span = sent.map((s, i) => (s.at - sent0[i].at) / 1000);
    const upload = sent.map((s, i) => ((s.bytes - sent0[i].bytes) * 8) / span[i] / 1e6);
    const encoded = sent.map((s, i) => (s.frames - sent0[i].frames) / span[i]);
    const sum = (xs) => xs.reduce((a, b) => a + b, 0);
    const mean = (xs) => sum(xs) / xs.length;
    return {
      mode,
      people: n,
      browser_cpu_percent_mean: Number(mean(cpu).toFixed(1)),
      browser_cpu_percent: cpu.map((c) => Number(c.toFixed(1))),
      browsers_cpu_percent_total: Number(sum(cpu).toFixed(1)),
      upload_mbps_mean: Number(mean(upload).toFixed(2)),
      frames_encoded_per_second_mean: Number(mean(encoded).toFixed(1)),
      sending_connections: sent.map((s) => s.connections),
      server_cpu_percent: Number(serverCpu.toFixed(1)),
      first_page_sends: await sending(pages[0]),
    };
  } finally {
    for (const browser of browsers) await browser.close().catch(() => {});
    server.proc.kill("SIGTERM");
    await server.exited;
    lan.destroy();
  }
}

console.error(`server: ${BIN}`);
for (const n of sizes) {
  for (const mode of ["mesh", "sfu"]) {
    try {
      console.log(JSON.stringify(await run(mode, n)));
    } catch (error) {
      console.log(JSON.stringify({ mode, people: n, failed: error.message.split("\n")[0] }));
    }
  }
}
