// Protects meetings through the server in a cluster (docs/scaling.md, "Media in a cluster"): three
// nodes behind HAProxy share one Redis, five real Chromiums join one room with their signaling
// spread over the nodes, and the room's media goes through exactly one node, its media home,
// which every page reaches directly (not through the balancer); when that node is killed, the
// room gets a new home and every page plays every video again without anyone leaving by hand;
// when that one is stopped (SIGTERM), the same at once; two and three people call through it
// too. The browsers' machines are on Wi-Fi that keeps devices apart (isolated bridge ports): they
// reach the nodes and the balancer, never each other, so only media through the cluster can work.
// Everything runs in network namespaces: Redis, HAProxy, each node and the browsers on their own
// addresses. Needs root for `ip netns`.
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import {
  browserIn,
  createLan,
  FEW_FRAMES_FLAGS,
  joinAs,
  lineMatching,
  NEEDS_ROOT,
  ROOT,
  runIn,
  seesPlaying,
  sending,
  serveIn,
  SMALL_CAMERA,
  SMALL_CAMERA_NO_MIC,
  SMALL_WINDOW,
  spawnIn,
  until,
} from "./fixture.mjs";

const skip = NEEDS_ROOT;
const HOSTS = {
  redis: "10.84.0.9",
  lb: "10.84.0.10",
  n1: "10.84.0.1",
  n2: "10.84.0.2",
  n3: "10.84.0.3",
  b1: "10.84.0.21",
  b2: "10.84.0.22",
};
const NODES = ["n1", "n2", "n3"];
const SITE = `http://${HOSTS.lb}`;
// The page comes through HAProxy over plain HTTP, as in deploy/; the camera needs a secure
// context, which Chromium grants this origin when told to (a real deployment puts TLS in front).
const FLAGS = [...FEW_FRAMES_FLAGS, `--unsafely-treat-insecure-origin-as-secure=${SITE}`];
const SMALL = SMALL_WINDOW;
// Only Ann has a microphone (see SMALL_CAMERA_NO_MIC).
const CAMERA = SMALL_CAMERA;
const CAMERA_ONLY = SMALL_CAMERA_NO_MIC;

let lan;
let redis;
let haproxy;
let haproxyFile;
const nodes = {};

/** A cluster node in its namespace: HTTP on 5000 (what HAProxy balances), media on UDP 5443. */
async function startNodeIn(host) {
  nodes[host] = await serveIn(lan.ns(host), [
    "--bind",
    "0.0.0.0",
    "--port",
    "5000",
    "--media-port",
    "5443",
    "--no-mdns",
    "--cluster",
    `redis://${HOSTS.redis}:6379/`,
    "--node-timeout",
    "3s",
    // Through the server from the first person: five browsers also running a mesh first would
    // starve two cores (the move at the fifth is cluster.test.mjs's, with socket.io clients).
    "--media",
    "sfu",
  ]);
  return nodes[host];
}

before(async () => {
  if (skip) return;
  lan = createLan(HOSTS, { isolated: ["b1", "b2"] });
  redis = spawnIn(lan.ns("redis"), "redis-server", [
    "--bind",
    HOSTS.redis,
    "--port",
    "6379",
    "--protected-mode",
    "no",
    "--save",
    "",
    "--appendonly",
    "no",
  ]);
  await lineMatching(redis, /Ready to accept connections/);
  await Promise.all(NODES.map(startNodeIn));
  const servers = NODES.map((n, i) => `    server node${i + 1} ${HOSTS[n]}:5000 cookie node${i + 1}`).join("\n");
  const config = fs
    .readFileSync(path.join(ROOT, "deploy/haproxy.cfg"), "utf8")
    .replace(/^\s*bind :80$/m, `    bind ${HOSTS.lb}:80`)
    .replace(/^\s*server node1 .*$/m, servers)
    .replace(/^\s*server node\d+ .*\n/gm, (line) => (servers.includes(line.trim()) ? line : ""));
  haproxyFile = path.join(os.tmpdir(), `fm-haproxy-media-${process.pid}.cfg`);
  fs.writeFileSync(haproxyFile, config);
  haproxy = spawnIn(lan.ns("lb"), "haproxy", ["-db", "-f", haproxyFile]);
  // HAProxy has every node in rotation once each answered its health check.
  await until(async () => (await healthyNodes()).size === 3, "HAProxy to reach the three nodes", {
    ms: 20000,
    every: 250,
  });
});

after(async () => {
  haproxy?.proc.kill("SIGKILL");
  for (const node of Object.values(nodes)) node.proc.kill("SIGKILL");
  redis?.proc.kill("SIGKILL");
  if (haproxyFile) fs.rmSync(haproxyFile, { force: true });
  lan?.destroy();
});

/** `path` of the node in namespace `host`, as text (its API answers its own machine only). */
async function fromNode(host, path) {
  const { stdout } = await runIn(lan.ns(host), "node", [
    "-e",
    `fetch('http://127.0.0.1:5000${path}').then(r=>r.text()).then(t=>process.stdout.write(t))`,
  ]);
  return stdout;
}

/** How many pages the forwarder of the node in `host` carries. */
async function carried(host) {
  const metrics = await fromNode(host, "/metrics");
  return Number(metrics.match(/^free_meetings_media_participants (\d+)/m)?.[1] ?? NaN);
}

/** The nodes HAProxy reaches, by the node id each /health names. */
async function healthyNodes() {
  const { stdout } = await runIn(lan.ns("b1"), "node", [
    "-e",
    `Promise.all([0,1,2,3,4,5].map(()=>fetch('${SITE}/health').then(r=>r.json()).then(h=>h.cluster.node).catch(()=>null))).then(n=>process.stdout.write(JSON.stringify(n)))`,
  ]);
  return new Set(JSON.parse(stdout || "[]").filter(Boolean));
}

/** The address:port each page's one media connection goes to (its nominated candidate pair). */
const mediaServer = (page) =>
  page.evaluate(async () => {
    const stats = await fmTest.serverStats();
    if (!stats) return null;
    for (const s of stats) {
      if (s.type === "candidate-pair" && s.nominated && s.state === "succeeded") {
        const remote = stats.find((r) => r.id === s.remoteCandidateId);
        return `${remote.address}:${remote.port}`;
      }
    }
    return null;
  });

/** Which node carries each page's signaling: the names each node's /api/rooms seats. */
async function signalingNodes(live) {
  const where = {};
  for (const host of live) {
    const { rooms } = JSON.parse(await fromNode(host, "/api/rooms"));
    for (const room of rooms) for (const peer of room.peers) where[peer.userName] = host;
  }
  return where;
}

/** Waits until every page sends and receives its media through one server (other than `not`):
 * returns it; on timeout, says where each page's media went at the last look. */
async function oneMediaServer(pages, { not = null, ms = 30000 } = {}) {
  let servers = [];
  return until(
    async () => {
      servers = await Promise.all(pages.map(mediaServer));
      return servers.every((s) => s && s === servers[0] && s !== not) && servers[0];
    },
    "every page's media to go to one node",
    { ms, every: 250 },
  ).catch((error) => {
    throw new Error(`${error.message}: at the last look ${JSON.stringify(servers)}`);
  });
}

/** Where a failover's time went: the lines of the `hosts`' logs about it, from `since` on. */
function printTimeline(hosts, since) {
  const from = new Date(since - 500).toISOString();
  for (const host of hosts)
    for (const line of nodes[host].out.stderr.split("\n"))
      if (
        line.slice(0, 27) >= from &&
        /went silent|left the cluster|carried by a node|peer connected|joined room |media connected/.test(line)
      )
        console.log(`${host} ${line.slice(11, 23)} ${line.slice(line.indexOf(": ") + 2, line.indexOf(": ") + 90)}`);
}

test("two people on Wi-Fi that keeps devices apart call through the cluster, and a third joins them", {
  skip,
  timeout: 120000,
}, async () => {
  const [b1, b2] = [await browserIn(lan, "b1", FLAGS), await browserIn(lan, "b2", FLAGS)];
  const pages = [];
  try {
    const url = `${SITE}/r/small-call`;
    // Ann and Bob on the two machines that cannot reach each other: a 2-way call.
    pages.push(await joinAs(b1, url, "Ann", SMALL, true, CAMERA));
    pages.push(await joinAs(b2, url, "Bob", SMALL, true, CAMERA_ONLY));
    await Promise.all(pages.map((page) => seesPlaying(page, 1)));
    const server = await oneMediaServer(pages);
    const home = NODES.find((n) => server === `${HOSTS[n]}:5443`);
    assert.ok(home, `the media goes straight to a node: ${server}`);
    for (const host of NODES) assert.equal(await carried(host), host === home ? 2 : 0, host);
    console.log(
      `2-way call on isolated Wi-Fi through ${home}; signaling ${JSON.stringify(await signalingNodes(NODES))}`,
    );
    // Cat joins from Bob's machine: a 3-way call, through the same home.
    pages.push(await joinAs(b2, url, "Cat", SMALL, true, CAMERA_ONLY));
    await Promise.all(pages.map((page) => seesPlaying(page, 2)));
    assert.equal(await oneMediaServer(pages), server, "the third joins the room's one home");
    for (const host of NODES) assert.equal(await carried(host), host === home ? 3 : 0, host);
  } finally {
    await b1.close();
    await b2.close();
  }
  // The browsers gone, no forwarder carries anyone: the next test starts from nothing.
  await until(async () => (await Promise.all(NODES.map(carried))).every((n) => n === 0), "every forwarder empty", {
    ms: 20000,
    every: 250,
  });
});

test("five people whose signaling lands on three nodes: the room's media goes through one node, through another when that one is killed, and through the last when that one is stopped", {
  skip,
  timeout: 300000,
}, async () => {
  // The two browsers' machines reach the balancer, not each other.
  const ping = (from, to) => runIn(lan.ns(from), "ping", ["-c", "1", "-W", "1", to]).then((r) => r.code);
  assert.equal(await ping("b1", HOSTS.lb), 0);
  assert.notEqual(await ping("b1", HOSTS.b2), 0);
  const [b1, b2] = [await browserIn(lan, "b1", FLAGS), await browserIn(lan, "b2", FLAGS)];
  const pages = [];
  try {
    const url = `${SITE}/r/everyone`;
    const names = ["Ann", "Bob", "Cat", "Dan", "Eve"];
    for (const [i, name] of names.entries()) {
      pages.push(await joinAs(i % 2 ? b2 : b1, url, name, SMALL, true, i === 0 ? CAMERA : CAMERA_ONLY));
    }
    await Promise.all(pages.map((page) => seesPlaying(page, 4)));
    const signaling = await signalingNodes(NODES);
    console.log(`signaling by node: ${JSON.stringify(signaling)}`);
    assert.ok(new Set(Object.values(signaling)).size >= 2, `signaling spread over nodes: ${JSON.stringify(signaling)}`);
    const server = await oneMediaServer(pages);
    const home = NODES.find((n) => server === `${HOSTS[n]}:5443`);
    assert.ok(home, `the media goes straight to a node, not to the balancer: ${server}`);
    console.log(`media home: ${home} (${server})`);
    // The home's forwarder carries all five; the other nodes' carry nobody.
    for (const host of NODES) assert.equal(await carried(host), host === home ? 5 : 0, host);

    nodes[home].proc.kill("SIGKILL");
    const killed = Date.now();
    const live = NODES.filter((n) => n !== home);
    const newServer = await oneMediaServer(pages, { not: server, ms: 60000 });
    console.log(
      `killed ${home} at ${new Date(killed).toISOString().slice(11, 23)}; every page connected to ${newServer} ${Date.now() - killed} ms after`,
    );
    await Promise.all(pages.map((page) => seesPlaying(page, 4)));
    const gap = Date.now() - killed;
    const newHome = live.find((n) => newServer === `${HOSTS[n]}:5443`);
    assert.ok(newHome, `a surviving node carries the media now: ${newServer}`);
    console.log(`media home ${home} killed: every page played every video through ${newHome} ${gap} ms later`);
    printTimeline(live, killed);
    const after = await signalingNodes(live);
    assert.deepEqual(Object.keys(after).sort(), [...names].sort(), "nobody was left out");

    // The new home is stopped the way an admin stops it (SIGTERM): it tells the cluster it leaves,
    // so its rooms get a new home at once, not after the node timeout.
    const stopped = Date.now();
    const [last] = live.filter((n) => n !== newHome);
    assert.equal(await nodes[newHome].stop(), 0, "the node stopped cleanly");
    const lastServer = await oneMediaServer(pages, { not: newServer, ms: 60000 });
    assert.equal(lastServer, `${HOSTS[last]}:5443`, "the one node left carries the media");
    await Promise.all(pages.map((page) => seesPlaying(page, 4)));
    const stopGap = Date.now() - stopped;
    console.log(
      `media home ${newHome} stopped (SIGTERM): every page played every video through ${last} ${stopGap} ms later`,
    );
    printTimeline([newHome, last], stopped);
    const waited = nodes[last].out.stderr
      .split("\n")
      .filter((l) => /went silent/.test(l) && l.slice(0, 27) >= new Date(stopped).toISOString());
    assert.deepEqual(waited, [], "a node that leaves is not waited for as a silent one");
    assert.deepEqual(Object.keys(await signalingNodes([last])).sort(), [...names].sort(), "nobody was left out");
  } catch (error) {
    for (const page of pages) console.log((await sending(page).catch((e) => [e.message])).join("\n"));
    if (process.env.FM_SERVER_LOG)
      for (const [host, node] of Object.entries(nodes))
        console.log(`--- ${host}\n${node.out.stderr.split("\n").slice(-300).join("\n")}`);
    throw error;
  } finally {
    await b1.close();
    await b2.close();
  }
});
