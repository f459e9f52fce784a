// The control bar's toggles and what they change: our state told to the room, microphone,
// camera, screen sharing, raised hand, the people panel, the More menu and the layout.

import { t, tHtml } from "/i18n/i18n.js";
import { $, state } from "./state.js";
import { announce, notice } from "./notice.js";
import { fitGrid, layout, removeTile, tile } from "./tiles.js";
import { hostAction, isHost } from "./host.js";
import { addScreen, sendingConnections, showStreams } from "./mesh.js";

export const canShareScreen = () => Boolean(navigator.mediaDevices?.getDisplayMedia) && window.isSecureContext;

export function sendState() {
  if (!state.socket?.connected) return;
  const hasAudio = Boolean(state.local?.getAudioTracks().length);
  const hasVideo = Boolean(state.local?.getVideoTracks().length);
  state.socket.emit("state", {
    muted: state.muted || !hasAudio,
    camera: hasVideo && !state.cameraOff,
    screen: state.screen?.id ?? null,
    hand: state.hand,
  });
  const self = document.querySelector('[data-key="self:camera"]');
  if (self) {
    self.classList.toggle("muted", state.muted || !hasAudio);
    self.querySelector(".muted-mark").hidden = !(state.muted || !hasAudio);
  }
}

export function onState({ from, muted, camera, screen, hand = false }) {
  const p = state.peers.get(from);
  if (!p) return;
  if (hand && !p.state?.hand) announce(t("announce.hand", { name: p.name }));
  p.state = { muted, camera, screen, hand };
  p.tile.querySelector(".hand-mark").hidden = !hand;
  renderPeople();
  p.tile.classList.toggle("muted", muted);
  p.tile.classList.toggle("camera-off", !camera);
  p.tile.querySelector(".muted-mark").hidden = !muted;
  showStreams(p);
}

/** Shows a toggle's state: pressed or not, with the text and description (catalogue keys) of
 * what a click does next. */
export function pressed(button, on, [offKey, offTitleKey], [onKey, onTitleKey]) {
  const [offText, offLabel, onText, onLabel] = [offKey, offTitleKey, onKey, onTitleKey].map((k) => t(k));
  const label = button.querySelector(".label");
  button.setAttribute("aria-pressed", String(on));
  if (label) {
    // An icon button: its label is its accessible name and its tooltip, word for word
    // (WCAG 2.5.3); the shortcut is listed under "?".
    label.textContent = on ? onText : offText;
    button.title = label.textContent;
  } else {
    button.textContent = on ? onText : offText;
    button.title = on ? onLabel : offLabel;
  }
}

/** Raises or lowers our hand: on our tile, and told to the room with our state. */
export function setHand(up) {
  state.hand = up;
  pressed($("hand"), up, ["call.hand-raise", "call.hand-raise"], ["call.hand-lower", "call.hand-lower"]);
  const self = document.querySelector('[data-key="self:camera"]');
  if (self) self.querySelector(".hand-mark").hidden = !up;
  sendState();
  renderPeople();
}

/** The people panel: everyone in the room, with their microphone, camera and hand, and a
 * host's actions for each. */
export function renderPeople() {
  if (!state.peopleOpen) return;
  const host = isHost();
  const row = (id, name, st) => {
    const li = document.createElement("li");
    const who = document.createElement("span");
    who.className = "who";
    who.textContent = name;
    const marks = [];
    if (st.hand) marks.push(t("people.hand"));
    marks.push(t(st.muted ? "people.muted" : "people.mic-on"));
    marks.push(t(st.camera === false ? "people.camera-off" : "people.camera-on"));
    const info = document.createElement("span");
    info.className = "muted";
    info.textContent = marks.join(" · ");
    li.append(who, info);
    if (host && id) {
      for (const [action, key, shown] of [
        ["lower-hand", "host.lower-hand", st.hand],
        ["mute", "host.ask-mute", !st.muted],
        ["remove", "host.remove", true],
      ]) {
        if (!shown) continue;
        const button = document.createElement("button");
        button.type = "button";
        button.textContent = t(key);
        button.setAttribute("aria-label", t("host.action-label", { action: t(key), name }));
        button.addEventListener("click", () => hostAction(action, { peer: id }));
        li.append(button);
      }
    }
    return li;
  };
  const own = {
    muted: state.muted,
    camera: !state.cameraOff && Boolean(state.local?.getVideoTracks().length),
    hand: state.hand,
  };
  $("people-list").replaceChildren(
    row(null, t("tile.you", { name: state.name }), own),
    ...[...state.peers.values()].map((p) => row(p.id, p.name, p.state ?? {})),
  );
}

export function togglePeople(open = !state.peopleOpen) {
  state.peopleOpen = open;
  $("people").hidden = !open;
  $("people-toggle").setAttribute("aria-pressed", String(open));
  renderPeople();
  fitGrid();
}

/** The "more" menu: opened by its button, closed by Escape, a choice, or a click elsewhere. */
export function toggleMore(open = $("more-menu").hidden) {
  $("more-menu").hidden = !open;
  $("more").setAttribute("aria-expanded", String(open));
  if (open) $("more-menu").querySelector("button:not([hidden])")?.focus();
}

export function setLayout(layoutName) {
  state.layout = layoutName;
  localStorage.setItem("fm-layout", layoutName);
  $("layout").textContent = t(layoutName === "speaker" ? "call.grid-view" : "call.speaker-view");
  layout();
}

export function setMuted(muted) {
  state.muted = muted;
  for (const track of state.local?.getAudioTracks() || []) track.enabled = !muted;
  pressed($("mic"), muted, ["call.mute-short", "call.mute"], ["call.unmute-short", "call.unmute"]);
  sendState();
  renderPeople();
}

export function setCameraOff(off) {
  state.cameraOff = off;
  for (const track of state.local?.getVideoTracks() || []) track.enabled = !off;
  pressed($("cam"), off, ["call.camera-off-short", "call.camera-off"], ["call.camera-on-short", "call.camera-on"]);
  sendState();
  renderPeople();
}

export async function startSharing() {
  let screen;
  try {
    screen = await navigator.mediaDevices.getDisplayMedia({ video: true, audio: false });
  } catch (error) {
    if (error.name !== "NotAllowedError") notice(tHtml("notice.share-failed", { reason: error.message }));
    return;
  }
  // Every share goes out as one and the same stream: the server then gives the next share the
  // m-line of the last one, instead of a new one each time at every receiver.
  state.shareStream ??= new MediaStream();
  const shared = state.shareStream;
  for (const track of shared.getTracks()) shared.removeTrack(track);
  for (const track of screen.getTracks()) shared.addTrack(track);
  screen = shared;
  state.screen = screen;
  // The browser's own "Stop sharing" ends the track.
  screen.getVideoTracks()[0].addEventListener("ended", () => stopSharing());
  const figure = tile("self:screen", t("tile.your-screen"), { self: true, screen: true });
  figure.querySelector("video").srcObject = screen;
  sendState(); // before the tracks, so the others know which stream is the screen
  for (const conn of sendingConnections()) addScreen(conn);
  shareButton(true);
  layout();
}

export function stopSharing() {
  if (!state.screen) return;
  stopTracks(state.screen);
  for (const conn of sendingConnections()) {
    for (const sender of conn.screenSenders) conn.pc.removeTrack(sender);
    conn.screenSenders = [];
  }
  state.screen = null;
  removeTile("self:screen");
  sendState();
  shareButton(false);
}

export function shareButton(sharing) {
  pressed($("share"), sharing, ["call.share-short", "call.share"], ["call.stop-share-short", "call.stop-share"]);
  if (!canShareScreen()) $("share").title = t("call.share-unavailable");
}

export function stopTracks(stream) {
  for (const track of stream?.getTracks() || []) track.stop();
}
