// Protects meetings whose media goes through the server (the SFU), with real Chromiums in network
// namespaces: a room moves to the server when its fifth person joins and everyone then sees
// four videos arriving over one connection to the server; two rooms at once are carried by two
// forwarding threads, each room seeing only its own; on Wi-Fi that keeps devices apart
// (isolated bridge ports) a mesh cannot connect while the server carries everyone; a small tile
// gets a lower layer than a pinned one, and pinning switches it up; garbage on the media port and
// a participant who vanishes leave the others playing; a server started before its LAN address
// exists carries the call once the address appears, and one whose media address changes mid-call
// carries it on through the new one; a network that lets only TCP through to the server carries
// the call over TCP on the HTTPS port, and one that lets no media through gets a page that names
// the ports to open. Needs root for `ip netns`.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import {
  browserIn,
  createLan,
  FEW_FRAMES_FLAGS,
  joinAs,
  lineMatching,
  NEEDS_ROOT,
  runIn,
  seesPlaying,
  sending,
  SMALL_CAMERA,
  SMALL_CAMERA_NO_MIC,
  SMALL_WINDOW,
  until,
  videoPlays,
  withMeetingServer,
} from "./fixture.mjs";
import { maskedShot } from "./pictures.mjs";

const skip = NEEDS_ROOT;
const FLAGS = FEW_FRAMES_FLAGS;
const SMALL = SMALL_WINDOW;
const CAMERA = SMALL_CAMERA;
// In the five-person call only the first page has a microphone, so sound through the server is
// still checked, by one sender.
const CAMERA_ONLY = SMALL_CAMERA_NO_MIC;

let lan;
before(() => {
  if (!skip) lan = createLan({ a: "10.80.0.1", b: "10.80.0.2" });
});
after(() => lan?.destroy());

/** A server in namespace `host` of `net` with HTTPS on 5443 (UDP media on 5443 too). */
const withServer = (net, host, args, run) => withMeetingServer(net.ns(host), args, run);

/** Datagrams the kernel dropped in a namespace because a socket's receive buffer was full. */
async function kernelShed(namespace) {
  const { stdout } = await runIn(namespace, "cat", ["/proc/net/snmp"]);
  const [names, values] = stdout.split("\n").filter((l) => l.startsWith("Udp:"));
  return Number(values.split(/\s+/)[names.split(/\s+/).indexOf("RcvbufErrors")]);
}

/** Where a page's media goes, and how many connections carry its camera out. */
const mediaOf = (page) =>
  page.evaluate(async () => {
    const meshSending = fmTest.meshConnections();
    let server = null;
    let protocol = null;
    const stats = (await fmTest.serverStats()) ?? [];
    for (const s of stats) {
      if (s.type === "candidate-pair" && s.nominated && s.state === "succeeded") {
        const remote = stats.find((r) => r.id === s.remoteCandidateId);
        server = `${remote.address}:${remote.port}`;
        protocol = remote.protocol;
      }
    }
    return { mode: fmTest.mode(), meshSending, server, protocol };
  });

/** `path` of the server in namespace `host` (its API answers this machine only), as text: read
 * by a `node` started in that namespace, so each call costs a process start the browsers feel. */
const fromServer = async (net, host, path) => {
  const { stdout } = await runIn(net.ns(host), "node", [
    "-e",
    `fetch('http://127.0.0.1:5000${path}').then(r=>r.text()).then(t=>process.stdout.write(t))`,
  ]);
  return stdout;
};

/** Waits until one report of the given `type` and `kind` on the page's connection to the server
 * has every field of `positive` above zero. */
const serverStats = (page, { type, kind, positive }, what, ms) =>
  until(
    () =>
      page.evaluate(
        async (want) => {
          const stats = await fmTest.serverStats();
          if (!stats) return false;
          return stats.some(
            (s) => s.type === want.type && s.kind === want.kind && want.positive.every((f) => s[f] > 0),
          );
        },
        { type, kind, positive },
      ),
    what,
    { ms, every: 250 },
  );

/** Waits until the page sends video to the server (packets out on its server connection). */
const sendsToServer = (page) =>
  serverStats(
    page,
    { type: "outbound-rtp", kind: "video", positive: ["packetsSent"] },
    "the page's video to leave for the server",
    60000,
  );

/** Waits until the page plays sound that came through the server (the fake microphone beeps, so
 * the energy received is not zero). */
const hearsThroughServer = (page) =>
  serverStats(
    page,
    { type: "inbound-rtp", kind: "audio", positive: ["packetsReceived", "totalAudioEnergy"] },
    "the page to play sound that came through the server",
    20000,
  );

/** Starts recording, in the page, the longest time each remote tile went without a new frame. */
const recordFreezes = (page) =>
  page.evaluate(() => {
    window.freezes = {};
    const last = {};
    window.freezeTimer = setInterval(() => {
      const now = performance.now();
      for (const figure of document.querySelectorAll(".tile:not(.self):not(.screen)")) {
        const name = figure.querySelector(".name").textContent;
        const frames = figure.querySelector("video").getVideoPlaybackQuality().totalVideoFrames;
        const seen = last[name];
        // Only videos already playing when recording began: a newcomer's tile waiting for its
        // first frame is a start, not a freeze.
        if (!seen) last[name] = { frames, at: now, playing: frames > 0 };
        else if (frames > seen.frames) {
          if (seen.playing) window.freezes[name] = Math.max(window.freezes[name] ?? 0, now - seen.at);
          last[name] = { frames, at: now, playing: seen.playing };
        }
      }
    }, 20);
  });

test("five people on two machines: the room moves to the server at the fifth, and each page gets four videos over one connection", {
  skip,
  timeout: 240000,
}, async () => {
  await withServer(lan, "a", [], async () => {
    const [a, b] = [await browserIn(lan, "a", FLAGS), await browserIn(lan, "b", FLAGS)];
    try {
      const url = "https://10.80.0.1:5443/r/five";
      const pages = [];
      for (const [browser, name] of [
        [a, "Ann"],
        [b, "Bob"],
        [a, "Cat"],
        [b, "Dan"],
      ]) {
        pages.push(await joinAs(browser, url, name, SMALL, true, name === "Ann" ? CAMERA : CAMERA_ONLY));
      }
      await Promise.all(pages.map((page) => seesPlaying(page, 3)));
      for (const page of pages)
        assert.deepEqual(await mediaOf(page), { mode: "mesh", meshSending: 3, server: null, protocol: null });
      await Promise.all(pages.map(recordFreezes));

      pages.push(await joinAs(b, url, "Eve", SMALL, true, CAMERA_ONLY));
      // Each page sending its video to the server is the event the rest waits for. On two cores
      // busy with five browsers (and a build beside them) the server answered every page's
      // offer within 0.2 s, was connected 0.3-2.9 s later and switched each video on at the first
      // keyframe it got, but one page's first video reached it 11.6 s after its offer: the start
      // is the sending browser's, so it is awaited (and reported) on its own, and the time every
      // video then has to play on every page stays the fixture's 10 s.
      const moved = Date.now();
      await Promise.all(pages.map(sendsToServer));
      console.log(`every page sent its video to the server ${Date.now() - moved} ms after the fifth was in`);
      await Promise.all(pages.map((page) => seesPlaying(page, 4))).catch(async (error) => {
        // What the server forwards each page, at which layer, within which estimate.
        console.log(await fromServer(lan, "a", "/api/rooms"));
        for (const page of pages) console.log((await sending(page).catch((e) => [e.message])).join("\n"));
        throw error;
      });
      for (const page of pages) {
        const media = await until(
          async () => {
            const m = await mediaOf(page);
            return m.meshSending === 0 && m.server && m;
          },
          "the mesh connections to close",
          { ms: 20000, every: 250 },
        );
        // UDP preferred: the TCP candidate is only for networks that block it.
        assert.deepEqual(media, { mode: "sfu", meshSending: 0, server: "10.80.0.1:5443", protocol: "udp" });
      }
      // Ann's microphone, through the server, at the four others.
      await Promise.all(pages.slice(1).map(hearsThroughServer));
      await maskedShot(pages[1], "meeting-five-through-the-server.png");
      const freezes = await Promise.all(pages.slice(0, 4).map((page) => page.evaluate(() => window.freezes)));
      // Reported, not a limit: the move's pause in each remote video, in ms.
      console.log(
        `freeze during the move (ms): ${JSON.stringify(freezes.map((f) => Object.values(f).map(Math.round)))}`,
      );
      const [room] = JSON.parse(await fromServer(lan, "a", "/api/rooms")).rooms;
      assert.equal(room.media, "sfu");
      assert.ok(
        room.peers.every((p) => p.media && p.media.bitrateIn > 0),
        JSON.stringify(room.peers.map((p) => p.media)),
      );
    } finally {
      await a.close();
      await b.close();
    }
  });
});

test("Wi-Fi that keeps devices apart: a mesh cannot connect, the server carries everyone", {
  skip,
  timeout: 240000,
}, async () => {
  const wifi = createLan(
    { srv: "10.81.0.1", w1: "10.81.0.11", w2: "10.81.0.12", w3: "10.81.0.13" },
    { isolated: ["w1", "w2", "w3"] },
  );
  try {
    // The laptops reach the server but not each other.
    const ping = (from, to) => runIn(wifi.ns(from), "ping", ["-c", "1", "-W", "1", to]).then((r) => r.code);
    assert.equal(await ping("w1", "10.81.0.1"), 0);
    assert.notEqual(await ping("w1", "10.81.0.12"), 0);

    const browsers = [];
    try {
      for (const host of ["w1", "w2", "w3"]) browsers.push(await browserIn(wifi, host, FLAGS));
      await withServer(wifi, "srv", ["--media", "mesh"], async () => {
        const url = "https://10.81.0.1:5443/r/isolated";
        const ann = await joinAs(browsers[0], url, "Ann", SMALL, true, CAMERA);
        const bob = await joinAs(browsers[1], url, "Bob", SMALL, true, CAMERA);
        // Browser to browser, the connection fails, and the page says why and what helps.
        await ann.waitForFunction(
          () => /keep devices apart/.test(document.querySelector("#notice").textContent),
          null,
          {
            timeout: 60000,
          },
        );
        const frames = await bob.evaluate(() =>
          [...document.querySelectorAll(".tile:not(.self) video")].map(
            (v) => v.getVideoPlaybackQuality().totalVideoFrames,
          ),
        );
        assert.deepEqual(frames, [0], "no video crossed");
        await maskedShot(ann, "meeting-isolated-mesh.png");
        await ann.context().close();
        await bob.context().close();
      });
      // Fresh browsers for the second half: nothing of the first call (its camera sessions,
      // its failed connections) carried over.
      await Promise.all(browsers.map((browser) => browser.close()));
      browsers.length = 0;
      for (const host of ["w1", "w2", "w3"]) browsers.push(await browserIn(wifi, host, FLAGS));
      await withServer(wifi, "srv", ["--media", "sfu"], async () => {
        const url = "https://10.81.0.1:5443/r/isolated";
        const pages = [];
        for (const [i, name] of ["Ann", "Bob", "Cat"].entries())
          pages.push(await joinAs(browsers[i], url, name, SMALL, true, CAMERA));
        await Promise.all(pages.map((page) => seesPlaying(page, 2)));
        for (const page of pages) assert.equal((await mediaOf(page)).server, "10.81.0.1:5443");
      });
    } finally {
      await Promise.all(browsers.map((browser) => browser.close()));
    }
  } finally {
    wifi.destroy();
  }
});

/** The width of the video the page receives of each person, from the receiving side's stats. */
const widths = (page) =>
  page.evaluate(async () => {
    const byTrack = Object.fromEntries(Object.entries(fmTest.cameraTracks()).map(([name, id]) => [id, name]));
    const result = {};
    for (const s of await fmTest.serverStats()) {
      if (s.type === "inbound-rtp" && s.kind === "video" && byTrack[s.trackIdentifier]) {
        result[byTrack[s.trackIdentifier]] = s.frameWidth ?? 0;
      }
    }
    return result;
  });

/** What a page's camera sends per simulcast layer, and why the browser limits it (if it does). */
const sentLayers = (page) =>
  page.evaluate(async () => {
    const layers = [];
    for (const s of await fmTest.serverStats()) {
      if (s.type === "outbound-rtp" && s.kind === "video") {
        layers.push({ rid: s.rid, width: s.frameWidth, fps: s.framesPerSecond, limit: s.qualityLimitationReason });
      }
    }
    return layers;
  });

test("two rooms at once are carried by two forwarding threads, and each sees only its own", {
  skip,
  timeout: 240000,
}, async () => {
  await withServer(lan, "a", ["--media", "sfu", "--media-threads", "2"], async () => {
    const [a, b] = [await browserIn(lan, "a", FLAGS), await browserIn(lan, "b", FLAGS)];
    try {
      const pages = [];
      for (const [room, names] of [
        ["north", ["Ann", "Bob"]],
        ["south", ["Cat", "Dan"]],
      ])
        for (const [i, name] of names.entries())
          pages.push(await joinAs([a, b][i], `https://10.80.0.1:5443/r/${room}`, name, SMALL, true, CAMERA));
      await Promise.all(pages.map((page) => seesPlaying(page, 1)));
      const shown = await Promise.all(
        pages.map((page) => page.$$eval(".tile:not(.self) .name", (els) => els.map((e) => e.textContent))),
      );
      assert.deepEqual(shown, [["Bob"], ["Ann"], ["Dan"], ["Cat"]]);
      const stdout = await fromServer(lan, "a", "/metrics");
      const load = [...stdout.matchAll(/free_meetings_media_worker_participants\{worker="(\d)"\} (\d+)/g)].map(
        ([, worker, count]) => `${worker}:${count}`,
      );
      assert.deepEqual(load.sort(), ["0:2", "1:2"], stdout);
    } finally {
      await a.close();
      await b.close();
    }
  });
});

test("a small tile gets a lower layer than a pinned one, and pinning switches it up without a freeze", {
  skip,
  timeout: 240000,
}, async () => {
  await withServer(lan, "a", ["--media", "sfu"], async () => {
    const [a, b] = [await browserIn(lan, "a", FLAGS), await browserIn(lan, "b", FLAGS)];
    try {
      const url = "https://10.80.0.1:5443/r/layers";
      const ann = await joinAs(a, url, "Ann", SMALL);
      const cat = await joinAs(a, url, "Cat", SMALL);
      const bob = await joinAs(b, url, "Bob", SMALL);
      await Promise.all([ann, bob, cat].map((page) => seesPlaying(page, 2)));
      const ids = {};
      for (const [name, page] of [
        ["Ann", ann],
        ["Bob", bob],
        ["Cat", cat],
      ])
        ids[name] = await page.evaluate(() => fmTest.id());
      // The layer of Ann's and Cat's videos the server forwards to Bob now (its /api/rooms),
      // looked at every 500 ms, not more, to leave the browsers their CPU.
      let lastLayers = {};
      const layersAtBob = async () => {
        const rooms = JSON.parse(await fromServer(lan, "a", "/api/rooms")).rooms;
        const bobs = rooms[0].peers.find((p) => p.id === ids.Bob);
        const of = (name) =>
          Object.entries(bobs?.media?.layers ?? {}).find(([stream]) => stream.startsWith(ids[name]))?.[1];
        lastLayers = { Ann: of("Ann"), Cat: of("Cat") };
        return lastLayers;
      };
      // l < m < h; undefined (nothing forwarded yet) below all.
      const rank = (rid) => ["l", "m", "h"].indexOf(rid);
      const pin = (name) =>
        bob.evaluate((who) => {
          const tile = [...document.querySelectorAll(".tile")].find(
            (t) => t.querySelector(".name").textContent === who,
          );
          tile.querySelector(".pin").click();
        }, name);
      await pin("Ann");
      const annUp = await until(
        async () => {
          const l = await layersAtBob();
          return rank(l.Ann) > rank(l.Cat) && rank(l.Cat) >= 0 && l;
        },
        "the server to forward Ann's pinned video at a higher layer than Cat's small one",
        { ms: 20000, every: 500 },
      ).catch((error) => {
        error.message += `; layers at Bob ${JSON.stringify(lastLayers)}`;
        throw error;
      });
      console.log(
        `layers at Bob with Ann pinned: ${JSON.stringify(annUp)}, widths ${JSON.stringify(await widths(bob))}`,
      );
      // From the pin on, the longest time Cat's tile at Bob went without a decoded frame: a
      // layer switch whose RTP times jump made Chrome hold every frame for 2.5-20 s.
      await bob.evaluate(() => {
        const catTrack = fmTest.cameraTracks().Cat;
        window.catStall = { longest: 0, frames: 0 };
        let last = { frames: -1, at: performance.now() };
        window.catStallTimer = setInterval(async () => {
          for (const s of await fmTest.serverStats()) {
            if (s.type !== "inbound-rtp" || s.trackIdentifier !== catTrack) continue;
            const now = performance.now();
            if (s.framesDecoded !== last.frames) last = { frames: s.framesDecoded, at: now };
            window.catStall.longest = Math.max(window.catStall.longest, now - last.at);
            window.catStall.frames = s.framesDecoded;
          }
        }, 50);
      });
      const framesBefore = await bob.evaluate(() => window.catStall.frames);
      await pin("Cat");
      const started = Date.now();
      const catUp = await until(
        async () => {
          const l = await layersAtBob();
          return rank(l.Cat) > rank(l.Ann) && rank(l.Ann) >= 0 && l;
        },
        "the server to forward Cat's video at a higher layer than Ann's once Cat is pinned",
        { ms: 20000, every: 500 },
      ).catch(async (error) => {
        // What Cat sends and has switched on tells whether the browser or the server held it back.
        const encodings = await cat.evaluate(() => fmTest.sentEncodings());
        error.message += `; layers at Bob ${JSON.stringify(lastLayers)}; Cat sends ${JSON.stringify(await sentLayers(cat))}, encodings ${encodings}`;
        throw error;
      });
      const took = Date.now() - started;
      // Chrome restarts an encoding the server had switched off (nobody took it) within its
      // own time, slower on a busy machine: reported, not a limit.
      console.log(`layers at Bob with Cat pinned: ${JSON.stringify(catUp)}, switched within ${took} ms`);
      if (took >= 3000) console.log(`Cat sends: ${JSON.stringify(await sentLayers(cat))}`);
      // Cat's tile at Bob goes on decoding across the switch, for 3 s past it.
      const stopAt = Date.now() + 3000;
      await until(() => Date.now() > stopAt, "3 s of video past the switch", { ms: 5000, every: 250 });
      const stall = await bob.evaluate(() => {
        clearInterval(window.catStallTimer);
        return window.catStall;
      });
      console.log(
        `Cat's tile at Bob: longest time without a new frame ${Math.round(stall.longest)} ms, widths ${JSON.stringify(await widths(bob))}`,
      );
      assert.ok(stall.frames > framesBefore + 15, `Cat's video went on at Bob: ${JSON.stringify(stall)}`);
      assert.ok(stall.longest < 2000, `Cat's video at Bob froze ${Math.round(stall.longest)} ms across the switch`);
    } finally {
      await a.close();
      await b.close();
    }
  });
});

test("garbage on the media port and a participant who vanishes leave the others playing", {
  skip,
  timeout: 240000,
}, async () => {
  await withServer(lan, "a", ["--media", "sfu"], async () => {
    const [a, b] = [await browserIn(lan, "a", FLAGS), await browserIn(lan, "b", FLAGS)];
    try {
      const url = "https://10.80.0.1:5443/r/hostile";
      const ann = await joinAs(a, url, "Ann", SMALL, true, CAMERA);
      const bob = await joinAs(b, url, "Bob", SMALL, true, CAMERA);
      const cat = await joinAs(b, url, "Cat", SMALL, true, CAMERA);
      await Promise.all([ann, bob, cat].map((page) => seesPlaying(page, 2)));
      // 3,000 datagrams from another machine: random bytes, RTP-looking headers, STUN with a
      // username nobody has.
      const flood = `
        const s = require("node:dgram").createSocket("udp4");
        const stun = Buffer.from("000100182112a442000000000000000000000000" + "0006000c" + Buffer.from("nobody:nobody").toString("hex").slice(0, 24), "hex");
        let n = 0;
        const send = () => {
          for (let i = 0; i < 100 && n < 3000; i++, n++) {
            const kind = n % 3;
            const data = kind === 0 ? require("node:crypto").randomBytes(1 + (n % 1400)) : kind === 1 ? Buffer.concat([Buffer.from([0x80, 0x60]), require("node:crypto").randomBytes(200)]) : stun;
            s.send(data, 5443, "10.80.0.1");
          }
          if (n < 3000) setTimeout(send, 10); else setTimeout(() => s.close(), 100);
        };
        send();`;
      const shedBefore = await kernelShed(lan.ns("a"));
      const sent = await runIn(lan.ns("b"), "node", ["-e", flood]);
      assert.equal(sent.code, 0, sent.stderr);
      const shed = (await kernelShed(lan.ns("a"))) - shedBefore;
      await Promise.all([ann, bob, cat].map((page) => seesPlaying(page, 2)));
      const metrics = await fromServer(lan, "a", "/metrics");
      const dropped = [...metrics.matchAll(/free_meetings_media_dropped_datagrams_total\{reason="\w+"\} (\d+)/g)]
        .map((m) => Number(m[1]))
        .reduce((x, y) => x + y, 0);
      // Each datagram was either counted by the server or, in a burst that outran it (a debug
      // build beside three browsers on two cores), shed by the kernel from its full buffer.
      assert.ok(dropped + shed >= 2900, `counted ${dropped}, shed by the kernel ${shed}, of 3000\n${metrics}`);
      assert.ok(dropped >= 1500, `counted only ${dropped} of 3000`);

      // Cat's tab crashes: no goodbye on any connection. Ann and Bob keep playing each other,
      // while Cat is still on their screens and after.
      const id = (page) => page.evaluate(() => fmTest.id());
      const [annId, bobId] = [await id(ann), await id(bob)];
      await cat.goto("chrome://crash").catch(() => {});
      await videoPlays(ann, `[data-key="${bobId}:camera"] video`);
      await videoPlays(bob, `[data-key="${annId}:camera"] video`);
      await until(
        () => ann.evaluate(() => document.querySelectorAll(".tile:not(.self)").length === 1),
        "Cat to leave Ann's grid",
        { ms: 60000, every: 500 },
      );
      await seesPlaying(ann, 1);
      await seesPlaying(bob, 1);
    } finally {
      await a.close();
      await b.close();
    }
  });
});

test("a server started before its LAN address exists carries calls through it once the address appears", {
  skip,
  timeout: 180000,
}, async () => {
  const net = createLan({ srv: "10.83.0.1", p1: "10.83.0.11", p2: "10.83.0.12" });
  try {
    // The tray app started at login, before the network: only loopback to offer.
    net.unaddress("srv", "10.83.0.1");
    const browsers = [await browserIn(net, "p1", FLAGS), await browserIn(net, "p2", FLAGS)];
    try {
      await withServer(net, "srv", ["--media", "sfu"], async (server) => {
        net.address("srv", "10.83.0.1");
        await lineMatching(server, /media addresses changed.*10\.83\.0\.1:5443/, { stream: "stderr" });
        const url = "https://10.83.0.1:5443/r/late";
        const pages = [
          await joinAs(browsers[0], url, "Ann", SMALL, true, CAMERA),
          await joinAs(browsers[1], url, "Bob", SMALL, true, CAMERA),
        ];
        await Promise.all(pages.map((page) => seesPlaying(page, 1)));
        for (const page of pages) assert.equal((await mediaOf(page)).server, "10.83.0.1:5443");
      });
    } finally {
      await Promise.all(browsers.map((browser) => browser.close()));
    }
  } finally {
    net.destroy();
  }
});

test("the server's media address changes mid-call: video resumes at every page without anyone leaving", {
  skip,
  timeout: 240000,
}, async () => {
  // The server has two addresses: .1, which pages reach the meeting page and signaling through
  // and which stays, and .2, which its DHCP lease moves to .3 mid-call. UDP to .1 is prohibited
  // at the laptops, so media starts on .2 and must follow the move to .3 (a server that kept its
  // first list would leave the pages on TCP through .1, or on nothing).
  const net = createLan({ srv: "10.86.0.1", p1: "10.86.0.11", p2: "10.86.0.12" });
  try {
    net.address("srv", "10.86.0.2");
    for (const host of ["p1", "p2"]) {
      const rule = await runIn(net.ns(host), "ip", ["rule", "add", "ipproto", "udp", "to", "10.86.0.1", "prohibit"]);
      assert.equal(rule.code, 0, rule.stderr);
    }
    const browsers = [await browserIn(net, "p1", FLAGS), await browserIn(net, "p2", FLAGS)];
    try {
      await withServer(net, "srv", ["--media", "sfu"], async (server) => {
        const url = "https://10.86.0.1:5443/r/moving";
        const pages = [
          await joinAs(browsers[0], url, "Ann", SMALL, true, CAMERA),
          await joinAs(browsers[1], url, "Bob", SMALL, true, CAMERA),
        ];
        await Promise.all(pages.map((page) => seesPlaying(page, 1)));
        for (const page of pages) {
          const media = await mediaOf(page);
          assert.equal(`${media.protocol} ${media.server}`, "udp 10.86.0.2:5443", JSON.stringify(media));
        }
        const ids = await Promise.all(pages.map((page) => page.evaluate(() => fmTest.id())));
        const before = await Promise.all(pages.map(framesIn));
        const moved = Date.now();
        net.readdress("srv", "10.86.0.2", "10.86.0.3");
        await lineMatching(server, /media addresses changed.*10\.86\.0\.3:5443/, { stream: "stderr" });
        await Promise.all(
          pages.map((page, i) =>
            until(
              async () => (await mediaOf(page)).server === "10.86.0.3:5443" && (await framesIn(page)) > before[i] + 30,
              "video to flow again through the server's new address",
              { ms: 30000, every: 200 },
            ),
          ),
        );
        // The 10 s is a figure to report, not a timed assertion (the wait above bounds it).
        console.log(`video resumed through the new address ${Date.now() - moved} ms after the address changed`);
        for (const [i, page] of pages.entries()) {
          assert.equal(await page.evaluate(() => fmTest.id()), ids[i], "nobody reconnected");
          assert.equal((await mediaOf(page)).protocol, "udp");
          assert.equal(await page.locator(".tile:not(.self)").count(), 1, "nobody left");
        }
      });
    } finally {
      await Promise.all(browsers.map((browser) => browser.close()));
    }
  } finally {
    net.destroy();
  }
});

test("a network that lets only TCP through: the call goes over TCP on the HTTPS port", {
  skip,
  timeout: 240000,
}, async () => {
  const net = createLan(
    { srv: "10.84.0.1", w1: "10.84.0.11", w2: "10.84.0.12", w3: "10.84.0.13" },
    { isolated: ["w1", "w2", "w3"] },
  );
  try {
    // A firewall that lets only TCP through to the server: in each laptop, UDP to the server's
    // address is prohibited by a policy-routing rule (iproute2 alone, nothing at the server).
    for (const host of ["w1", "w2", "w3"]) {
      const rule = await runIn(net.ns(host), "ip", ["rule", "add", "ipproto", "udp", "to", "10.84.0.1", "prohibit"]);
      assert.equal(rule.code, 0, rule.stderr);
    }
    const browsers = [];
    try {
      for (const host of ["w1", "w2", "w3"]) browsers.push(await browserIn(net, host, FLAGS));
      await withServer(net, "srv", ["--media", "sfu"], async () => {
        const url = "https://10.84.0.1:5443/r/tcp-only";
        const pages = [];
        for (const [i, name] of ["Ann", "Bob", "Cat"].entries())
          pages.push(await joinAs(browsers[i], url, name, SMALL, true, CAMERA));
        await Promise.all(pages.map((page) => seesPlaying(page, 2)));
        for (const page of pages) {
          const media = await mediaOf(page);
          assert.equal(media.protocol, "tcp", JSON.stringify(media));
          assert.equal(media.server, "10.84.0.1:5443", JSON.stringify(media));
        }
      });
    } finally {
      await Promise.all(browsers.map((browser) => browser.close()));
    }
  } finally {
    net.destroy();
  }
});

test("a server behind a NAT (--media-public-address): pages outside reach its media through the public address", {
  skip,
  timeout: 180000,
}, async (t) => {
  const net = createLan({ srv: "10.88.0.1", out: "10.88.0.11" });
  try {
    // The server's machine sits behind a 1:1 NAT, as a cloud VM does: the laptop reaches it only
    // as 10.88.0.100, which the NAT (in the server's namespace) maps to 10.88.0.1; its own
    // address 10.88.0.1 is unreachable from outside.
    const nat = [
      ["add", "table", "ip", "fm"],
      ["add", "chain", "ip", "fm", "pre", "{ type nat hook prerouting priority dstnat; }"],
      ["add", "rule", "ip", "fm", "pre", "ip", "daddr", "10.88.0.100", "dnat", "to", "10.88.0.1"],
      ["add", "chain", "ip", "fm", "input", "{ type filter hook input priority 0; }"],
      ["add", "rule", "ip", "fm", "input", "ct", "status", "dnat", "accept"],
      ["add", "rule", "ip", "fm", "input", "ip", "saddr", "10.88.0.11", "drop"],
    ];
    for (const [i, rule] of nat.entries()) {
      const added = await runIn(net.ns("srv"), "nft", rule);
      // A kernel built without nf_tables cannot make the NAT: said, and skipped (the test
      // machines' kernels have it built in).
      if (i === 0 && /not supported|No such file/i.test(added.stderr)) {
        t.skip(`no NAT on this kernel (nft: ${added.stderr.trim()})`);
        return;
      }
      assert.equal(added.code, 0, added.stderr);
    }
    const route = await runIn(net.ns("out"), "ip", ["route", "add", "10.88.0.100/32", "via", "10.88.0.1"]);
    assert.equal(route.code, 0, route.stderr);
    const browser = await browserIn(net, "out", FLAGS);
    try {
      await withServer(net, "srv", ["--media", "sfu", "--media-public-address", "10.88.0.100"], async () => {
        const url = "https://10.88.0.100:5443/r/behind-nat";
        const pages = [];
        for (const name of ["Ann", "Bob"]) pages.push(await joinAs(browser, url, name, SMALL, true, CAMERA_ONLY));
        await Promise.all(pages.map((page) => seesPlaying(page, 1)));
        for (const page of pages) {
          const media = await mediaOf(page);
          assert.deepEqual(media, { mode: "sfu", meshSending: 0, server: "10.88.0.100:5443", protocol: "udp" });
        }
      });
    } finally {
      await browser.close();
    }
  } finally {
    net.destroy();
  }
});

test("a network that lets no media through: the page says what failed and which ports to open", {
  skip,
  timeout: 180000,
}, async () => {
  const net = createLan({ srv: "10.87.0.1", p1: "10.87.0.11" });
  try {
    // The laptop reaches the meeting over plain HTTP on 5000 (which a browser may be told to
    // trust, as a reverse proxy's page would be), and its network refuses UDP to the server and
    // TCP to 5443: neither the media port nor ICE over TCP on the HTTPS port gets through.
    for (const rule of [
      ["ipproto", "udp", "to", "10.87.0.1"],
      ["ipproto", "tcp", "to", "10.87.0.1", "dport", "5443"],
    ]) {
      const added = await runIn(net.ns("p1"), "ip", ["rule", "add", ...rule, "prohibit"]);
      assert.equal(added.code, 0, added.stderr);
    }
    const origin = "http://10.87.0.1:5000";
    const browser = await browserIn(net, "p1", [...FLAGS, `--unsafely-treat-insecure-origin-as-secure=${origin}`]);
    try {
      // The proxy's page: served over plain HTTP on purpose, not sent to HTTPS.
      await withServer(net, "srv", ["--media", "sfu", "--https-redirect", "off"], async () => {
        const page = await joinAs(browser, `${origin}/r/walled`, "Ann", SMALL, true, CAMERA);
        const notice = page.locator("#notice");
        await notice.filter({ hasText: "The media connection to the server failed" }).waitFor({ timeout: 90000 });
        const said = await notice.textContent();
        console.log(`the page said: ${said}`);
        assert.match(said, /must let through UDP to 10\.87\.0\.1:5443, or TCP to 10\.87\.0\.1:5443/);
      });
    } finally {
      await browser.close();
    }
  } finally {
    net.destroy();
  }
});

/** Video frames a page has received through the server, over every remote video. */
const framesIn = (page) =>
  page.evaluate(async () => {
    let frames = 0;
    for (const s of await fmTest.serverStats())
      if (s.type === "inbound-rtp" && s.kind === "video") frames += s.framesReceived ?? 0;
    return frames;
  });

test("a tab nobody looks at receives no video through the server, and gets it back when shown", {
  skip,
  timeout: 180000,
}, async () => {
  const browsers = [await browserIn(lan, "a", FLAGS), await browserIn(lan, "b", FLAGS)];
  try {
    await withServer(lan, "a", ["--media", "sfu"], async () => {
      const url = "https://10.80.0.1:5443/r/hidden-tab";
      // Ann's camera at its full size: sent in two layers ("l" and "h").
      const ann = await joinAs(browsers[0], url, "Ann", SMALL, true);
      const bob = await joinAs(browsers[1], url, "Bob", SMALL, true, CAMERA);
      await Promise.all([seesPlaying(ann, 1), seesPlaying(bob, 1)]);
      // Bob's tab goes to the background (as the browser tells a page: visibilitychange).
      const setHidden = (hidden) =>
        bob.evaluate((hidden) => {
          Object.defineProperty(document, "hidden", { configurable: true, get: () => hidden });
          document.dispatchEvent(new Event("visibilitychange"));
        }, hidden);
      await setHidden(true);
      // Frames already on their way arrive; then none: over a whole second, nothing new.
      const stalled = await until(
        async () => {
          const before = await framesIn(bob);
          await new Promise((resolve) => setTimeout(resolve, 1000));
          return (await framesIn(bob)) === before;
        },
        "Bob's video through the server to stop while his tab is hidden",
        { ms: 15000, every: 0 },
      );
      assert.ok(stalled);
      // Nobody takes Ann's upper layers now: her browser stops encoding them (the lowest stays).
      const encoding = () => ann.evaluate(() => fmTest.sentEncodings());
      const on = async () => (await encoding()).filter((e) => e.endsWith(":on")).join();
      await until(async () => (await on()) === "l:on", "Ann's upper layers to stop", {
        ms: 15000,
        every: 200,
      });
      // Shown again: the video comes back, and so does the layer Bob's tile takes.
      const paused = await framesIn(bob);
      await setHidden(false);
      await until(async () => (await framesIn(bob)) > paused + 10, "Bob's video to come back", {
        ms: 15000,
        every: 200,
      });
      await until(async () => (await on()) !== "l:on", "an upper layer of Ann's back", {
        ms: 15000,
        every: 200,
      });
    });
  } finally {
    await Promise.all(browsers.map((browser) => browser.close()));
  }
});

test("screen shares through the server, started and stopped again and again, reuse one m-line at the receiver", {
  skip,
  timeout: 180000,
}, async () => {
  const browsers = [await browserIn(lan, "a", FLAGS), await browserIn(lan, "b", FLAGS)];
  try {
    await withServer(lan, "a", ["--media", "sfu"], async () => {
      const url = "https://10.80.0.1:5443/r/shares";
      const ann = await joinAs(browsers[0], url, "Ann", SMALL, true, CAMERA);
      const bob = await joinAs(browsers[1], url, "Bob", SMALL, true, CAMERA);
      await Promise.all([seesPlaying(ann, 1), seesPlaying(bob, 1)]);
      const mLines = () => bob.evaluate(() => fmTest.serverSdp().split("\nm=").length - 1);
      const start = await mLines();
      const counts = [];
      for (let share = 0; share < 4; share++) {
        await ann.click("#share");
        await bob.waitForSelector(".tile.screen:not(.self)", { timeout: 30000 });
        await videoPlays(bob, ".tile.screen:not(.self) video");
        await ann.click("#share");
        await bob.waitForSelector(".tile.screen:not(.self)", { state: "detached", timeout: 30000 });
        counts.push(await mLines());
      }
      console.log(`m-lines at the receiver: ${start} at the start, then ${JSON.stringify(counts)}`);
      assert.ok(
        counts.every((n) => n <= start + 1),
        `${start} at the start, then ${counts}`,
      );
    });
  } finally {
    await Promise.all(browsers.map((browser) => browser.close()));
  }
});
