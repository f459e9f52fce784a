// The room and a private meeting's keys from the link, invitation links, New private meeting,
// and the HTTPS address of this server.

import { tHtml } from "/i18n/i18n.js";
import { $, state } from "./state.js";
import { notice } from "./notice.js";

export function roomFromPath() {
  const m = location.pathname.match(/^\/r\/(.+)$/);
  return m ? decodeURIComponent(m[1]) : "";
}

export const KEYS_PREFIX = "fm-keys:";

/** Takes a private meeting's keys out of the link (`#k=GUEST&h=HOST`): remembered for this tab,
 * then removed from the address bar, where a shared screen or a copied address would show them
 * (browsers never send the fragment to a server or in `Referer`). */
export function keysFromLink(room) {
  const params = new URLSearchParams(location.hash.slice(1));
  const key = params.get("k");
  if (key && room) {
    rememberKeys({ room, key, hostKey: params.get("h") });
    history.replaceState(null, "", location.pathname);
    return;
  }
  const saved = room && sessionStorage.getItem(KEYS_PREFIX + room);
  if (saved) state.keys = JSON.parse(saved);
}

export function rememberKeys(keys) {
  state.keys = keys;
  sessionStorage.setItem(KEYS_PREFIX + keys.room, JSON.stringify(keys));
}

/** The key to join `room` with: the host key when we have it, else the guest key. */
export function keyFor(room) {
  if (state.keys?.room !== room) return undefined;
  return state.keys.hostKey || state.keys.key;
}

/** The link to invite people with: a private meeting's carries its guest key, never the host's. */
export function inviteLink(room) {
  const link = `${location.origin}/r/${encodeURIComponent(room)}`;
  return state.keys?.room === room ? `${link}#k=${state.keys.key}` : link;
}

export function showPrivate() {
  $("private-note").hidden = state.keys?.room !== $("room").value.trim();
}

export async function newMeeting() {
  try {
    const response = await fetch("/api/meetings", { method: "POST" });
    const answer = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(answer.error || `the server answered ${response.status}`);
    rememberKeys({ room: answer.room, key: answer.key, hostKey: answer.hostKey });
    $("room").value = answer.room;
    history.replaceState(null, "", `/r/${encodeURIComponent(answer.room)}`);
    showPrivate();
    notice(tHtml("notice.meeting-made", { room: answer.room }), "info");
    $("name").focus();
  } catch (error) {
    notice(tHtml("notice.meeting-failed", { reason: error.message || error }));
  }
}

export function httpsLink() {
  if (!state.config.httpsPort) return null;
  return `https://${location.hostname}:${state.config.httpsPort}${location.pathname}`;
}
