// Protects cluster mode on a Redis Cluster (docs/scaling.md, "On a Redis Cluster"): nodes given
// any one address of it, or several, serve one room together whichever primary holds the
// deployment's slot (commands follow MOVED), also after that primary forgot the scripts; a node
// whose subscription's Redis dies subscribes through the next address and catches its rooms
// up; a list of addresses that is not a Redis
// Cluster, or a database number on one, is refused at start with what to do. And on a single
// Redis: a Redis that forgot the scripts (SCRIPT FLUSH, as after a restart or a failover) gets
// them again without losing or reordering one message. Real redis-server in cluster mode (three
// primaries, no replicas), created by redis-cli. The contract and room tests also run whole
// against such a cluster (FM_CLUSTER=redis-cluster in the test command).
import assert from "node:assert/strict";
import { execFile, execFileSync } from "node:child_process";
import { after, test } from "node:test";
import {
  BIN,
  client,
  closeAll,
  join,
  spawnCollecting,
  startNode,
  startRedis,
  startRedisCluster,
  until,
} from "./fixture.mjs";

const started = [];
after(() => {
  closeAll();
  for (const p of started) p.proc.kill("SIGKILL");
});

async function node(url, args = []) {
  const n = await startNode(["--cluster", url, ...args]);
  started.push(n);
  return n;
}

const cli = (port, ...args) => execFileSync("redis-cli", ["-p", String(port), ...args], { encoding: "utf8" }).trim();

/** The server of `cluster` that holds the deployment's keys (hash tag `{fm}`), and the others. */
function owner(cluster) {
  for (const server of cluster.servers) {
    const answer = cli(server.port, "EXISTS", "{fm}:nodes");
    if (!answer.includes("MOVED")) return [server, cluster.servers.filter((s) => s !== server)];
  }
  throw new Error("no server holds the {fm} slot");
}

/** Ann on `a` and Bob on `b` in one room: resolves once each knows the other. */
async function pair(a, b, room) {
  const ann = await client(a.url, "socket.io");
  const bob = await client(b.url, "ws");
  await join(ann, room, "Ann");
  const annSeesBob = ann.next("user-joined");
  assert.deepEqual(await join(bob, room, "Bob"), [{ id: ann.id, userName: "Ann" }]);
  await annSeesBob;
  return [ann, bob];
}

/** `count` signals from `from` to `to`, numbered: resolves with the numbers as they arrived. */
async function signals(from, to, count, label) {
  const got = to.record("signal");
  for (let i = 0; i < count; i++) from.emit("signal", { to: to.id, signal: { i } });
  await until(() => got.length >= count, `${count} ${label}`, { ms: 20000, every: 20 });
  return got.map((s) => s.signal.i);
}

const inOrder = (count) => Array.from({ length: count }, (_, i) => i);

test("two nodes on a three-primary Redis Cluster, each given one address that does not hold the deployment's keys, serve one room", {
  timeout: 90000,
}, async () => {
  const cluster = await startRedisCluster();
  try {
    const [held, others] = owner(cluster);
    const n1 = await node(others[0].url);
    const n2 = await node(others[1].url);
    assert.match(n1.logs(), /joined the cluster .*redis="redis cluster"/);
    const [ann, bob] = await pair(n1, n2, "sharded");
    const chat = ann.next("chat");
    bob.emit("chat", { text: "through the cluster" });
    assert.equal((await chat).text, "through the cluster");
    assert.deepEqual(await signals(ann, bob, 500, "signals from node 1 at node 2"), inOrder(500));
    // The primary forgets the scripts (as a promoted replica may not have them): the next join
    // runs its script again with the body.
    cli(held.port, "SCRIPT", "FLUSH");
    const cy = await client(n1.url, "socket.io");
    assert.equal((await join(cy, "sharded", "Cy")).length, 2);
    assert.match(n1.logs(), /Redis did not know this node's scripts/);
    const left = ann.next("user-left");
    bob.close();
    assert.equal(await left, bob.id);
    await Promise.all([n1.stop(), n2.stop()]);
  } finally {
    cluster.proc.kill("SIGKILL");
  }
});

test("the Redis Cluster node a node subscribed through dies: it subscribes through its next address and the room carries on", {
  timeout: 90000,
}, async () => {
  // Without full coverage a slot's primary answers while another primary is down, as a Redis
  // Cluster with replicas does once one is promoted.
  const cluster = await startRedisCluster(3, ["--cluster-require-full-coverage", "no"]);
  try {
    const [held, others] = owner(cluster);
    // Node 1 subscribes through its first address: the primary that will die.
    const n1 = await node(`${others[0].url},${held.url}`);
    const n2 = await node(held.url);
    const [ann, bob] = await pair(n1, n2, "resubscribed");
    others[0].proc.kill("SIGKILL");
    await until(() => /lost the cluster's subscription connection/.test(n1.logs()), "node 1 to notice", {
      ms: 20000,
      every: 50,
    });
    // Bob's signals reach Ann again once node 1 has subscribed through the next address.
    await until(
      async () => {
        const got = ann.next("signal", 500).catch(() => null);
        bob.emit("signal", { to: ann.id, signal: { probe: true } });
        return (await got) !== null;
      },
      "a signal from node 2 at node 1 again",
      { ms: 20000, every: 0 },
    );
    const chat = ann.next("chat");
    bob.emit("chat", { text: "still here" });
    assert.equal((await chat).text, "still here");
    await Promise.all([n1.stop(), n2.stop()]);
  } finally {
    cluster.proc.kill("SIGKILL");
  }
});

test("several addresses of a Redis on its own, or a database number on a Redis Cluster, are refused at start with what to do", {
  timeout: 60000,
}, async () => {
  const single = await startRedis();
  const cluster = await startRedisCluster();
  try {
    const refused = async (url, pattern) => {
      const run = spawnCollecting(BIN, ["serve", "--cluster", url, "--no-mdns", "--port", "0"]);
      assert.equal(await run.exited, 2, run.out.stderr);
      assert.match(run.out.stderr, pattern);
    };
    await refused(
      `${single.url},${single.url}`,
      /several addresses, which is for a Redis Cluster, .* give its one address/,
    );
    await refused(
      cluster.servers[0].url.replace(/\/$/, "/2"),
      /node of a Redis Cluster, which has only database 0: leave the database out/,
    );
  } finally {
    single.proc.kill("SIGKILL");
    cluster.proc.kill("SIGKILL");
  }
});

test("a Redis that forgot the scripts mid-call (SCRIPT FLUSH) gets them again: 1,000 signals across nodes arrive complete and in order", {
  timeout: 60000,
}, async () => {
  const redis = await startRedis();
  try {
    const args = ["--event-rate", "100000", "--event-burst", "100000"];
    const n1 = await node(redis.url, args);
    const n2 = await node(redis.url, args);
    const [ann, bob] = await pair(n1, n2, "flushed");
    const got = bob.record("signal");
    for (let i = 0; i < 1000; i++) ann.emit("signal", { to: bob.id, signal: { i } });
    // While they flow (redis-cli in the background, so that the signals leave meanwhile).
    await new Promise((resolve, reject) =>
      execFile("redis-cli", ["-p", String(redis.port), "SCRIPT", "FLUSH"], (error) =>
        error ? reject(error) : resolve(),
      ),
    );
    const atFlush = got.length;
    await until(() => got.length >= 1000, "1,000 signals at node 2", { ms: 20000, every: 20 });
    console.log(`SCRIPT FLUSH ran when node 2 had delivered ${atFlush} of the 1,000 signals`);
    assert.deepEqual(
      got.map((s) => s.signal.i),
      inOrder(1000),
    );
    assert.match(n1.logs(), /Redis did not know this node's scripts/);
    // Joins, which run the longest script, work after it too.
    const cy = await client(n2.url, "socket.io");
    assert.equal((await join(cy, "flushed", "Cy")).length, 2);
    await Promise.all([n1.stop(), n2.stop()]);
  } finally {
    redis.proc.kill("SIGKILL");
  }
});
