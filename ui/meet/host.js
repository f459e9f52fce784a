// A private meeting's host: the host's controls, the lobby's queue, who hosts on each tile.

import { t } from "/i18n/i18n.js";
import { $, state } from "./state.js";
import { pressed, renderPeople } from "./controls.js";

export function isHost() {
  return !!state.meeting && !!state.socket && state.meeting.hosts.includes(state.socket.id);
}

export function hostAction(action, extra = {}) {
  state.socket?.emit("host", { action, ...extra });
}

/** Shows how the meeting is run: the host's controls and lobby, who hosts on each tile. */
export function showMeeting(view) {
  state.meeting = view;
  const host = isHost();
  $("host-controls").hidden = !host;
  pressed($("lobby"), view.lobby, ["host.lobby", "host.lobby-turn-on"], ["host.lobby-on", "host.lobby-turn-off"]);
  pressed($("lock"), view.locked, ["host.lock", "host.lock-label"], ["host.locked", "host.unlock-label"]);
  for (const button of document.querySelectorAll(".host-action")) button.hidden = !host;
  for (const figure of document.querySelectorAll("#stage .tile:not(.screen)")) {
    const id = figure.classList.contains("self") ? state.socket?.id : figure.dataset.peer;
    figure.dataset.host = String(view.hosts.includes(id));
    figure.querySelector(".name").dataset.hostMarker = t("host.marker");
  }
  renderPeople();
  const waiting = (host && view.waiting) || [];
  $("lobby-panel").hidden = waiting.length === 0;
  $("waiting-list").replaceChildren(
    ...waiting.map(({ id, userName }) => {
      const li = document.createElement("li");
      const name = document.createElement("span");
      name.textContent = userName;
      const admit = document.createElement("button");
      admit.type = "button";
      admit.textContent = t("host.admit");
      // The accessible name starts with the visible text, and says whom (WCAG 2.5.3).
      admit.setAttribute("aria-label", t("host.action-label", { action: t("host.admit"), name: userName }));
      admit.title = t("host.admit-label", { name: userName });
      admit.addEventListener("click", () => hostAction("admit", { peer: id }));
      const decline = document.createElement("button");
      decline.type = "button";
      decline.className = "danger";
      decline.textContent = t("host.decline");
      decline.setAttribute("aria-label", t("host.action-label", { action: t("host.decline"), name: userName }));
      decline.title = t("host.decline-label", { name: userName });
      decline.addEventListener("click", () => hostAction("decline", { peer: id }));
      li.append(name, admit, decline);
      return li;
    }),
  );
}
