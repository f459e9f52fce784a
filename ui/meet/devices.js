// Camera, microphone and speaker: the lists, the choice (remembered), noise suppression, the
// pre-join preview, and what is said when they fail.

import { t, tHtml } from "/i18n/i18n.js";
import { $, DEVICES_KEY, state } from "./state.js";
import { notice } from "./notice.js";
import { sendState, stopTracks } from "./controls.js";
import { meter } from "./speaking.js";
import { sendingConnections } from "./mesh.js";

export function saveDevices() {
  localStorage.setItem(DEVICES_KEY, JSON.stringify(state.devices));
}

export const canPickSpeaker = () => "setSinkId" in HTMLMediaElement.prototype;

export async function listDevices() {
  const devices = await navigator.mediaDevices.enumerateDevices();
  const fill = (ids, kind, chosen, label) => {
    for (const id of ids) {
      const select = $(id);
      select.replaceChildren();
      const matching = devices.filter((d) => d.kind === kind);
      for (const [i, d] of matching.entries()) {
        const option = document.createElement("option");
        option.value = d.deviceId;
        option.textContent = d.label || t("device.numbered", { kind: label, n: i + 1 });
        option.selected = d.deviceId === chosen;
        select.append(option);
      }
      if (!matching.length) {
        const option = document.createElement("option");
        option.value = "";
        option.textContent = t("device.none");
        select.append(option);
      }
      select.disabled = !matching.length;
    }
  };
  fill(["camera-select", "call-camera-select"], "videoinput", state.devices.camera, t("join.camera"));
  fill(["mic-select", "call-mic-select"], "audioinput", state.devices.mic, t("join.microphone"));
  fill(["speaker-select", "call-speaker-select"], "audiooutput", state.devices.speaker, t("join.speaker"));
  $("speaker-field").hidden = $("call-speaker-field").hidden = !canPickSpeaker();
}

export function constraints(kind) {
  const id = kind === "video" ? state.devices.camera : state.devices.mic;
  const device = id ? { deviceId: { exact: id } } : {};
  // 720p where the camera has it: the top of the layers sent through the server.
  if (kind === "video") return { width: { ideal: 1280 }, height: { ideal: 720 }, ...device };
  // The browser's own noise suppression, on unless turned off in the devices dialog.
  return { ...device, noiseSuppression: state.devices.noiseSuppression !== false };
}

/** Noise suppression on or off (remembered). Browsers do not change it on a running
 * microphone (Chromium keeps its audio processing as the track was opened), so the microphone
 * is opened again with it, as when another one is chosen. */
export async function setNoiseSuppression(on) {
  state.devices.noiseSuppression = on;
  saveDevices();
  const mic = state.local?.getAudioTracks()[0];
  if (mic) await chooseDevice("mic", state.devices.mic || mic.getSettings().deviceId);
}

/** Camera and microphone as chosen; whichever is missing or refused is left out. */
export async function openMedia() {
  try {
    return await navigator.mediaDevices.getUserMedia({ video: constraints("video"), audio: constraints("audio") });
  } catch (first) {
    // A remembered device that is gone: fall back to the defaults once.
    if (first.name === "OverconstrainedError" || first.name === "NotFoundError") {
      for (const kinds of [{ video: true, audio: true }, { audio: true }, { video: true }]) {
        try {
          return await navigator.mediaDevices.getUserMedia(kinds);
        } catch {
          // try the next combination
        }
      }
    }
    mediaProblem(first);
    return null;
  }
}

export function mediaProblem(error) {
  if (error.name === "NotAllowedError" || error.name === "SecurityError") {
    notice(tHtml("notice.media-denied"), "problem", "media");
  } else if (error.name === "NotFoundError" || error.name === "OverconstrainedError") {
    notice(tHtml("notice.media-missing"), "info", "media");
  } else {
    notice(tHtml("notice.media-failed", { reason: error.message || error.name }), "problem", "media");
  }
}

/** The pre-join preview: camera, and the microphone's level. */
export async function startPreview() {
  stopTracks(state.local);
  state.local = window.isSecureContext && navigator.mediaDevices ? await openMedia() : null;
  const note = $("preview-note");
  $("preview").srcObject = state.local;
  note.hidden = Boolean(state.local?.getVideoTracks().length);
  note.textContent = t(state.local ? "join.no-camera" : "join.no-devices");
  meter("preview", state.local);
  if (navigator.mediaDevices) await listDevices().catch(() => {});
}

/** A device chosen before or during the call: the preview, or every connection, switches. */
export async function chooseDevice(kind, id) {
  state.devices[kind] = id;
  saveDevices();
  if (kind === "speaker") {
    for (const video of document.querySelectorAll("video.remote")) video.setSinkId?.(id).catch(() => {});
    return;
  }
  if ($("call").hidden) {
    state.ready = startPreview();
    await state.ready;
    return;
  }
  const mediaKind = kind === "camera" ? "video" : "audio";
  let track;
  try {
    const stream = await navigator.mediaDevices.getUserMedia({
      [mediaKind]: { ...constraints(mediaKind), deviceId: { exact: id } },
    });
    track = stream.getTracks()[0];
  } catch (error) {
    mediaProblem(error);
    return;
  }
  track.enabled = mediaKind === "video" ? !state.cameraOff : !state.muted;
  if (!state.local) state.local = new MediaStream();
  const old = state.local.getTracks().find((t) => t.kind === mediaKind);
  if (old) {
    state.local.removeTrack(old);
    old.stop();
  }
  state.local.addTrack(track);
  for (const conn of sendingConnections()) {
    const sender = conn.senders[mediaKind];
    // Swapping a track needs no renegotiation; a first camera or microphone does.
    if (sender) await sender.replaceTrack(track);
    else conn.senders[mediaKind] = conn.pc.addTrack(track, state.local);
  }
  const self = document.querySelector('[data-key="self:camera"] video');
  self.srcObject = null;
  self.srcObject = state.local;
  if (mediaKind === "audio") meter("self:camera", state.local);
  $("mic").disabled = !state.local.getAudioTracks().length;
  $("cam").disabled = !state.local.getVideoTracks().length;
  sendState();
}
