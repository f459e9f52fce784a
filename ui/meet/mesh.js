// Browser to browser: one RTCPeerConnection per person, in the perfect-negotiation pattern.

import { t, tHtml } from "/i18n/i18n.js";
import { state } from "./state.js";
import { announce, notice } from "./notice.js";
import { renderPeople } from "./controls.js";
import { removeTile, setLabel, tile, updateCount } from "./tiles.js";
import { meter } from "./speaking.js";
import { closeMeshWhenBothSee } from "./sfu.js";

export function send(to, signal) {
  state.socket.emit("signal", { to, signal });
}

/** A remote participant: its tile exists from the moment we know them; its connection from the
 * first offer (ours or theirs). */
export function ensurePeer(id, name) {
  let p = state.peers.get(id);
  if (p) {
    if (name && name !== p.name) {
      p.name = name;
      for (const figure of document.querySelectorAll(`[data-peer="${CSS.escape(id)}"]`))
        setLabel(figure, figure.classList.contains("screen") ? t("tile.screen", { name }) : name);
    }
    return p;
  }
  p = {
    id,
    name: name || "…",
    pc: null,
    polite: state.socket.id < id, // the one whose id sorts first gives way on a collision
    makingOffer: false,
    ignoreOffer: false,
    pending: [],
    state: null, // their last `state` event
    streams: new Map(), // stream id -> MediaStream
    cameraStream: null, // id of their first stream that is not the screen
    senders: {}, // kind -> RTCRtpSender we added
    screenSenders: [],
    tile: null,
  };
  p.tile = tile(`${id}:camera`, p.name);
  state.peers.set(id, p);
  updateCount();
  return p;
}

export function connection(p) {
  if (p.pc) return p.pc;
  const pc = new RTCPeerConnection({ iceServers: state.config.iceServers });
  p.pc = pc;
  pc.onicecandidate = (e) => e.candidate && send(p.id, { candidate: e.candidate.toJSON() });
  pc.onconnectionstatechange = () => {
    if (pc.connectionState === "failed" && state.mode === "mesh") {
      notice(tHtml("notice.mesh-failed", { name: p.name }), "problem", "mesh");
    }
  };
  pc.onnegotiationneeded = async () => {
    try {
      p.makingOffer = true;
      await pc.setLocalDescription();
      send(p.id, pc.localDescription.toJSON());
    } catch (error) {
      console.warn("negotiation failed", error);
    } finally {
      p.makingOffer = false;
    }
  };
  pc.ontrack = (e) => {
    const stream = e.streams[0];
    if (!stream) return;
    if (!p.streams.has(stream.id)) {
      p.streams.set(stream.id, stream);
      stream.addEventListener("removetrack", () => {
        if (!stream.getTracks().length) {
          p.streams.delete(stream.id);
          showStreams(p);
        }
      });
    }
    showStreams(p);
  };
  return pc;
}

/** Our media on a connection: camera and microphone (or receive-only slots), and the screen. */
export function addOurTracks(p) {
  const pc = connection(p);
  if (state.local?.getTracks().length) {
    for (const track of state.local.getTracks()) p.senders[track.kind] = pc.addTrack(track, state.local);
  }
  // Still receive what we do not send (no camera, no microphone).
  for (const kind of ["audio", "video"]) {
    if (!p.senders[kind] && !pc.getTransceivers().some((t) => t.receiver.track.kind === kind))
      pc.addTransceiver(kind, { direction: "recvonly" });
  }
  if (state.screen) addScreen(p);
}

/** Our screen on a connection (a mesh peer's, or the server's). */
export function addScreen(conn) {
  // To the server, always a new send-only transceiver: addTrack would reuse a transceiver that
  // receives someone's video, turning that m-line two-way, which the server does not take as a
  // new track (a share through the server reached nobody so).
  const add =
    conn === state.sfu
      ? (track) => conn.pc.addTransceiver(track, { direction: "sendonly", streams: [state.screen] }).sender
      : (track) => conn.pc.addTrack(track, state.screen);
  conn.screenSenders = state.screen.getTracks().map(add);
}

/** The connections we send our media on: each mesh peer's, or the one to the server. */
export function sendingConnections() {
  const mesh = [...state.peers.values()].filter((p) => p.pc);
  return state.sfu ? [state.sfu, ...mesh] : mesh;
}

/** Puts a peer's streams in their tiles: the screen (as `state` names it) and the camera. */
export function showStreams(p) {
  const screenId = p.state?.screen ?? null;
  if (!p.cameraStream || !p.streams.has(p.cameraStream) || p.cameraStream === screenId) {
    p.cameraStream = [...p.streams.keys()].find((id) => id !== screenId) ?? null;
  }
  const camera = p.cameraStream ? p.streams.get(p.cameraStream) : null;
  const video = p.tile.querySelector("video");
  if (video.srcObject !== camera) {
    video.srcObject = camera;
    meter(`${p.id}:camera`, camera);
  }
  const screen = screenId ? p.streams.get(screenId) : null;
  const key = `${p.id}:screen`;
  if (screen) {
    const figure = tile(key, t("tile.screen", { name: p.name }), { screen: true });
    const screenVideo = figure.querySelector("video");
    if (screenVideo.srcObject !== screen) screenVideo.srcObject = screen;
  } else {
    removeTile(key);
  }
}

export function dropPeer(id) {
  const p = state.peers.get(id);
  if (!p) return;
  p.pc?.close();
  removeTile(`${id}:camera`);
  removeTile(`${id}:screen`);
  state.peers.delete(id);
  updateCount();
  if (!state.leaving) announce(t("announce.left", { name: p.name }));
  renderPeople();
}

export async function onSignal({ from, signal, userName }) {
  if (!signal || typeof signal !== "object") return;
  const p = ensurePeer(from, userName);
  if (signal.sfuSeen) {
    p.seesUs = true; // they get our video through the server
    closeMeshWhenBothSee(p);
    return;
  }
  // Through the server, no new mesh connection starts (one still switching over is answered).
  if (state.mode === "sfu" && !p.pc) return;
  if (signal.type === "offer" || signal.type === "answer") {
    const fresh = !p.pc;
    const pc = connection(p);
    const collision = signal.type === "offer" && (p.makingOffer || pc.signalingState !== "stable");
    p.ignoreOffer = !p.polite && collision;
    if (p.ignoreOffer) return;
    await pc.setRemoteDescription(signal);
    // Answering a first offer: our tracks join the slots it offered (no second round).
    if (fresh) addOurTracks(p);
    if (signal.type === "offer") {
      await pc.setLocalDescription();
      send(from, pc.localDescription.toJSON());
    }
    for (const c of p.pending.splice(0)) await pc.addIceCandidate(c).catch(() => {});
  } else if (signal.candidate) {
    if (p.pc?.remoteDescription) {
      try {
        await p.pc.addIceCandidate(signal.candidate);
      } catch (error) {
        if (!p.ignoreOffer) throw error;
      }
    } else p.pending.push(signal.candidate);
  }
}
