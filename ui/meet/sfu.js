// Through the server: one connection to its media forwarder, our camera in simulcast layers,
// everyone else's arriving on it, and the layers each tile needs.

import { t, tHtml } from "/i18n/i18n.js";
import { $, MESH_GRACE_MS, state } from "./state.js";
import { notice } from "./notice.js";
import { addScreen, ensurePeer, send, showStreams } from "./mesh.js";

/** Our camera in layers, the top one at full size: the server forwards each person the one their
 * tile needs. Chromium sends no more layers than it thinks the picture worth (one at 320x240, two
 * at 640x480) and drops the largest first, so we ask for only as many as the camera's size gets. */
export function simulcastFor(track) {
  const width = track.getSettings().width ?? 640;
  if (width >= 960) {
    return [
      { rid: "l", scaleResolutionDownBy: 4, maxBitrate: 150_000 },
      { rid: "m", scaleResolutionDownBy: 2, maxBitrate: 500_000 },
      { rid: "h", maxBitrate: 1_500_000 },
    ];
  }
  if (width >= 480) {
    return [
      { rid: "l", scaleResolutionDownBy: 2, maxBitrate: 200_000 },
      { rid: "h", maxBitrate: 800_000 },
    ];
  }
  return [{ maxBitrate: 500_000 }];
}

export function onMediaMode({ mode }) {
  if (mode !== "sfu" || state.mode === "sfu") return;
  state.mode = "sfu";
  startSfu();
}

/** Opens our one connection to the server's media forwarder. We are the polite side: an offer
 * of the server's that crosses ours wins, and ours goes again after. */
export function startSfu() {
  const pc = new RTCPeerConnection({ iceServers: state.config.iceServers });
  const sfu = { pc, makingOffer: false, senders: {}, screenSenders: [], since: performance.now() };
  state.sfu = sfu;
  // A new connection may reach another forwarder (a cluster's new media home), which knows
  // nothing of what this page wants: send it all again, even where nothing changed.
  state.wants = "";
  for (const track of state.local?.getTracks() || []) {
    const init = { direction: "sendonly", streams: [state.local] };
    if (track.kind === "video") init.sendEncodings = simulcastFor(track);
    sfu.senders[track.kind] = pc.addTransceiver(track, init).sender;
  }
  if (state.screen) addScreen(sfu);
  // Nothing to send (no camera, no microphone): a receiving slot still opens the connection.
  if (!pc.getTransceivers().length) pc.addTransceiver("audio", { direction: "recvonly" });
  pc.onnegotiationneeded = async () => {
    try {
      sfu.makingOffer = true;
      await pc.setLocalDescription();
      state.socket?.emit("sfu-offer", { sdp: pc.localDescription.sdp });
    } catch (error) {
      console.warn("sfu negotiation failed", error);
    } finally {
      sfu.makingOffer = false;
    }
  };
  pc.ontrack = (e) => onSfuTrack(e.streams[0]);
  pc.onconnectionstatechange = () => {
    if (pc.connectionState === "connected") {
      sfu.connectedAt = performance.now();
      // What went wrong with the last connection is said until this one is up.
      if ($("notice").dataset.topic === "sfu") notice("");
      // People whose media never comes through the server (nothing to send): their mesh goes
      // too, once everyone else has had ample time to switch over.
      setTimeout(() => {
        if (state.sfu === sfu) for (const p of state.peers.values()) closeMesh(p);
      }, MESH_GRACE_MS);
    } else if (pc.connectionState === "failed") {
      restartSfu(sfu, `${t("notice.sfu-failed")} ${blockedPorts(pc)}`);
    }
  };
}

/** A stream through the server: its id is the sender's peer id (16 characters), then the id the
 * sender gave it, which its `state` uses to name a screen. It replaces what the mesh showed once
 * media flows on it (its first track unmutes), so the switch shows no empty frame. */
export function onSfuTrack(stream) {
  if (!stream || stream.id.length <= 16) return;
  const p = ensurePeer(stream.id.slice(0, 16));
  const original = stream.id.slice(16);
  if (p.streams.get(original) === stream) return;
  const use = () => {
    if (p.streams.get(original) === stream || state.peers.get(p.id) !== p) return;
    p.streams.set(original, stream);
    stream.addEventListener("removetrack", () => {
      if (!stream.getTracks().length && p.streams.get(original) === stream) {
        p.streams.delete(original);
        showStreams(p);
      }
    });
    p.sfuSeen = true;
    send(p.id, { sfuSeen: true });
    closeMeshWhenBothSee(p);
    showStreams(p);
    queueWants();
  };
  const tracks = stream.getTracks();
  if (!p.pc || tracks.some((t) => !t.muted)) use();
  else for (const track of tracks) track.addEventListener("unmute", use, { once: true });
  queueWants();
}

/** Drops a person's browser-to-browser connection once each of us sees the other through the
 * server: closing it as soon as we see them would cut our video at their end, which may not
 * have it through the server yet. */
export function closeMeshWhenBothSee(p) {
  if (p.sfuSeen && p.seesUs) closeMesh(p);
}

/** Drops a person's browser-to-browser connection (their media now comes through the server). */
export function closeMesh(p) {
  if (!p.pc) return;
  p.pc.close();
  p.pc = null;
  p.senders = {};
  p.screenSenders = [];
}

export async function onSfuOffer({ sdp }) {
  const pc = state.sfu?.pc;
  if (!pc) return;
  await pc.setRemoteDescription({ type: "offer", sdp }); // rolls back a crossing offer of ours
  await pc.setLocalDescription();
  state.socket.emit("sfu-answer", { sdp: pc.localDescription.sdp });
}

export async function onSfuAnswer({ sdp }) {
  const pc = state.sfu?.pc;
  if (pc?.signalingState === "have-local-offer") await pc.setRemoteDescription({ type: "answer", sdp });
}

/** What a network must let through for media to reach the server, from the server's own
 * candidates: said when the connection fails, so that whoever runs the network knows. */
export function blockedPorts(pc) {
  const found = { udp: new Set(), tcp: new Set() };
  for (const line of (pc.remoteDescription?.sdp ?? "").split(/\r?\n/)) {
    const m = line.match(/^a=candidate:\S+ \d+ (udp|tcp) \d+ (\S+) (\d+) typ host/i);
    if (m && !/^127\.|^::1$/.test(m[2])) found[m[1].toLowerCase()].add(`${m[2]}:${m[3]}`);
  }
  const ports = [];
  if (found.udp.size) ports.push(t("notice.sfu-udp", { addresses: [...found.udp].join(", ") }));
  if (found.tcp.size) ports.push(t("notice.sfu-tcp", { addresses: [...found.tcp].join(", ") }));
  return ports.length ? t("notice.sfu-blocked", { ports: ports.join(t("notice.sfu-or")) }) : "";
}

/** Closes our connection to the forwarder and opens a new one: at once the first time (the
 * server said its media moved to another server, or the network changed), 2 s later when the
 * last restart was under 10 s ago, so that a connection that keeps failing is not retried in a
 * loop. */
export function restartSfu(sfu, why) {
  if (state.sfu !== sfu) return;
  sfu.pc.close();
  state.sfu = null;
  notice(tHtml("notice.reconnecting", { why }), "problem", "sfu");
  const now = performance.now();
  const delay = now - (state.sfuRestartedAt ?? -Infinity) < 10000 ? 2000 : 100;
  state.sfuRestartedAt = now;
  setTimeout(() => {
    if (state.mode === "sfu" && state.socket?.connected && !state.sfu) startSfu();
  }, delay);
}

/** The quality each remote tile needs, by the size it is shown at; sent when it changes. */
/** Whether anyone can see a tile: the page is shown and the tile is on screen. */
export function seen(figure) {
  if (document.hidden || !figure) return false;
  const r = figure.getBoundingClientRect();
  return r.width > 0 && r.height > 0 && r.bottom > 0 && r.right > 0 && r.top < innerHeight && r.left < innerWidth;
}

export function sendWants() {
  if (state.mode !== "sfu" || !state.socket?.connected) return;
  const streams = {};
  for (const p of state.peers.values()) {
    for (const [original, stream] of p.streams) {
      const key = original === p.state?.screen ? `${p.id}:screen` : `${p.id}:camera`;
      const figure = document.querySelector(`[data-key="${CSS.escape(key)}"]`);
      const width = figure?.getBoundingClientRect().width ?? 0;
      // What nobody sees is not sent at all (a hidden tab, a tile scrolled away); its sound is.
      streams[stream.id] = !seen(figure) ? "off" : width >= 560 ? "high" : width >= 260 ? "medium" : "low";
    }
  }
  const wants = JSON.stringify(streams);
  if (wants === state.wants) return;
  state.wants = wants;
  state.socket.emit("sfu-want", { streams });
}

export let wantsQueued = false;
export function queueWants() {
  if (wantsQueued) return;
  wantsQueued = true;
  requestAnimationFrame(() => {
    wantsQueued = false;
    sendWants();
  });
}

/** The server says which layers of our camera anyone takes: the others are not encoded until
 * someone asks for them again (a tab in the background, small tiles everywhere). */
export async function setLayers({ stream, active }) {
  const sender = state.sfu?.senders.video;
  if (!sender || stream !== state.local?.id) return;
  const params = sender.getParameters();
  if (!params.encodings?.length) return;
  let changed = false;
  for (const encoding of params.encodings) {
    const on = !encoding.rid || active.includes(encoding.rid);
    if (encoding.active !== on) {
      encoding.active = on;
      changed = true;
    }
  }
  if (changed) await sender.setParameters(params);
}

/** Back to no server connection (leaving, or starting over after a reconnect). */
export function stopSfu() {
  state.sfu?.pc.close();
  state.sfu = null;
  state.mode = "mesh";
  state.wants = "";
}
