// The test hook: the one way the end-to-end tests look into a running page, as named questions
// (tests/js/fixture/chromium.mjs and the media tests call `fmTest.<question>()` through
// Playwright). The tests depend on these answers, not on the shape of the page's `state`, which
// may change freely as long as they stay true. The page itself never calls them, and they give a
// script in the page nothing it could not reach without them.

import { state } from "./state.js";
import { inviteLink } from "./links.js";

/** Every report of a connection's `getStats()`, as an array. */
const reports = async (pc) => [...(await pc.getStats()).values()];

export const testHook = Object.freeze({
  /** This page's peer id on the server; `null` before it has one. */
  id: () => state.socket?.id ?? null,
  /** The name it joined with. */
  name: () => state.name,
  /** "mesh" (browser to browser) or "sfu" (through the server). */
  mode: () => state.mode,
  /** How many others it knows of in its room. */
  peerCount: () => state.peers.size,
  /** How many browser-to-browser connections it holds. */
  meshConnections: () => [...state.peers.values()].filter((p) => p.pc).length,
  /** Its connection to the media server's stats (`getStats()` reports), or `null` without one. */
  serverStats: async () => (state.sfu ? reports(state.sfu.pc) : null),
  /** The media server's last SDP, or `null`. */
  serverSdp: () => state.sfu?.pc.remoteDescription?.sdp ?? null,
  /** The camera's simulcast layers towards the server, as "rid:on" or "rid:off". */
  sentEncodings: () =>
    state.sfu?.senders.video?.getParameters().encodings.map((e) => `${e.rid}:${e.active ? "on" : "off"}`) ?? [],
  /** The id of each other person's camera video track, by name (who has one). */
  cameraTracks: () => {
    const tracks = {};
    for (const p of state.peers.values()) {
      const track = p.streams.get(p.cameraStream)?.getVideoTracks()[0];
      if (track) tracks[p.name] = track.id;
    }
    return tracks;
  },
  /** Its own camera and microphone, as "kind readyState"; `null` before they open. */
  localTracks: () => state.local?.getTracks().map((t) => `${t.kind} ${t.readyState}`) ?? null,
  /** The label of the camera it sends, or `null`. */
  cameraLabel: () => state.local?.getVideoTracks()[0]?.label ?? null,
  /** Ends the screen share as the browser's own "Stop sharing" bar does (the track ends and
   * fires `ended`; `stop()` alone does not fire it). */
  endScreenShareAsTheBrowserDoes: () => {
    const track = state.screen?.getVideoTracks()[0];
    track?.stop();
    track?.dispatchEvent(new Event("ended"));
    return !!track;
  },
  /** Whether the browser applies noise suppression to its microphone now. */
  noiseSuppression: () => state.local?.getAudioTracks()[0]?.getSettings().noiseSuppression ?? null,
  /** The invitation link it would give for its room. */
  inviteLink: () => inviteLink(state.room),
  /** What its connections are doing, for a failed test's message. */
  diagnosis: async () => ({
    sfuTracks: state.sfu
      ? (await reports(state.sfu.pc))
          .filter((s) => s.type === "inbound-rtp" && s.kind === "video")
          .map(
            (s) =>
              `${s.mid} ${s.trackIdentifier.slice(0, 8)} packets ${s.packetsReceived} frames ${s.framesDecoded} keyframes ${s.keyFramesDecoded} plis ${s.pliCount}`,
          )
      : undefined,
    notice: document.querySelector("#notice").textContent,
    socket: state.socket?.connected,
    mode: state.mode,
    sfu: state.sfu?.pc.connectionState,
    peers: [...state.peers].map(([id, p]) => ({
      id,
      name: p.name,
      streams: [...p.streams.values()].map(
        (st) => `${st.id}: ${st.getTracks().map((t) => `${t.kind}/${t.readyState}/${t.muted ? "muted" : "live"}`)}`,
      ),
      transceivers: p.pc
        ?.getTransceivers()
        .map((t) => `${t.mid} ${t.receiver.track.kind} ${t.direction}/${t.currentDirection}`),
      connection: p.pc?.connectionState,
      ice: p.pc?.iceConnectionState,
      signaling: p.pc?.signalingState,
      pending: p.pending.length,
      video: ((v) => ({
        videoWidth: v.videoWidth,
        readyState: v.readyState,
        currentTime: v.currentTime,
        frames: v.getVideoPlaybackQuality().totalVideoFrames,
        paused: v.paused,
        stream: v.srcObject?.id,
      }))(p.tile.querySelector("video")),
    })),
  }),
});
