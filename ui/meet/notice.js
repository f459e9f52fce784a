// The notice above the call, the screen-reader announcer, and escaping for both.

import { $ } from "./state.js";

/** Shows (or with "" clears) the notice; `topic` says what it is about ("media" outlives a
 * join: it explains why the others cannot see or hear you). */
export function notice(html, kind = "problem", topic = "") {
  const el = $("notice");
  el.className = kind === "info" ? "notice info" : "notice";
  el.innerHTML = html;
  el.hidden = !html;
  el.dataset.kind = html ? kind : "";
  el.dataset.topic = html ? topic : "";
}

/** Says `text` to screen readers (a polite live region): joins, leaves, hands, chat. */
export function announce(text) {
  const region = $("announcer");
  region.textContent = "";
  // A new node each time, so that the same words twice are read twice.
  requestAnimationFrame(() => (region.textContent = text));
}

export function escapeHtml(text) {
  return String(text).replace(
    /[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c],
  );
}
