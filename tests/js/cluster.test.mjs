// Protects cluster mode (`--cluster redis://…`, docs/scaling.md): nodes that share a Redis serve
// the same rooms. A room's members on different nodes see each other (init-users, user-joined,
// user-left), signals and chat cross nodes only within a room and in order, the room cap counts
// every node, and a node that stops (SIGTERM) or dies (kill -9) takes its people out of their
// rooms, told once to everyone left; Redis restarted mid-call is survived; Socket.IO's polling
// transport works through HAProxy with its sticky cookie and fails as documented without.
// Real redis-server, real nodes, real HAProxy (deploy/haproxy.cfg), both transports.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { once } from "node:events";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import {
  barrier,
  BIN,
  client,
  closeAll,
  freePort,
  health,
  join,
  metrics,
  sleep,
  spawnCollecting,
  startBalancedCluster,
  startCluster,
  startNode,
  startRedis,
  until,
  withWitness,
} from "./fixture.mjs";

let redis;
const nodes = [];
// Each test is bounded on its own, so that a stuck one is named (the file has a limit too).

before(async () => {
  redis = await startRedis();
});

after(() => {
  closeAll();
  for (const node of nodes) node.proc.kill("SIGKILL");
  redis?.proc.kill("SIGKILL");
});

async function cluster(count, args = []) {
  const started = await startCluster(redis, count, args);
  nodes.push(...started);
  return started;
}

const healthOf = async (node) => (await health(node.url)).body;
const ids = (members) => members.map((m) => m.id).sort();

test("a room spans nodes: joins, signals, chat and leaves cross them, and only within the room", {
  timeout: 60000,
}, async () => {
  const [n1, n2, n3] = await cluster(3);
  await until(async () => (await healthOf(n1)).cluster?.nodes === 3, "three nodes registered", {
    ms: 10000,
    every: 100,
  });
  const h = await healthOf(n2);
  assert.equal(h.cluster.connected, true, JSON.stringify(h));

  const ann = await client(n1.url, "socket.io");
  const bob = await client(n2.url, "ws");
  const cy = await client(n3.url, "socket.io");
  assert.deepEqual(await join(ann, "standup", "Ann"), []);
  const annHearsBob = ann.next("user-joined");
  assert.deepEqual(await join(bob, "standup", "Bob"), [{ id: ann.id, userName: "Ann" }]);
  assert.deepEqual(await annHearsBob, { id: bob.id, userName: "Bob" });
  const joinedCy = [ann.next("user-joined"), bob.next("user-joined")];
  assert.deepEqual(ids(await join(cy, "standup", "Cy")), [ann.id, bob.id].sort());
  for (const seen of await Promise.all(joinedCy)) assert.equal(seen.id, cy.id);

  // A signal from node 1 to node 3, and back.
  const toCy = cy.next("signal");
  ann.emit("signal", { to: cy.id, signal: { sdp: "offer" } });
  assert.deepEqual(await toCy, { from: ann.id, userName: "Ann", signal: { sdp: "offer" } });
  const toAnn = ann.next("signal");
  cy.emit("signal", { to: ann.id, signal: { sdp: "answer" } });
  assert.equal((await toAnn).from, cy.id);

  // Someone in another room on the same nodes reaches nobody in this one.
  const dan = await client(n2.url, "socket.io");
  await join(dan, "elsewhere", "Dan");
  const annSignals = ann.record("signal");
  const refused = dan.next("error");
  dan.emit("signal", { to: ann.id, signal: { sneaky: true } });
  assert.match(await refused, /not in your room/);

  // Chat reaches the three once, the sender included, and not Dan.
  const danChats = dan.record("chat");
  const chats = [ann, bob, cy].map((c) => c.next("chat"));
  bob.emit("chat", { text: "hello from node 2" });
  for (const chat of await Promise.all(chats)) {
    assert.equal(chat.from, bob.id);
    assert.equal(chat.text, "hello from node 2");
  }

  // A media state (muted, camera off) reaches the others on other nodes, not the sender.
  const states = [bob.next("state"), cy.next("state")];
  ann.emit("state", { muted: true, camera: false });
  for (const state of await Promise.all(states)) {
    assert.deepEqual(state, { from: ann.id, muted: true, camera: false, screen: null });
  }

  // Leaving is told on every node.
  const left = [ann.next("user-left"), bob.next("user-left")];
  cy.emit("leave-room");
  assert.deepEqual(await Promise.all(left), [cy.id, cy.id]);
  // What must not have arrived, after a barrier through the same path (node 2 to node 1).
  const marker = ann.next("signal");
  bob.emit("signal", { to: ann.id, signal: { barrier: 1 } });
  assert.equal((await marker).from, bob.id);
  assert.deepEqual(
    annSignals.filter((s) => s.signal?.sneaky),
    [],
  );
  assert.deepEqual(danChats, []);
  // /metrics: the cluster as this node sees it.
  const m = await metrics(n1.url);
  assert.equal(m.free_meetings_cluster_nodes, 3);
  assert.equal(m.free_meetings_cluster_connected, 1);
  assert.ok(m['free_meetings_cluster_messages_total{direction="received"}'] >= 4, JSON.stringify(m));
  assert.ok(m['free_meetings_cluster_messages_total{direction="sent"}'] >= 2);
  assert.ok(m.free_meetings_cluster_redis_seconds_count >= 1);
  await Promise.all([n1.stop(), n2.stop(), n3.stop()]);
});

test("a room's media moves to a server at the fifth person, whichever nodes they are on; one node carries it and answers pages on the others", {
  timeout: 60000,
}, async () => {
  const started = await cluster(3);
  const [n1, n2, n3] = started;
  await until(async () => (await healthOf(n1)).cluster?.nodes === 3, "three nodes registered", {
    ms: 10000,
    every: 100,
  });
  const people = [];
  for (const [i, node] of [n1, n2, n3, n1, n2].entries()) {
    const c = await client(node.url, "socket.io");
    const modes = c.record("media-mode");
    const init = c.next("init-users");
    c.emit("join-room", { roomId: "big", userName: `P${i}`, sfu: true });
    await init;
    people.push({ c, node, modes });
    if (i === 3) {
      // Four are still a mesh: a chat that went round every node says nothing moved before it.
      const chats = people.map((p) => p.c.next("chat"));
      c.emit("chat", { text: "four" });
      await Promise.all(chats);
      assert.deepEqual(
        people.map((p) => p.modes.length),
        [0, 0, 0, 0],
      );
    }
  }
  await until(() => people.every((p) => p.modes.length > 0), "every member to hear the room moved", { ms: 10000 });
  for (const p of people) assert.deepEqual(p.modes, [{ mode: "sfu" }]);
  const homes = started.filter((n) => /room media carried by a node room=big home=\S+ here=true/.test(n.logs()));
  assert.equal(homes.length, 1, "exactly one node carries the room's media");
  // A page that cannot send its media through a server is refused, on any node.
  const old = await client(n3.url, "socket.io");
  const refused = old.next("error");
  old.emit("join-room", { roomId: "big", userName: "Old" });
  assert.match(await refused, /sends its media through the server/);
  // A page whose signaling is on another node reaches the home's forwarder, and hears it back.
  const away = people.find((p) => p.node !== homes[0]);
  const failed = away.c.next("sfu-failed");
  away.c.emit("sfu-offer", { sdp: "not an offer" });
  assert.match((await failed).reason, /the offer could not be read/);
  await Promise.all(started.map((n) => n.stop()));
});

test("a state the rate limit refuses never reaches another node; the ones it took do, in order", {
  timeout: 60000,
}, async () => {
  // One event a second after a burst of three: the join and two states are taken, the third
  // state is refused at its sender's node.
  const [n1, n2] = await cluster(2, ["--event-rate", "1", "--event-burst", "3"]);
  const ann = await client(n1.url, "socket.io");
  const bob = await client(n2.url, "socket.io");
  await join(ann, "limited", "Ann");
  const annHearsBob = ann.next("user-joined");
  await join(bob, "limited", "Bob");
  await annHearsBob;
  const states = bob.record("state");
  const refused = ann.next("error");
  for (const muted of [true, false, true]) ann.emit("state", { muted, camera: true });
  assert.match(await refused, /too many|rate|slow down/i);
  // The limit is per second: once a second has passed, Ann's chat goes through the same path
  // (her node's writer, then Bob's node), after the states she sent before it.
  await sleep(1100);
  const chat = bob.next("chat");
  ann.emit("chat", { text: "after" });
  assert.equal((await chat).text, "after");
  assert.deepEqual(
    states.map((s) => s.muted),
    [true, false],
    "the two states taken, and not the refused one",
  );
  await Promise.all([n1.stop(), n2.stop()]);
});

test("1,000 back-to-back signals from node 1 to node 3 arrive complete and in order", { timeout: 60000 }, async () => {
  const [n1, , n3] = await cluster(3, ["--event-rate", "100000", "--event-burst", "100000"]);
  const ann = await client(n1.url, "ws");
  const cy = await client(n3.url, "socket.io");
  await join(ann, "bulk", "Ann");
  // As a page does: Ann signals Cy once told Cy is there (node 1 hears of the join through Redis).
  const annSeesCy = ann.next("user-joined");
  await join(cy, "bulk", "Cy");
  await annSeesCy;
  const got = cy.record("signal");
  for (let i = 0; i < 1000; i++) ann.emit("signal", { to: cy.id, signal: { i } });
  await until(() => got.length >= 1000, "1,000 signals at node 3", { ms: 20000, every: 20 });
  assert.deepEqual(
    got.map((s) => s.signal.i),
    Array.from({ length: 1000 }, (_, i) => i),
  );
});

test("the room cap counts the members on every node", { timeout: 60000 }, async () => {
  const [n1, n2, n3] = await cluster(3, ["--max-peers-per-room", "2"]);
  const ann = await client(n1.url, "socket.io");
  const bob = await client(n2.url, "socket.io");
  const cy = await client(n3.url, "ws");
  await join(ann, "small", "Ann");
  await join(bob, "small", "Bob");
  const error = cy.next("error");
  cy.emit("join-room", { roomId: "small", userName: "Cy" });
  assert.match(await error, /room 'small' is full \(2 peers\)/);
  // A place freed on one node is free on the others.
  const left = ann.next("user-left");
  bob.emit("leave-room");
  await left;
  assert.deepEqual(ids(await join(cy, "small", "Cy")), [ann.id]);
});

test("a node stopped (SIGTERM) or killed (kill -9): its people leave their rooms, told once, and the others carry on", {
  timeout: 60000,
}, async () => {
  const [n1, n2, n3] = await cluster(3, ["--node-timeout", "2s"]);
  const ann = await client(n1.url, "socket.io");
  const bob = await client(n2.url, "ws");
  const cy = await client(n3.url, "socket.io");
  const dee = await client(n3.url, "ws");
  for (const [c, name] of [
    [ann, "Ann"],
    [bob, "Bob"],
    [cy, "Cy"],
    [dee, "Dee"],
  ])
    await join(c, "call", name);
  const annLeft = ann.record("user-left");
  const bobLeft = bob.record("user-left");
  // A Socket.IO client forgets its id once disconnected: keep them.
  const [cyId, deeId, bobId] = [cy.id, dee.id, bob.id];

  // kill -9: no goodbye. Within the node timeout (and a heartbeat), Cy and Dee leave, once each.
  const killed = Date.now();
  n3.proc.kill("SIGKILL");
  await until(() => annLeft.length >= 2 && bobLeft.length >= 2, "user-left for node 3's people", {
    ms: 8000,
    every: 50,
  });
  const took = Date.now() - killed;
  assert.ok(took < 2000 + 2000, `told after ${took} ms (node timeout 2 s, heartbeat 0.5 s)`);
  assert.deepEqual(annLeft.sort(), [cyId, deeId].sort());
  assert.deepEqual(bobLeft.sort(), [cyId, deeId].sort());

  // The others' call carries on.
  const toBob = bob.next("signal");
  ann.emit("signal", { to: bob.id, signal: { still: "here" } });
  assert.equal((await toBob).from, ann.id);

  // SIGTERM: node 2's people are disconnected and the room told at once.
  const bobClosed = bob.closed();
  const told = ann.next("user-left", 3000);
  await n2.stop();
  await bobClosed;
  assert.equal(await told, bobId);
  // Once: nothing more arrives for the people already gone.
  const marker = ann.next("signal");
  const eve = await client(n1.url, "ws");
  await join(eve, "call", "Eve");
  eve.emit("signal", { to: ann.id, signal: { done: true } });
  await marker;
  assert.deepEqual(annLeft.sort(), [cyId, deeId, bobId].sort());
});

test("Redis restarted mid-call: no node falls, joins are refused meanwhile, a pair on one node keeps talking, and all is whole again soon after", {
  timeout: 60000,
}, async () => {
  const own = await startRedis();
  const [n1, n2] = await startCluster(own, 2, ["--node-timeout", "2s"]);
  nodes.push(n1, n2);
  const ann = await client(n1.url, "socket.io");
  const bob = await client(n2.url, "ws");
  await join(ann, "call", "Ann");
  await join(bob, "call", "Bob");
  const annLeft = ann.record("user-left");

  // A witness pair on node 1 signals every 20 ms throughout; each probe must arrive within 1 s.
  await withWitness(n1.url, async () => {
    own.proc.kill("SIGKILL");
    await own.exited;
    // A join needs the cluster: refused with a clear error, the connection kept.
    const carl = await client(n2.url, "socket.io");
    const refused = carl.next("error", 6000);
    carl.emit("join-room", { roomId: "later", userName: "Carl" });
    assert.match(await refused, /cannot reach the other servers of its cluster/);
    // The node stays up and says it cannot admit joins: 503 with the reason, so that a load
    // balancer sends newcomers elsewhere.
    const down = await fetch(`${n1.url}/health`);
    assert.equal(down.status, 503, "not ready while Redis is lost");
    const said = await down.json();
    assert.equal(said.cluster.connected, false, "and says it is out of its cluster");
    assert.match(said.reason, /cannot reach its cluster's Redis/);

    // Redis back, empty (no persistence): within 5 s the nodes put their rooms back.
    const back = await startRedis(own.port);
    const restarted = Date.now();
    try {
      const dan = await client(n2.url, "socket.io");
      await until(
        async () => {
          const init = dan.next("init-users", 1000).catch(() => null);
          dan.emit("join-room", { roomId: "call", userName: "Dan" });
          const members = await init;
          return members && ids(members).join() === [ann.id, bob.id].sort().join();
        },
        "a joiner on node 2 to see Ann (node 1) and Bob (node 2)",
        { ms: 8000, every: 200 },
      );
      // Each node's subscription comes back on its own (up to 2 s after Redis): until it has,
      // what the other node sends it is lost, and it says so in /health. Both back, then talk.
      await until(
        async () => (await healthOf(n1)).cluster.connected && (await healthOf(n2)).cluster.connected,
        "both nodes back in their cluster (subscriptions included)",
        { ms: 8000, every: 100 },
      );
      assert.equal((await fetch(`${n1.url}/health`)).status, 200, "ready again once back");
      assert.ok(Date.now() - restarted < 5000, `whole again after ${Date.now() - restarted} ms`);
      await barrier(ann, bob);
      await barrier(bob, ann);
      // Nothing to await for an event that must not come: the nodes' last look at the rooms
      // runs two node timeouts (4 s) after each got Redis back; after it, nobody was taken for
      // gone.
      await sleep(4500);
      await barrier(bob, ann);
      assert.deepEqual(annLeft, [], "nobody left Ann's room");
    } finally {
      back.proc.kill("SIGKILL");
    }
  });
});

test("Redis restarted empty under a room whose media goes through a node: the nodes put its home back, and pages that cannot follow it there are still refused", {
  timeout: 60000,
}, async () => {
  const own = await startRedis();
  const [n1, n2] = await startCluster(own, 2, ["--node-timeout", "2s", "--media", "sfu"]);
  nodes.push(n1, n2);
  const ann = await client(n1.url, "socket.io");
  const bob = await client(n2.url, "socket.io");
  for (const [c, name] of [
    [ann, "Ann"],
    [bob, "Bob"],
  ]) {
    const init = c.next("init-users");
    c.emit("join-room", { roomId: "served", userName: name, sfu: true });
    await init;
  }
  const home = redisCli(["GET", "{fm}:media:served"], own.port);
  assert.match(home, /^[0-9a-f]{12}$/, "the room has a media home");
  own.proc.kill("SIGKILL");
  await own.exited;
  const back = await startRedis(own.port);
  try {
    await until(
      () => redisCli(["GET", "{fm}:media:served"], own.port) === home,
      "the room's media home to be put back",
      {
        ms: 8000,
        every: 100,
      },
    );
    assert.equal(redisCli(["SISMEMBER", `{fm}:homes:${home}`, "served"], own.port), "1");
    await until(
      async () => (await healthOf(n1)).cluster.connected && (await healthOf(n2)).cluster.connected,
      "both nodes back in their cluster",
      { ms: 8000, every: 100 },
    );
    const old = await client(n2.url, "socket.io");
    const refused = old.next("error");
    old.emit("join-room", { roomId: "served", userName: "Old" });
    assert.match(await refused, /sends its media through the server/);
  } finally {
    back.proc.kill("SIGKILL");
  }
});

test("the media home dies while Redis is away: once Redis is back, the room gets a new home on a live node and its pages are told", {
  timeout: 60000,
}, async () => {
  const own = await startRedis();
  const [n1, n2] = await startCluster(own, 2, ["--node-timeout", "2s", "--media", "sfu"]);
  nodes.push(n1, n2);
  const people = [];
  for (const [node, name] of [
    [n1, "Ann"],
    [n2, "Bob"],
  ]) {
    const c = await client(node.url, "socket.io");
    const init = c.next("init-users");
    c.emit("join-room", { roomId: "orphan", userName: name, sfu: true });
    await init;
    people.push(c);
  }
  const home = redisCli(["GET", "{fm}:media:orphan"], own.port);
  const ids = [(await healthOf(n1)).cluster.node, (await healthOf(n2)).cluster.node];
  const [dead, live, liveId, there] = home === ids[0] ? [n1, n2, ids[1], people[1]] : [n2, n1, ids[0], people[0]];
  const told = there.next("sfu-failed", 20000);
  own.proc.kill("SIGKILL");
  await own.exited;
  const deadExit = new Promise((resolve) => dead.proc.once("exit", resolve));
  dead.proc.kill("SIGKILL");
  await deadExit;
  const back = await startRedis(own.port);
  try {
    // The live node puts the old home back at its first look, and, at its second (two node
    // timeouts later), finds that node registered at neither look: a new home, on itself.
    await until(() => redisCli(["GET", "{fm}:media:orphan"], own.port) === liveId, "a new home on the live node", {
      ms: 15000,
      every: 200,
    });
    assert.match((await told).reason, /stopped/);
    assert.match(live.logs(), new RegExp(`room media carried by a node room=orphan home=${liveId} here=true`));
  } finally {
    back.proc.kill("SIGKILL");
  }
});

test("a node that stalls past the node timeout is taken out, then steps down: its people are disconnected, and it serves again", {
  timeout: 60000,
}, async () => {
  const [n1, n2] = await cluster(2, ["--node-timeout", "2s"]);
  const ann = await client(n1.url, "ws");
  const bob = await client(n2.url, "socket.io");
  await join(ann, "frozen", "Ann");
  await join(bob, "frozen", "Bob");
  const bobId = bob.id;
  // Frozen (as by a long pause or a partition from Redis): no heartbeat for 3 s.
  n2.proc.kill("SIGSTOP");
  assert.equal(await ann.next("user-left", 6000), bobId, "the others are told once the timeout passes");
  const bobClosed = bob.closed(10000);
  n2.proc.kill("SIGCONT");
  // Back, it finds itself declared dead: it closes its connections rather than serve half-known.
  await bobClosed;
  await until(() => /declared this node dead/.test(n2.logs()), "the step-down logged", { ms: 5000, every: 50 });
  // Then it registers again and serves: a new person on it meets Ann.
  const cy = await client(n2.url, "socket.io");
  await until(
    async () => {
      const init = cy.next("init-users", 1000).catch(() => null);
      cy.emit("join-room", { roomId: "frozen", userName: "Cy" });
      const members = await init;
      return members && ids(members).join() === ann.id;
    },
    "a joiner on the node that stepped down to see Ann",
    { ms: 8000, every: 200 },
  );
  await barrier(cy, ann);
  await barrier(ann, cy);
});

test("Socket.IO long-polling through HAProxy: kept on its node by the cookie; without it the session fails as documented", {
  timeout: 60000,
}, async () => {
  const lb = await startBalancedCluster();
  try {
    const polling = { transports: ["polling"], withCredentials: true };
    const ann = await client(lb.url, "socket.io", polling);
    const bob = await client(lb.url, "socket.io", polling);
    await join(ann, "poll", "Ann");
    await join(bob, "poll", "Bob");
    await barrier(ann, bob);
    await barrier(bob, ann);
    // No cookie kept: the session's next requests go round to nodes that do not know it.
    const lost = await client(lb.url, "socket.io", { transports: ["polling"], withCredentials: false, wait: false });
    const failed = await Promise.race([
      lost.next("connect_error", 10000).then(() => "connect_error"),
      lost.next("disconnect", 10000).then(() => "disconnect"),
    ]);
    assert.ok(["connect_error", "disconnect"].includes(failed));
    assert.match(lb.logs() + lb.haproxy.out.stdout, /Session ID unknown|400/);
  } finally {
    await lb.stop();
  }
});

/** A TCP relay to `port` on loopback that the test can cut (every connection reset, nothing
 * accepted) and restore on the same port: one node's way to Redis. */
async function cuttableRelay(port) {
  const listenPort = await freePort();
  const sockets = new Set();
  let server;
  const open = async () => {
    server = net.createServer((inbound) => {
      const outbound = net.connect(port, "127.0.0.1");
      for (const s of [inbound, outbound]) {
        sockets.add(s);
        s.on("close", () => sockets.delete(s));
        s.on("error", () => {});
      }
      inbound.pipe(outbound).pipe(inbound);
    });
    server.listen(listenPort, "127.0.0.1");
    await once(server, "listening");
  };
  await open();
  return {
    url: `redis://127.0.0.1:${listenPort}/`,
    async cut() {
      await new Promise((resolve) => {
        server.close(resolve);
        for (const s of sockets) s.resetAndDestroy();
      });
    },
    restore: open,
  };
}

test("one node cut off from Redis answers /health 503 within 3 s and HAProxy sends newcomers to the others; once back, 200 and newcomers again", {
  timeout: 60000,
}, async () => {
  let relay;
  const lb = await startBalancedCluster([], {
    redisUrls: async (redis) => {
      relay = await cuttableRelay(redis.port);
      return [relay.url, redis.url, redis.url];
    },
  });
  try {
    const [cut] = lb.nodes;
    const cutId = (await healthOf(cut)).cluster.node;
    /** Which node answers each of `count` requests through HAProxy. */
    const answering = async (count) => {
      const seen = [];
      for (let i = 0; i < count; i++) seen.push((await (await fetch(`${lb.url}/health`)).json()).cluster.node);
      return seen;
    };
    await relay.cut();
    const since = Date.now();
    await until(async () => (await fetch(`${cut.url}/health`)).status === 503, "503 from the node cut off", {
      ms: 3000,
      every: 50,
    });
    const notReady = Date.now() - since;
    console.log(`/health answered 503 ${notReady} ms after the node lost Redis`);
    // HAProxy takes it out after two failed checks (deploy/haproxy.cfg: every 2 s, fall 2).
    await until(async () => !(await answering(9)).includes(cutId), "HAProxy to send nobody to the node cut off", {
      ms: 15000,
      every: 200,
    });
    const newcomer = await client(lb.url, "socket.io", { withCredentials: true });
    assert.deepEqual(await join(newcomer, "meanwhile", "Nia"), [], "a newcomer joins through the others");
    assert.ok((await answering(9)).every((node) => node !== cutId));
    await relay.restore();
    await until(async () => (await fetch(`${cut.url}/health`)).status === 200, "200 once Redis is back", {
      ms: 10000,
      every: 100,
    });
    await until(async () => (await answering(9)).includes(cutId), "HAProxy to send newcomers to it again", {
      ms: 15000,
      every: 200,
    });
  } finally {
    await lb.stop();
    await relay?.cut();
  }
});

/** Runs redis-cli against the test's Redis (or `port`): its output, trimmed. */
function redisCli(args, port = redis.port) {
  return execFileSync("redis-cli", ["-p", String(port), ...args], { encoding: "utf8" }).trim();
}

test("a chat forged into Redis reaches nobody; an empty room's counter expires", { timeout: 60000 }, async () => {
  const [n1, n2] = await cluster(2);
  const ann = await client(n1.url, "socket.io");
  const bob = await client(n2.url, "ws");
  await join(ann, "forged", "Ann");
  const annSeesBob = ann.next("user-joined");
  await join(bob, "forged", "Bob");
  await annSeesBob;
  const chats = bob.record("chat");
  // Published into Redis as if from a member under another name, and from nobody in the room.
  for (const from of [ann.id, "AAAAAAAAAAAAAAAA"]) {
    const forged = { t: "chat", room: "forged", from, name: "Mallory", text: "wire the money", at: 0 };
    // Sent to the room's channel of every database's naming, so a wrong guess cannot hide it.
    for (const channel of ["fm:0:room:forged", "fm:room:forged"])
      redisCli(["PUBLISH", channel, JSON.stringify(forged)]);
  }
  ann.emit("chat", { text: "hello" });
  await until(() => chats.length >= 1, "Ann's real chat at Bob's");
  await barrier(ann, bob);
  assert.deepEqual(
    chats.map((c) => `${c.userName}: ${c.text}`),
    ["Ann: hello"],
    "only the real message arrives",
  );
  // Everyone leaves: the room's counter is set to go.
  ann.close();
  bob.close();
  await until(() => Number(redisCli(["TTL", "{fm}:seq:forged"])) > 0, "an expiry on {fm}:seq:forged", {
    ms: 10000,
    every: 50,
  });
});

test("deployments with different --cluster-prefix share a Redis without hearing each other", {
  timeout: 60000,
}, async () => {
  const [a1, a2] = await cluster(2, ["--cluster-prefix", "acme"]);
  const [b1] = await cluster(1, ["--cluster-prefix", "beta"]);
  const ann = await client(a1.url);
  const bob = await client(a2.url);
  const eve = await client(b1.url);
  await join(ann, "same-name", "Ann");
  const annSeesBob = ann.next("user-joined");
  await join(bob, "same-name", "Bob");
  await annSeesBob;
  // The same room name in the other deployment is another room.
  assert.deepEqual(await join(eve, "same-name", "Eve"), []);
  const heard = ann.record("user-joined");
  await barrier(bob, ann);
  assert.deepEqual(heard, []);
  assert.ok(Number(redisCli(["EXISTS", "{acme}:room:same-name"])) === 1);
  assert.ok(Number(redisCli(["EXISTS", "{beta}:room:same-name"])) === 1);
  const bad = spawnCollecting(BIN, ["serve", "--cluster", redis.url, "--cluster-prefix", "no spaces", "--no-mdns"]);
  assert.equal(await bad.exited, 2);
  assert.match(bad.out.stderr, /--cluster-prefix must be 1-32 characters/);
});

test("a node started with another --media than the cluster's live nodes refuses to start, and says with what to start it", {
  timeout: 60000,
}, async () => {
  const [first] = await cluster(1, ["--cluster-prefix", "policy", "--media", "sfu"]);
  const other = spawnCollecting(BIN, [
    "serve",
    "--cluster",
    redis.url,
    "--cluster-prefix",
    "policy",
    "--no-mdns",
    "--port",
    "0",
  ]);
  assert.equal(await other.exited, 2, other.out.stderr);
  assert.match(
    other.out.stderr,
    /runs --media sfu, this one --media auto --mesh-max 4: .*start this one with --media sfu/,
  );
  // The same policy is welcome; once the other nodes are gone, so is a new one.
  const [second] = await cluster(1, ["--cluster-prefix", "policy", "--media", "sfu"]);
  assert.equal(await first.stop(), 0);
  assert.equal(await second.stop(), 0);
  const [changed] = await cluster(1, ["--cluster-prefix", "policy", "--media", "mesh"]);
  assert.match(changed.logs(), /joined the cluster/);
});

test("a node with a password in its Redis URL never logs the password", { timeout: 60000 }, async () => {
  const secured = await startRedis(undefined, ["--requirepass", "s3cret-pw"]);
  try {
    const url = `redis://:s3cret-pw@127.0.0.1:${secured.port}/`;
    const node = await startNode(["--cluster", url]);
    nodes.push(node);
    await until(() => /joined the cluster/.test(node.logs()), "the node to join");
    assert.match(node.logs(), /url=redis:\/\/:\*\*\*\*@127\.0\.0\.1/);
    const wrong = spawnCollecting(BIN, [
      "serve",
      "--cluster",
      url.replace("s3cret-pw", "wrong-pw"),
      "--no-mdns",
      "--port",
      "0",
    ]);
    assert.equal(await wrong.exited, 2);
    assert.match(wrong.out.stderr, /cannot reach Redis at redis:\/\/:\*\*\*\*@/);
    for (const text of [node.logs(), wrong.out.stderr]) assert.ok(!/s3cret-pw|wrong-pw/.test(text), text);
  } finally {
    secured.proc.kill("SIGKILL");
  }
});

test("rediss://: nodes reach a Redis over TLS with a password, trusting --cluster-ca; without it they refuse to start", {
  timeout: 60000,
}, async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "fm-rediss-"));
  const openssl = (...args) => execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });
  openssl(
    "req",
    "-x509",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-keyout",
    "ca.key",
    "-out",
    "ca.crt",
    "-days",
    "2",
    "-subj",
    "/CN=fm-test-ca",
  );
  openssl(
    "req",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-keyout",
    "redis.key",
    "-out",
    "redis.csr",
    "-subj",
    "/CN=127.0.0.1",
  );
  fs.writeFileSync(path.join(dir, "san"), "subjectAltName=IP:127.0.0.1\n");
  openssl(
    "x509",
    "-req",
    "-in",
    "redis.csr",
    "-CA",
    "ca.crt",
    "-CAkey",
    "ca.key",
    "-CAcreateserial",
    "-out",
    "redis.crt",
    "-days",
    "2",
    "-extfile",
    "san",
  );
  const tlsPort = await freePort();
  const secured = await startRedis(undefined, [
    "--port",
    "0",
    "--tls-port",
    String(tlsPort),
    "--tls-cert-file",
    path.join(dir, "redis.crt"),
    "--tls-key-file",
    path.join(dir, "redis.key"),
    "--tls-ca-cert-file",
    path.join(dir, "ca.crt"),
    "--tls-auth-clients",
    "no",
    "--requirepass",
    "tls-s3cret",
  ]);
  try {
    const url = `rediss://:tls-s3cret@127.0.0.1:${tlsPort}/`;
    const ca = ["--cluster-ca", path.join(dir, "ca.crt")];
    const [n1, n2] = await Promise.all([startNode(["--cluster", url, ...ca]), startNode(["--cluster", url, ...ca])]);
    nodes.push(n1, n2);
    const ann = await client(n1.url);
    const bob = await client(n2.url, "ws");
    await join(ann, "over-tls", "Ann");
    const annSeesBob = ann.next("user-joined");
    assert.deepEqual(ids(await join(bob, "over-tls", "Bob")), [ann.id]);
    await annSeesBob;
    await barrier(ann, bob);
    await barrier(bob, ann);
    for (const node of [n1, n2]) {
      assert.match(node.logs(), /joined the cluster.*url=rediss:\/\/:\*\*\*\*@127\.0\.0\.1/);
      assert.ok(!node.logs().includes("tls-s3cret"), "no password in the log");
    }
    // The system does not trust the test's authority: without --cluster-ca the node says so.
    const untrusted = spawnCollecting(BIN, ["serve", "--cluster", url, "--no-mdns", "--port", "0"]);
    assert.equal(await untrusted.exited, 2);
    assert.match(untrusted.out.stderr, /cannot reach Redis at rediss:\/\/:\*\*\*\*@127\.0\.0\.1/);
    assert.ok(!untrusted.out.stderr.includes("tls-s3cret"));
  } finally {
    secured.proc.kill("SIGKILL");
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
