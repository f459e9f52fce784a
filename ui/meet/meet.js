// The built-in meeting page: a mesh of RTCPeerConnections over the server's unchanged
// Socket.IO contract (join-room, init-users, user-joined, signal, user-left, error), as any
// front-end written for the original server would use it. The joiner sends offers to the people
// already in the room; they answer.

const $ = (id) => document.getElementById(id);
const state = {
  config: { iceServers: [], httpsPort: null, fingerprint: null },
  socket: null,
  room: null,
  name: null,
  local: null, // MediaStream, or null when joined without camera/microphone
  peers: new Map(), // id -> { pc, tile, pending: [] }
  leaving: false,
};

function notice(html, kind = "problem") {
  const el = $("notice");
  el.className = kind === "info" ? "notice info" : "notice";
  el.innerHTML = html;
  el.hidden = !html;
  el.dataset.kind = html ? kind : "";
}

function escapeHtml(text) {
  return String(text).replace(
    /[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c],
  );
}

function roomFromPath() {
  const m = location.pathname.match(/^\/r\/(.+)$/);
  return m ? decodeURIComponent(m[1]) : "";
}

function httpsLink() {
  if (!state.config.httpsPort) return null;
  return `https://${location.hostname}:${state.config.httpsPort}${location.pathname}`;
}

/** A video tile in the grid. */
function tile(id, name, self = false) {
  const figure = document.createElement("figure");
  figure.className = self ? "tile self" : "tile";
  figure.dataset.peer = id;
  const video = document.createElement("video");
  video.autoplay = true;
  video.playsInline = true;
  video.muted = self;
  video.className = self ? "local" : "remote";
  const caption = document.createElement("figcaption");
  caption.textContent = self ? `${name} (you)` : name;
  figure.append(video, caption);
  $("grid").append(figure);
  return figure;
}

function updateCount() {
  const n = state.peers.size + 1;
  $("count").textContent = n === 1 ? "only you so far" : `${n} people`;
}

function send(to, signal) {
  state.socket.emit("signal", { to, signal });
}

function peer(id, name) {
  let p = state.peers.get(id);
  if (p) return p;
  const pc = new RTCPeerConnection({ iceServers: state.config.iceServers });
  p = { pc, tile: tile(id, name || "…"), pending: [] };
  state.peers.set(id, p);
  if (state.local) for (const track of state.local.getTracks()) pc.addTrack(track, state.local);
  else {
    // Receive-only: still ask for the others' audio and video.
    pc.addTransceiver("audio", { direction: "recvonly" });
    pc.addTransceiver("video", { direction: "recvonly" });
  }
  pc.onicecandidate = (e) => e.candidate && send(id, { candidate: e.candidate.toJSON() });
  pc.ontrack = (e) => {
    const video = p.tile.querySelector("video");
    if (video.srcObject !== e.streams[0]) video.srcObject = e.streams[0];
  };
  updateCount();
  return p;
}

function dropPeer(id) {
  const p = state.peers.get(id);
  if (!p) return;
  p.pc.close();
  p.tile.remove();
  state.peers.delete(id);
  updateCount();
}

async function offerTo(id, name) {
  const p = peer(id, name);
  await p.pc.setLocalDescription(await p.pc.createOffer());
  send(id, p.pc.localDescription.toJSON());
}

async function onSignal({ from, signal, userName }) {
  if (!signal || typeof signal !== "object") return;
  const p = peer(from, userName);
  p.tile.querySelector("figcaption").textContent = userName;
  if (signal.type === "offer") {
    await p.pc.setRemoteDescription(signal);
    await p.pc.setLocalDescription(await p.pc.createAnswer());
    send(from, p.pc.localDescription.toJSON());
    for (const c of p.pending.splice(0)) await p.pc.addIceCandidate(c);
  } else if (signal.type === "answer") {
    await p.pc.setRemoteDescription(signal);
    for (const c of p.pending.splice(0)) await p.pc.addIceCandidate(c);
  } else if (signal.candidate) {
    if (p.pc.remoteDescription) await p.pc.addIceCandidate(signal.candidate);
    else p.pending.push(signal.candidate);
  }
}

async function openMedia() {
  try {
    return await navigator.mediaDevices.getUserMedia({ video: true, audio: true });
  } catch (error) {
    if (error.name === "NotAllowedError" || error.name === "SecurityError") {
      notice(
        "Camera and microphone access was denied. You joined without them: others cannot see or hear you. Allow access in the browser's site settings (the icon left of the address), then leave and join again.",
      );
    } else if (error.name === "NotFoundError" || error.name === "OverconstrainedError") {
      notice(
        "No camera or microphone was found. You joined without them: you can still see and hear the others.",
        "info",
      );
    } else {
      notice(
        `The camera or microphone could not start (${escapeHtml(error.message || error.name)}). You joined without them.`,
      );
    }
    return null;
  }
}

function connectSocket() {
  const socket = io({ path: "/socket.io", transports: ["websocket"] });
  socket.on("connect", () => {
    if ($("notice").dataset.kind === "server") notice("");
    // A reconnect gives new ids: start the mesh again from the room's current list.
    for (const id of [...state.peers.keys()]) dropPeer(id);
    socket.emit("join-room", { roomId: state.room, userName: state.name });
  });
  socket.on("init-users", (users) => {
    for (const { id, userName } of users) offerTo(id, userName).catch((e) => console.warn("offer failed", e));
    updateCount();
  });
  socket.on("user-joined", ({ id, userName }) => {
    peer(id, userName);
  });
  socket.on("signal", (msg) => onSignal(msg).catch((e) => console.warn("signal failed", e)));
  socket.on("user-left", (id) => dropPeer(id));
  socket.on("error", (message) => {
    if (/is full/.test(message)) {
      notice(`The room “${escapeHtml(state.room)}” is full. Try again later, or choose another room.`);
      leave(false);
    } else {
      notice(escapeHtml(message));
    }
  });
  socket.on("disconnect", (reason) => {
    if (state.leaving) return;
    notice("The connection to the Free Meetings server was lost. Reconnecting…");
    $("notice").dataset.kind = "server";
    for (const id of [...state.peers.keys()]) dropPeer(id);
    if (reason === "io server disconnect") socket.connect();
  });
  socket.io.on("reconnect_attempt", (n) => {
    notice(`The Free Meetings server is not answering (is it still running?). Reconnecting, attempt ${n}…`);
    $("notice").dataset.kind = "server";
  });
  return socket;
}

async function join(event) {
  event.preventDefault();
  const name = $("name").value.trim();
  const room = $("room").value.trim();
  if (!name || !room) return;
  if (!window.isSecureContext) {
    const link = httpsLink();
    notice(
      link
        ? `Browsers allow the camera and microphone only over HTTPS. Open <a href="${escapeHtml(link)}">${escapeHtml(link)}</a> instead. Your browser will warn about the certificate: check that its SHA-256 fingerprint is <code>${escapeHtml(state.config.fingerprint)}</code>, then continue.`
        : "Browsers allow the camera and microphone only over HTTPS, and this server has HTTPS turned off. Ask whoever runs it to start it with --tls, or open this page on the server's own machine.",
    );
    return;
  }
  localStorage.setItem("fm-name", name);
  state.name = name;
  state.room = room;
  state.leaving = false;
  notice("");
  if (location.pathname !== `/r/${encodeURIComponent(room)}`)
    history.replaceState(null, "", `/r/${encodeURIComponent(room)}`);
  $("join").hidden = true;
  $("call").hidden = false;
  $("room-title").textContent = room;
  state.local = await openMedia();
  const self = tile("self", name, true);
  if (state.local) self.querySelector("video").srcObject = state.local;
  $("mic").disabled = $("cam").disabled = !state.local;
  updateCount();
  state.socket = connectSocket();
}

function leave(emit = true) {
  state.leaving = true;
  if (state.socket) {
    if (emit && state.socket.connected) state.socket.emit("leave-room");
    state.socket.disconnect();
    state.socket = null;
  }
  for (const id of [...state.peers.keys()]) dropPeer(id);
  for (const track of state.local?.getTracks() || []) track.stop();
  state.local = null;
  $("grid").replaceChildren();
  $("call").hidden = true;
  $("join").hidden = false;
}

function toggle(button, kind, offLabel, onLabel) {
  const on = button.getAttribute("aria-pressed") !== "true";
  button.setAttribute("aria-pressed", String(on));
  button.textContent = on ? onLabel : offLabel;
  for (const track of state.local?.getTracks() || []) if (track.kind === kind) track.enabled = !on;
}

async function main() {
  try {
    state.config = await (await fetch("/api/meeting")).json();
  } catch {
    // An old or foreign server: no ICE servers, no HTTPS hint.
  }
  $("where").textContent = location.host;
  $("room").value = roomFromPath();
  $("name").value = localStorage.getItem("fm-name") || "";
  ($("room").value ? $("name") : $("room")).focus();
  $("join").addEventListener("submit", join);
  $("leave").addEventListener("click", () => leave());
  $("mic").addEventListener("click", (e) => toggle(e.currentTarget, "audio", "Mute", "Unmute"));
  $("cam").addEventListener("click", (e) => toggle(e.currentTarget, "video", "Camera off", "Camera on"));
  $("copy").addEventListener("click", async () => {
    const link = `${location.origin}/r/${encodeURIComponent(state.room)}`;
    try {
      await navigator.clipboard.writeText(link);
      $("copy").textContent = "Copied";
    } catch {
      prompt("Copy this link:", link);
    }
    setTimeout(() => ($("copy").textContent = "Copy link"), 1500);
  });
  if (!window.isSecureContext) {
    const link = httpsLink();
    if (link)
      notice(
        `This page is not secure (plain HTTP), so the browser will not allow the camera or microphone. Use <a href="${escapeHtml(link)}">${escapeHtml(link)}</a>; certificate SHA-256 fingerprint <code>${escapeHtml(state.config.fingerprint)}</code>.`,
      );
  }
}

main();
