// The signaling connection (the server's Socket.IO contract): joining, every event the
// server sends, and leaving.

import { t, tHtml } from "/i18n/i18n.js";
import { $, state } from "./state.js";
import { announce, escapeHtml, notice } from "./notice.js";
import { httpsLink, keyFor, rememberKeys } from "./links.js";
import { startPreview } from "./devices.js";
import {
  onState,
  renderPeople,
  sendState,
  setCameraOff,
  setHand,
  setMuted,
  stopSharing,
  toggleMore,
  togglePeople,
} from "./controls.js";
import { tile, updateCount } from "./tiles.js";
import { showMeeting } from "./host.js";
import { meter } from "./speaking.js";
import { addOurTracks, dropPeer, ensurePeer, onSignal } from "./mesh.js";
import { onMediaMode, onSfuAnswer, onSfuOffer, restartSfu, setLayers, stopSfu } from "./sfu.js";
import { onChat, toggleChat } from "./chat.js";

export function connectSocket() {
  const socket = io({ path: "/socket.io", transports: ["websocket"] });
  socket.on("connect", () => {
    if ($("notice").dataset.topic === "server") notice("");
    // A reconnect gives new ids: start again from the room's current list.
    for (const id of [...state.peers.keys()]) dropPeer(id);
    stopSfu();
    sendState(); // first, so the room learns it with our join
    const key = keyFor(state.room);
    socket.emit("join-room", { roomId: state.room, userName: state.name, sfu: true, ...(key ? { key } : {}) });
  });
  socket.on("media-mode", onMediaMode);
  socket.on("sfu-offer", (msg) => onSfuOffer(msg).catch((e) => console.warn("sfu offer failed", e)));
  socket.on("sfu-answer", (msg) => onSfuAnswer(msg).catch((e) => console.warn("sfu answer failed", e)));
  socket.on("sfu-failed", ({ reason }) => state.sfu && restartSfu(state.sfu, reason));
  socket.on("sfu-layers", (msg) => setLayers(msg).catch((e) => console.warn("layers not set", e)));
  socket.on("init-users", (users) => {
    if ($("notice").dataset.topic === "lobby") notice("");
    for (const { id, userName } of users) {
      const p = ensurePeer(id, userName);
      if (state.mode === "mesh") addOurTracks(p);
    }
    updateCount();
  });
  socket.on("user-joined", ({ id, userName }) => {
    ensurePeer(id, userName);
    announce(t("announce.joined", { name: userName }));
    renderPeople();
  });
  socket.on("signal", (msg) => onSignal(msg).catch((e) => console.warn("signal failed", e)));
  socket.on("user-left", (id) => dropPeer(id));
  socket.on("chat", onChat);
  socket.on("state", onState);
  socket.on("meeting", showMeeting);
  socket.on("waiting", () => notice(tHtml("notice.waiting"), "info", "lobby"));
  socket.on("removed", ({ reason, message }) => {
    leave(false);
    const said = ["declined", "removed", "ended"].includes(reason) ? t(`removed.${reason}`) : message;
    notice(tHtml("notice.removed", { room: state.room, reason: said }));
  });
  socket.on("lower-hand", () => {
    setHand(false);
    notice(tHtml("notice.hand-lowered"), "info");
  });
  socket.on("mute-request", () => {
    setMuted(true);
    notice(tHtml("notice.mute-request"), "info");
  });
  socket.on("meeting-link", ({ key }) => {
    rememberKeys({ ...state.keys, key });
    notice(tHtml("notice.new-link"), "info");
  });
  // The server's English text, then `{code}`: what is shown is the code's text in the page's
  // language (the English text for a code this page does not know).
  socket.on("error", (message, detail) => {
    const code = detail?.code;
    const said = code && t(`error.${code}`) !== `error.${code}` ? t(`error.${code}`) : message;
    if (code === "room-full") {
      notice(tHtml("notice.room-full", { room: state.room }));
      leave(false);
    } else if (["needs-link", "wrong-key", "locked"].includes(code)) {
      // Refused at the door: back to the form, with the server's reason.
      notice(tHtml("notice.refused", { room: state.room, reason: said.replace(/\.$/, "") }));
      leave(false);
    } else {
      notice(escapeHtml(said));
    }
  });
  socket.on("disconnect", (reason) => {
    if (state.leaving) return;
    notice(tHtml("notice.server-lost"), "problem", "server");
    for (const id of [...state.peers.keys()]) dropPeer(id);
    stopSfu();
    if (reason === "io server disconnect") socket.connect();
  });
  socket.io.on("reconnect_attempt", (n) => {
    notice(tHtml("notice.server-silent", { n }), "problem", "server");
  });
  return socket;
}

export async function join(event) {
  event.preventDefault();
  const name = $("name").value.trim();
  const room = $("room").value.trim();
  if (!name || !room) return;
  if (!window.isSecureContext) {
    const link = httpsLink();
    notice(
      link ? tHtml("notice.https-link", { link, fingerprint: state.config.fingerprint }) : tHtml("notice.https-off"),
    );
    return;
  }
  await state.ready;
  localStorage.setItem("fm-name", name);
  state.name = name;
  state.room = room;
  state.leaving = false;
  if ($("notice").dataset.topic !== "media") notice("");
  if (location.pathname !== `/r/${encodeURIComponent(room)}`)
    history.replaceState(null, "", `/r/${encodeURIComponent(room)}`);
  $("join").hidden = true;
  $("call").hidden = false;
  $("room-title").textContent = room;
  $("room-private").hidden = !keyFor(room);
  meter("preview", null);
  $("preview").srcObject = null;
  const self = tile("self:camera", t("tile.you", { name }), { self: true });
  self.querySelector("video").srcObject = state.local;
  meter("self:camera", state.local);
  $("mic").disabled = !state.local?.getAudioTracks().length;
  $("cam").disabled = !state.local?.getVideoTracks().length;
  setMuted(state.muted);
  setCameraOff(state.cameraOff);
  setHand(false);
  updateCount();
  state.socket = connectSocket();
}

export function leave(emit = true) {
  state.leaving = true;
  if (state.socket) {
    if (emit && state.socket.connected) state.socket.emit("leave-room");
    state.socket.disconnect();
    state.socket = null;
  }
  stopSharing();
  for (const id of [...state.peers.keys()]) dropPeer(id);
  stopSfu();
  for (const key of [...state.meters.keys()]) meter(key, null);
  $("grid").replaceChildren();
  $("spotlight").replaceChildren();
  $("messages").replaceChildren();
  toggleChat(false);
  togglePeople(false);
  toggleMore(false);
  state.hand = false;
  state.speaker = null;
  state.pinned = null;
  state.meeting = null;
  $("host-controls").hidden = true;
  $("lobby-panel").hidden = true;
  $("call").hidden = true;
  $("join").hidden = false;
  state.ready = startPreview();
}
