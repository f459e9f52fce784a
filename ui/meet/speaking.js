// Who is speaking: each tile's audio level, for its ring and moving bars, and speaker view.

import { $, SPEAKING_LEVEL, state } from "./state.js";
import { layout } from "./tiles.js";

export function audioContext() {
  if (!state.audio) state.audio = new AudioContext();
  if (state.audio.state === "suspended") state.audio.resume().catch(() => {});
  return state.audio;
}

/** Starts measuring the audio of `stream` for the tile `key` (or the pre-join meter). */
export function meter(key, stream) {
  if (!stream?.getAudioTracks().length) {
    state.meters.get(key)?.source.disconnect();
    state.meters.delete(key);
    return;
  }
  state.meters.get(key)?.source.disconnect();
  const context = audioContext();
  const analyser = context.createAnalyser();
  // About 43 ms of sound at 48 kHz, read every 40 ms (`watchLevels`): nothing slips between reads.
  analyser.fftSize = 2048;
  const source = context.createMediaStreamSource(stream);
  source.connect(analyser);
  state.meters.set(key, { source, analyser, data: new Float32Array(analyser.fftSize), quietSince: 0 });
}

export function level({ analyser, data }) {
  analyser.getFloatTimeDomainData(data);
  let sum = 0;
  for (const v of data) sum += v * v;
  return Math.sqrt(sum / data.length);
}

/** Every 40 ms: the speaking rings, and the pre-join level meter. */
export function watchLevels() {
  const now = Date.now();
  for (const [key, m] of state.meters) {
    const rms = level(m);
    if (key === "preview") {
      $("meter").value = Math.min(100, Math.round(rms * 400));
      continue;
    }
    const figure = document.querySelector(`[data-key="${CSS.escape(key)}"]`);
    if (!figure) continue;
    const peerId = key.split(":")[0];
    const muted = peerId === "self" ? state.muted : state.peers.get(peerId)?.state?.muted;
    if (rms > SPEAKING_LEVEL && !muted) m.quietSince = 0;
    else if (!m.quietSince) m.quietSince = now;
    // A short hold, so the ring does not flicker between words.
    const speaking = !m.quietSince || now - m.quietSince < 300;
    figure.classList.toggle("speaking", speaking);
    if (speaking && peerId !== "self" && state.speaker !== key && !m.quietSince) {
      state.speaker = key;
      if (state.layout === "speaker") layout();
    }
  }
}
