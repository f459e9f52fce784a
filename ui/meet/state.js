// What the page knows: the one `state` object every part reads and changes, and the constants.

export const $ = (id) => document.getElementById(id);
export const SPEAKING_LEVEL = 0.02; // RMS of the signal, 0-1: above it, a tile shows the speaking ring
export const DEVICES_KEY = "fm-devices";
// How long after the server connection comes up a remaining mesh connection is kept, for people
// whose media never comes through the server (nothing to send).
export const MESH_GRACE_MS = 20000;

export const state = {
  config: { iceServers: [], httpsPort: null, fingerprint: null },
  socket: null,
  room: null,
  name: null,
  // A private meeting's keys, from its link's fragment or New private meeting: {room, key,
  // hostKey}. Kept for this tab only (sessionStorage), never in the address bar.
  keys: null,
  // How the private meeting is run, as the server last said ({hosts, lobby, locked, waiting?}).
  meeting: null,
  local: null, // camera and microphone, or null when joined without them
  screen: null, // the shared screen, while sharing
  muted: false,
  cameraOff: false,
  devices: JSON.parse(localStorage.getItem(DEVICES_KEY) || "{}"), // {camera, mic, speaker} ids
  peers: new Map(), // id -> Peer (see ensurePeer)
  mode: "mesh", // where the room's media goes: "mesh" or "sfu"
  sfu: null, // our connection to the server's media forwarder, in SFU mode
  sfuRestartedAt: null, // when that connection was last started over (performance.now())
  wants: "", // the last sfu-want sent, to send only changes
  pinned: null, // the tile key shown large by choice
  chatOpen: false,
  peopleOpen: false,
  hand: false, // our hand is raised
  layout: localStorage.getItem("fm-layout") === "speaker" ? "speaker" : "grid",
  speaker: null, // the tile key of whoever spoke last (speaker view shows it large)
  // Single-key shortcuts can be turned off (WCAG 2.1.4): remembered in this browser.
  shortcuts: localStorage.getItem("fm-shortcuts") !== "off",
  unread: 0,
  linkStats: new Map(), // received video track id -> its last {lost, received} packet counts
  leaving: false,
  ready: Promise.resolve(), // the pre-join preview being opened: a join waits for it
  audio: null, // AudioContext for the level meters
  meters: new Map(), // tile key -> {analyser, data}
};
