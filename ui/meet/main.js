// The built-in meeting page's entry point (index.html loads it as a module; no build step). The
// page is a mesh of RTCPeerConnections over the server's Socket.IO contract (join-room,
// init-users, user-joined, signal, user-left, error, as any front-end written for the original
// server uses it), plus the events this server adds: `chat`, `state` (muted, camera, shared
// screen, raised hand), the host's events and, for media through the server, `sfu-*`. Media goes
// one of two ways, as the server says (`media-mode`): browser to browser (mesh.js), or through
// the server's forwarder (sfu.js), where a room that moves keeps playing. The parts, one module
// each: state.js (what the page knows), signaling.js, mesh.js, sfu.js, tiles.js (and speaking.js,
// link-quality.js), devices.js, controls.js (the bar, hand, people, More), chat.js, host.js,
// links.js, notice.js, test-hook.js; the words come from /i18n/i18n.js. This file wires them:
// the language, the controls' handlers, keyboard shortcuts, and the test hook.

import { t, tHtml, useLanguage, preferredLanguage, languagePicker, language } from "/i18n/i18n.js";
import { $, state } from "./state.js";
import { testHook } from "./test-hook.js";
import { notice } from "./notice.js";
import { httpsLink, inviteLink, keysFromLink, newMeeting, roomFromPath, showPrivate } from "./links.js";
import { chooseDevice, listDevices, setNoiseSuppression, startPreview } from "./devices.js";
import {
  canShareScreen,
  pressed,
  renderPeople,
  setCameraOff,
  setHand,
  setLayout,
  setMuted,
  shareButton,
  startSharing,
  stopSharing,
  toggleMore,
  togglePeople,
} from "./controls.js";
import { fitGrid, updateCount } from "./tiles.js";
import { hostAction, showMeeting } from "./host.js";
import { watchLevels } from "./speaking.js";
import { watchConnections } from "./link-quality.js";
import { queueWants, sendWants } from "./sfu.js";
import { sendChat, toggleChat } from "./chat.js";
import { join, leave } from "./signaling.js";

export function onKey(event) {
  if (event.key === "Escape" && !$("more-menu").hidden) {
    toggleMore(false);
    $("more").focus();
    return;
  }
  if (event.ctrlKey || event.metaKey || event.altKey || $("call").hidden) return;
  if (event.target.closest("input, textarea, select, [contenteditable]")) return;
  if (event.key === "?") {
    event.preventDefault();
    $("shortcuts").showModal();
    return;
  }
  if (!state.shortcuts) return;
  const actions = {
    m: () => !$("mic").disabled && setMuted(!state.muted),
    v: () => !$("cam").disabled && setCameraOff(!state.cameraOff),
    s: () => $("share").click(),
    h: () => setHand(!state.hand),
    c: () => toggleChat(),
    p: () => togglePeople(),
  };
  const action = actions[event.key.toLowerCase()];
  if (action) {
    event.preventDefault();
    action();
  }
}

/** After the language changed: the texts the code set (the HTML's are set by i18n). */
export function retranslate() {
  setMuted(state.muted);
  setCameraOff(state.cameraOff);
  shareButton(Boolean(state.screen));
  pressed($("hand"), state.hand, ["call.hand-raise", "call.hand-raise"], ["call.hand-lower", "call.hand-lower"]);
  for (const id of ["chat-toggle", "people-toggle", "more", "leave"])
    $(id).title = $(id).querySelector(".label").textContent;
  $("layout").textContent = t(state.layout === "speaker" ? "call.grid-view" : "call.speaker-view");
  for (const mark of document.querySelectorAll(".hand-mark")) {
    mark.title = t("tile.hand");
    mark.setAttribute("aria-label", t("tile.hand"));
  }
  renderPeople();
  updateCount();
  if (!$("call").hidden) toggleChat(Boolean(state.chatOpen));
  if (state.meeting) showMeeting(state.meeting);
  for (const select of [$("language-select"), $("call-language-select")]) select.value = language();
  if (navigator.mediaDevices) listDevices().catch(() => {});
}

export async function main() {
  await useLanguage(preferredLanguage());
  for (const select of [$("language-select"), $("call-language-select")]) languagePicker(select, retranslate);
  retranslate();
  try {
    state.config = await (await fetch("/api/meeting")).json();
  } catch {
    // An old or foreign server: no ICE servers, no HTTPS hint.
  }
  $("where").textContent = location.host;
  $("room").value = roomFromPath();
  keysFromLink($("room").value);
  showPrivate();
  $("room").addEventListener("input", showPrivate);
  $("new-meeting").addEventListener("click", newMeeting);
  $("lobby").addEventListener("click", () => hostAction("lobby", { on: !state.meeting?.lobby }));
  $("lock").addEventListener("click", () => hostAction("lock", { on: !state.meeting?.locked }));
  $("new-link").addEventListener("click", () => hostAction("new-link"));
  $("end").addEventListener("click", () => {
    if (confirm(t("host.end-confirm"))) hostAction("end");
  });
  $("name").value ||= localStorage.getItem("fm-name") || ""; // keep what was typed while loading
  ($("room").value ? $("name") : $("room")).focus();
  $("join").addEventListener("submit", join);
  $("leave").addEventListener("click", () => leave());
  $("mic").addEventListener("click", () => setMuted(!state.muted));
  $("cam").addEventListener("click", () => setCameraOff(!state.cameraOff));
  $("share").addEventListener("click", () => (state.screen ? stopSharing() : startSharing()));
  if (!canShareScreen()) {
    $("share").disabled = true;
    $("share").title = t("call.share-unavailable");
  }
  $("chat-toggle").addEventListener("click", () => toggleChat());
  $("hand").addEventListener("click", () => setHand(!state.hand));
  $("people-toggle").addEventListener("click", () => togglePeople());
  $("more").addEventListener("click", () => toggleMore());
  // A choice in the menu closes it (the host's toggles too: their state is in their text).
  $("more-menu").addEventListener("click", (e) => {
    if (e.target.closest("button")) toggleMore(false);
  });
  document.addEventListener("click", (e) => {
    if (!$("more-menu").hidden && !e.target.closest(".more")) toggleMore(false);
  });
  $("layout").addEventListener("click", () => setLayout(state.layout === "speaker" ? "grid" : "speaker"));
  $("shortcuts-toggle").addEventListener("click", () => $("shortcuts").showModal());
  $("shortcuts-on").checked = state.shortcuts;
  $("shortcuts-on").addEventListener("change", (e) => {
    state.shortcuts = e.target.checked;
    localStorage.setItem("fm-shortcuts", state.shortcuts ? "on" : "off");
  });
  $("chat-form").addEventListener("submit", sendChat);
  $("chat-input").addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey) sendChat(e);
  });
  $("devices-toggle").addEventListener("click", () => $("devices").showModal());
  for (const [select, kind] of [
    ["camera-select", "camera"],
    ["mic-select", "mic"],
    ["speaker-select", "speaker"],
    ["call-camera-select", "camera"],
    ["call-mic-select", "mic"],
    ["call-speaker-select", "speaker"],
  ]) {
    $(select).addEventListener("change", (e) => chooseDevice(kind, e.target.value));
  }
  $("copy").addEventListener("click", async () => {
    const link = inviteLink(state.room);
    try {
      await navigator.clipboard.writeText(link);
      $("copy").textContent = t("call.copied");
    } catch {
      prompt(t("call.copy-prompt"), link);
    }
    setTimeout(() => ($("copy").textContent = t("call.copy")), 1500);
  });
  document.addEventListener("keydown", onKey);
  // Not through queueWants: a hidden tab runs no animation frames.
  document.addEventListener("visibilitychange", () => sendWants());
  addEventListener("scroll", queueWants, { passive: true });
  new ResizeObserver(() => fitGrid()).observe($("stage"));
  setInterval(watchLevels, 40);
  setInterval(() => watchConnections().catch((e) => console.warn("connection statistics", e)), 2000);
  $("noise-suppression").checked = state.devices.noiseSuppression !== false;
  $("noise-suppression").addEventListener("change", (e) => setNoiseSuppression(e.target.checked));
  if (window.isSecureContext) {
    state.ready = startPreview();
  } else {
    const link = httpsLink();
    if (link) notice(tHtml("notice.insecure", { link, fingerprint: state.config.fingerprint }));
  }
  // The button is disabled in the HTML until now: a click before the handler above would submit
  // the form natively and reload the page, losing the name typed.
  $("join-button").disabled = false;
  $("new-meeting").disabled = false;
}

// The tests' named questions to the page (test-hook.js).
window.fmTest = testHook;

main();
