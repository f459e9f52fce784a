// The chat panel: messages as text and links (never HTML), unread count, sending.

import { t } from "/i18n/i18n.js";
import { announce } from "./notice.js";
import { $, state } from "./state.js";
import { fitGrid } from "./tiles.js";

/** A message's text as text nodes and links: never parsed as HTML. */
export function messageBody(text) {
  const body = document.createElement("p");
  let last = 0;
  for (const match of text.matchAll(/https?:\/\/[^\s<>"']+/g)) {
    body.append(text.slice(last, match.index));
    const link = document.createElement("a");
    link.href = match[0];
    link.textContent = match[0];
    link.target = "_blank";
    link.rel = "noopener noreferrer";
    body.append(link);
    last = match.index + match[0].length;
  }
  body.append(text.slice(last));
  return body;
}

export function onChat({ from, userName, text, at }) {
  const item = document.createElement("li");
  item.className = from === state.socket?.id ? "mine" : "";
  item.dataset.from = from;
  const head = document.createElement("div");
  head.className = "head";
  const who = document.createElement("strong");
  who.textContent = userName;
  const when = document.createElement("time");
  when.dateTime = new Date(at).toISOString();
  when.textContent = new Date(at).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  head.append(who, " ", when);
  item.append(head, messageBody(text));
  const list = $("messages");
  list.append(item);
  list.scrollTop = list.scrollHeight;
  if (!state.chatOpen) {
    if (from !== state.socket?.id) announce(t("announce.chat", { name: userName, text }));
    state.unread++;
    $("unread").textContent = String(state.unread);
    $("unread").hidden = false;
    $("chat-toggle").title = t("call.chat-unread", { n: state.unread });
  }
}

export function toggleChat(open = !state.chatOpen) {
  state.chatOpen = open;
  $("chat").hidden = !open;
  $("chat-toggle").setAttribute("aria-pressed", String(open));
  if (open) {
    state.unread = 0;
    $("unread").hidden = true;
    $("chat-toggle").title = t("call.chat");
    $("chat-input").focus();
  }
  fitGrid();
}

export function sendChat(event) {
  event.preventDefault();
  const input = $("chat-input");
  const text = input.value.trim();
  if (!text || !state.socket?.connected) return;
  state.socket.emit("chat", { text });
  input.value = "";
}
