// The tiles (one per camera or screen) and their layout: a grid that fits, or one shown large.

import { t } from "/i18n/i18n.js";
import { $, state } from "./state.js";
import { canPickSpeaker } from "./devices.js";
import { hostAction, isHost } from "./host.js";
import { queueWants } from "./sfu.js";

/** A tile: `key` is "<peer id or self>:<camera|screen>". */
export function tile(key, label, { self = false, screen = false } = {}) {
  let figure = document.querySelector(`[data-key="${CSS.escape(key)}"]`);
  if (figure) return figure;
  figure = document.createElement("figure");
  figure.className = `tile${self ? " self" : ""}${screen ? " screen" : ""}`;
  figure.dataset.key = key;
  figure.dataset.peer = key.split(":")[0];
  const video = document.createElement("video");
  video.autoplay = true;
  video.playsInline = true;
  video.muted = self;
  video.className = self ? "local" : "remote";
  if (!self && state.devices.speaker && canPickSpeaker()) video.setSinkId(state.devices.speaker).catch(() => {});
  const caption = document.createElement("figcaption");
  const name = document.createElement("span");
  name.className = "name";
  name.textContent = label;
  const mutedMark = document.createElement("span");
  mutedMark.className = "muted-mark";
  mutedMark.textContent = t("tile.muted");
  mutedMark.title = t("tile.muted-label");
  mutedMark.hidden = true;
  // Speaking is shown by a moving mark as well as the ring's colour (WCAG 1.4.1).
  const speakingMark = document.createElement("span");
  speakingMark.className = "speaking-mark";
  speakingMark.setAttribute("aria-hidden", "true");
  speakingMark.append(document.createElement("i"), document.createElement("i"), document.createElement("i"));
  const handMark = document.createElement("span");
  handMark.className = "hand-mark";
  // The control bar's hand, drawn (an emoji needs a font the machine may not have).
  handMark.append($("hand").querySelector("svg").cloneNode(true));
  handMark.title = t("tile.hand");
  handMark.setAttribute("role", "img");
  handMark.setAttribute("aria-label", t("tile.hand"));
  handMark.hidden = true;
  // How well this person's video arrives (see watchConnections): three bars, and words.
  const linkMark = document.createElement("span");
  linkMark.className = "link-mark";
  linkMark.setAttribute("role", "img");
  linkMark.append(document.createElement("i"), document.createElement("i"), document.createElement("i"));
  linkMark.hidden = true;
  caption.append(speakingMark, name, handMark, linkMark, mutedMark);
  const pin = document.createElement("button");
  pin.type = "button";
  pin.className = "pin";
  pin.textContent = t("tile.pin");
  pin.title = t("tile.pin-label", { name: label });
  pin.addEventListener("click", () => {
    state.pinned = state.pinned === key ? null : key;
    layout();
  });
  figure.append(video, caption, pin);
  if (!self && !screen) {
    // A host's per-person controls, shown only to hosts (see showMeeting).
    for (const [action, text] of [
      ["mute", t("host.ask-mute")],
      ["remove", t("host.remove")],
    ]) {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "host-action";
      button.dataset.action = action;
      button.textContent = text;
      button.setAttribute("aria-label", t("host.action-label", { action: text, name: label }));
      button.hidden = !isHost();
      button.addEventListener("click", (e) => {
        e.stopPropagation();
        hostAction(action, { peer: figure.dataset.peer });
      });
      figure.append(button);
    }
  }
  figure.addEventListener("dblclick", () => {
    if (document.fullscreenElement) document.exitFullscreen().catch(() => {});
    else figure.requestFullscreen?.().catch(() => {});
  });
  $("grid").append(figure);
  layout();
  return figure;
}

export function removeTile(key) {
  const figure = document.querySelector(`[data-key="${CSS.escape(key)}"]`);
  if (!figure) return;
  figure.remove();
  state.meters.get(key)?.source.disconnect();
  state.meters.delete(key);
  if (state.pinned === key) state.pinned = null;
  layout();
}

export function setLabel(figure, label) {
  figure.querySelector(".name").textContent = label;
  figure.querySelector(".pin").title = t("tile.pin-label", { name: label });
}

/** Which tile is shown large: the pinned one, else the newest screen share, else none. */
export function spotlightKey() {
  if (state.pinned && document.querySelector(`[data-key="${CSS.escape(state.pinned)}"]`)) return state.pinned;
  const screens = [...document.querySelectorAll("#stage .tile.screen:not(.self)")];
  const own = document.querySelector("#stage .tile.screen.self");
  const chosen = screens.at(-1) || own;
  if (chosen) return chosen.dataset.key;
  // Speaker view: whoever spoke last, once someone else is here.
  if (state.layout === "speaker" && state.peers.size) {
    const speaker = state.speaker && document.querySelector(`[data-key="${CSS.escape(state.speaker)}"]`);
    const first = document.querySelector("#stage .tile:not(.self):not(.screen)");
    return (speaker || first)?.dataset.key ?? null;
  }
  return null;
}

/** Places the tiles: one large with the rest in a strip, or a grid that fits them all. */
export function layout() {
  const spotlight = $("spotlight");
  const grid = $("grid");
  const key = spotlightKey();
  for (const figure of [...spotlight.children]) if (figure.dataset.key !== key) grid.append(figure);
  if (key) {
    const figure = document.querySelector(`[data-key="${CSS.escape(key)}"]`);
    if (figure.parentElement !== spotlight) spotlight.append(figure);
  }
  spotlight.hidden = !key;
  $("stage").classList.toggle("with-spotlight", Boolean(key));
  for (const figure of document.querySelectorAll("#stage .tile")) {
    const pinned = figure.dataset.key === state.pinned;
    figure.classList.toggle("pinned", pinned);
    figure.querySelector(".pin").textContent = t(pinned ? "tile.unpin" : "tile.pin");
  }
  fitGrid();
  queueWants();
}

/** Columns that make the grid's tiles as large as the space allows (16:9 tiles, 1-16 of them). */
export function fitGrid() {
  const grid = $("grid");
  const n = grid.children.length;
  if (!n) return;
  if ($("stage").classList.contains("with-spotlight")) {
    grid.style.gridTemplateColumns = "";
    return;
  }
  const { width, height } = grid.getBoundingClientRect();
  const gap = 10;
  let best = { columns: 1, size: 0 };
  for (let columns = 1; columns <= n; columns++) {
    const rows = Math.ceil(n / columns);
    const w = Math.min((width - gap * (columns - 1)) / columns, ((height - gap * (rows - 1)) / rows) * (16 / 9));
    if (w > best.size) best = { columns, size: w };
  }
  grid.style.gridTemplateColumns = `repeat(${best.columns}, ${Math.max(120, Math.floor(best.size))}px)`;
}

export function updateCount() {
  const n = state.peers.size + 1;
  $("count").textContent = n === 1 ? t("call.count-alone") : t("call.count", { n });
}
