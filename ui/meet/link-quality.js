// How well each remote video arrives, from the receiving side's WebRTC statistics.

import { t } from "/i18n/i18n.js";
import { state } from "./state.js";

/** The connection's level from its loss (0-1) and round trip (seconds, or null): what a video
 * call feels at each (above 2% loss or 250 ms pictures stutter or talk overlaps; above 8% or
 * 500 ms a call struggles). */
export function linkLevel(loss, rtt) {
  if (loss > 0.08 || rtt > 0.5) return "poor";
  if (loss > 0.02 || rtt > 0.25) return "fair";
  return "good";
}

/** Every 2 s: each remote video's connection, from the receiving side's statistics: the share
 * of its packets lost since the last look, and the round trip of the connection it comes on. */
export async function watchConnections() {
  const connections = state.sfu ? [state.sfu.pc] : [...state.peers.values()].map((p) => p.pc).filter(Boolean);
  const received = new Map(); // track id -> {lost, received, rtt}
  for (const pc of connections) {
    const stats = await pc.getStats().catch(() => null);
    if (!stats) continue;
    let rtt = null;
    const inbound = [];
    for (const s of stats.values()) {
      if (s.type === "candidate-pair" && s.nominated && s.state === "succeeded") rtt = s.currentRoundTripTime ?? rtt;
      if (s.type === "inbound-rtp" && s.kind === "video" && s.trackIdentifier) inbound.push(s);
    }
    for (const s of inbound)
      received.set(s.trackIdentifier, { lost: s.packetsLost ?? 0, received: s.packetsReceived ?? 0, rtt });
  }
  for (const figure of document.querySelectorAll("#stage .tile:not(.self)")) {
    const mark = figure.querySelector(".link-mark");
    const track = figure.querySelector("video").srcObject?.getVideoTracks?.()[0];
    const now = track && received.get(track.id);
    if (!now) {
      mark.hidden = true;
      continue;
    }
    const before = state.linkStats.get(track.id) ?? { lost: 0, received: 0 };
    state.linkStats.set(track.id, now);
    const lost = Math.max(0, now.lost - before.lost);
    const got = Math.max(0, now.received - before.received);
    const loss = lost + got ? lost / (lost + got) : 0;
    const level = linkLevel(loss, now.rtt);
    const words = t(`link.${level}`, {
      loss: Math.round(loss * 100),
      rtt: now.rtt === null ? "?" : Math.round(now.rtt * 1000),
    });
    mark.hidden = false;
    mark.dataset.level = level;
    mark.title = words;
    mark.setAttribute("aria-label", words);
  }
}
