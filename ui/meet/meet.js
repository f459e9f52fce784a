// The built-in meeting page: a mesh of RTCPeerConnections over the server's Socket.IO contract
// (join-room, init-users, user-joined, signal, user-left, error, as any front-end written for
// the original server uses it), plus the two events this server adds: `chat` (room messages)
// and `state` (each participant's muted / camera / shared-screen state, which the server also
// hands to late joiners).
//
// Media goes one of two ways, as the server says (`media-mode`): browser to browser (a mesh of
// RTCPeerConnections following the "perfect negotiation" pattern, collisions settled by which id
// sorts first; the joiner offers first, as the original page did), or, in a room that has grown
// past what a mesh carries or on a network that keeps browsers apart, through the server: one
// connection to its media forwarder (the SFU), our camera sent once in simulcast layers,
// everyone else's arriving on it. A room that moves to the server keeps playing: each page opens
// its server connection and drops a person's mesh connection once their video arrives through it.

const $ = (id) => document.getElementById(id);
// The words, from the catalogues (ui/i18n/i18n.js, loaded first thing in `main`).
let i18n;
const t = (key, values) => i18n.t(key, values);
const tHtml = (key, values) => i18n.tHtml(key, values);
const SPEAKING_LEVEL = 0.02; // RMS of the signal, 0-1: above it, a tile shows the speaking ring
const DEVICES_KEY = "fm-devices";
// How long after the server connection comes up a remaining mesh connection is kept, for people
// whose media never comes through the server (nothing to send).
const MESH_GRACE_MS = 20000;

const state = {
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
  leaving: false,
  ready: Promise.resolve(), // the pre-join preview being opened: a join waits for it
  audio: null, // AudioContext for the level meters
  meters: new Map(), // tile key -> {analyser, data}
};

// ---------------------------------------------------------------- small helpers

/** Shows (or with "" clears) the notice; `topic` says what it is about ("media" outlives a
 * join: it explains why the others cannot see or hear you). */
function notice(html, kind = "problem", topic = "") {
  const el = $("notice");
  el.className = kind === "info" ? "notice info" : "notice";
  el.innerHTML = html;
  el.hidden = !html;
  el.dataset.kind = html ? kind : "";
  el.dataset.topic = html ? topic : "";
}

/** Says `text` to screen readers (a polite live region): joins, leaves, hands, chat. */
function announce(text) {
  const region = $("announcer");
  region.textContent = "";
  // A new node each time, so that the same words twice are read twice.
  requestAnimationFrame(() => (region.textContent = text));
}

function escapeHtml(text) {
  return String(text).replace(
    /[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c],
  );
}

function roomFromPath() {
  const m = location.pathname.match(/^\/r\/(.+)$/);
  return m ? decodeURIComponent(m[1]) : "";
}

const KEYS_PREFIX = "fm-keys:";

/** Takes a private meeting's keys out of the link (`#k=GUEST&h=HOST`): remembered for this tab,
 * then removed from the address bar, where a shared screen or a copied address would show them
 * (browsers never send the fragment to a server or in `Referer`). */
function keysFromLink(room) {
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

function rememberKeys(keys) {
  state.keys = keys;
  sessionStorage.setItem(KEYS_PREFIX + keys.room, JSON.stringify(keys));
}

/** The key to join `room` with: the host key when we have it, else the guest key. */
function keyFor(room) {
  if (state.keys?.room !== room) return undefined;
  return state.keys.hostKey || state.keys.key;
}

/** The link to invite people with: a private meeting's carries its guest key, never the host's. */
function inviteLink(room) {
  const link = `${location.origin}/r/${encodeURIComponent(room)}`;
  return state.keys?.room === room ? `${link}#k=${state.keys.key}` : link;
}

function showPrivate() {
  $("private-note").hidden = state.keys?.room !== $("room").value.trim();
}

async function newMeeting() {
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

function httpsLink() {
  if (!state.config.httpsPort) return null;
  return `https://${location.hostname}:${state.config.httpsPort}${location.pathname}`;
}

function saveDevices() {
  localStorage.setItem(DEVICES_KEY, JSON.stringify(state.devices));
}

const canShareScreen = () => Boolean(navigator.mediaDevices?.getDisplayMedia) && window.isSecureContext;
const canPickSpeaker = () => "setSinkId" in HTMLMediaElement.prototype;

// ---------------------------------------------------------------- tiles and layout

/** A tile: `key` is "<peer id or self>:<camera|screen>". */
function tile(key, label, { self = false, screen = false } = {}) {
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
  caption.append(speakingMark, name, handMark, mutedMark);
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

// ---------------------------------------------------------------- a private meeting's host

function isHost() {
  return !!state.meeting && !!state.socket && state.meeting.hosts.includes(state.socket.id);
}

function hostAction(action, extra = {}) {
  state.socket?.emit("host", { action, ...extra });
}

/** Shows how the meeting is run: the host's controls and lobby, who hosts on each tile. */
function showMeeting(view) {
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

function removeTile(key) {
  const figure = document.querySelector(`[data-key="${CSS.escape(key)}"]`);
  if (!figure) return;
  figure.remove();
  state.meters.get(key)?.source.disconnect();
  state.meters.delete(key);
  if (state.pinned === key) state.pinned = null;
  layout();
}

function setLabel(figure, label) {
  figure.querySelector(".name").textContent = label;
  figure.querySelector(".pin").title = t("tile.pin-label", { name: label });
}

/** Which tile is shown large: the pinned one, else the newest screen share, else none. */
function spotlightKey() {
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
function layout() {
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
function fitGrid() {
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

function updateCount() {
  const n = state.peers.size + 1;
  $("count").textContent = n === 1 ? t("call.count-alone") : t("call.count", { n });
}

// ---------------------------------------------------------------- who is speaking

function audioContext() {
  if (!state.audio) state.audio = new AudioContext();
  if (state.audio.state === "suspended") state.audio.resume().catch(() => {});
  return state.audio;
}

/** Starts measuring the audio of `stream` for the tile `key` (or the pre-join meter). */
function meter(key, stream) {
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

function level({ analyser, data }) {
  analyser.getFloatTimeDomainData(data);
  let sum = 0;
  for (const v of data) sum += v * v;
  return Math.sqrt(sum / data.length);
}

/** Every 40 ms: the speaking rings, and the pre-join level meter. */
function watchLevels() {
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

// ---------------------------------------------------------------- devices

async function listDevices() {
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

function constraints(kind) {
  const id = kind === "video" ? state.devices.camera : state.devices.mic;
  const device = id ? { deviceId: { exact: id } } : {};
  // 720p where the camera has it: the top of the layers sent through the server.
  return kind === "video" ? { width: { ideal: 1280 }, height: { ideal: 720 }, ...device } : id ? device : true;
}

/** Camera and microphone as chosen; whichever is missing or refused is left out. */
async function openMedia() {
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

function mediaProblem(error) {
  if (error.name === "NotAllowedError" || error.name === "SecurityError") {
    notice(tHtml("notice.media-denied"), "problem", "media");
  } else if (error.name === "NotFoundError" || error.name === "OverconstrainedError") {
    notice(tHtml("notice.media-missing"), "info", "media");
  } else {
    notice(tHtml("notice.media-failed", { reason: error.message || error.name }), "problem", "media");
  }
}

/** The pre-join preview: camera, and the microphone's level. */
async function startPreview() {
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
async function chooseDevice(kind, id) {
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
      [mediaKind]: { ...(mediaKind === "video" ? constraints("video") : {}), deviceId: { exact: id } },
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

// ---------------------------------------------------------------- peers (perfect negotiation)

function send(to, signal) {
  state.socket.emit("signal", { to, signal });
}

/** A remote participant: its tile exists from the moment we know them; its connection from the
 * first offer (ours or theirs). */
function ensurePeer(id, name) {
  let p = state.peers.get(id);
  if (p) {
    if (name && name !== p.name) {
      p.name = name;
      for (const figure of document.querySelectorAll(`[data-peer="${CSS.escape(id)}"]`))
        setLabel(figure, figure.classList.contains("screen") ? t("tile.screen", { name }) : name);
    }
    return p;
  }
  p = {
    id,
    name: name || "…",
    pc: null,
    polite: state.socket.id < id, // the one whose id sorts first gives way on a collision
    makingOffer: false,
    ignoreOffer: false,
    pending: [],
    state: null, // their last `state` event
    streams: new Map(), // stream id -> MediaStream
    cameraStream: null, // id of their first stream that is not the screen
    senders: {}, // kind -> RTCRtpSender we added
    screenSenders: [],
    tile: null,
  };
  p.tile = tile(`${id}:camera`, p.name);
  state.peers.set(id, p);
  updateCount();
  return p;
}

function connection(p) {
  if (p.pc) return p.pc;
  const pc = new RTCPeerConnection({ iceServers: state.config.iceServers });
  p.pc = pc;
  pc.onicecandidate = (e) => e.candidate && send(p.id, { candidate: e.candidate.toJSON() });
  pc.onconnectionstatechange = () => {
    if (pc.connectionState === "failed" && state.mode === "mesh") {
      notice(tHtml("notice.mesh-failed", { name: p.name }), "problem", "mesh");
    }
  };
  pc.onnegotiationneeded = async () => {
    try {
      p.makingOffer = true;
      await pc.setLocalDescription();
      send(p.id, pc.localDescription.toJSON());
    } catch (error) {
      console.warn("negotiation failed", error);
    } finally {
      p.makingOffer = false;
    }
  };
  pc.ontrack = (e) => {
    const stream = e.streams[0];
    if (!stream) return;
    if (!p.streams.has(stream.id)) {
      p.streams.set(stream.id, stream);
      stream.addEventListener("removetrack", () => {
        if (!stream.getTracks().length) {
          p.streams.delete(stream.id);
          showStreams(p);
        }
      });
    }
    showStreams(p);
  };
  return pc;
}

/** Our media on a connection: camera and microphone (or receive-only slots), and the screen. */
function addOurTracks(p) {
  const pc = connection(p);
  if (state.local?.getTracks().length) {
    for (const track of state.local.getTracks()) p.senders[track.kind] = pc.addTrack(track, state.local);
  }
  // Still receive what we do not send (no camera, no microphone).
  for (const kind of ["audio", "video"]) {
    if (!p.senders[kind] && !pc.getTransceivers().some((t) => t.receiver.track.kind === kind))
      pc.addTransceiver(kind, { direction: "recvonly" });
  }
  if (state.screen) addScreen(p);
}

/** Our screen on a connection (a mesh peer's, or the server's). */
function addScreen(conn) {
  // To the server, always a new send-only transceiver: addTrack would reuse a transceiver that
  // receives someone's video, turning that m-line two-way, which the server does not take as a
  // new track (a share through the server reached nobody so).
  const add =
    conn === state.sfu
      ? (track) => conn.pc.addTransceiver(track, { direction: "sendonly", streams: [state.screen] }).sender
      : (track) => conn.pc.addTrack(track, state.screen);
  conn.screenSenders = state.screen.getTracks().map(add);
}

/** The connections we send our media on: each mesh peer's, or the one to the server. */
function sendingConnections() {
  const mesh = [...state.peers.values()].filter((p) => p.pc);
  return state.sfu ? [state.sfu, ...mesh] : mesh;
}

/** Puts a peer's streams in their tiles: the screen (as `state` names it) and the camera. */
function showStreams(p) {
  const screenId = p.state?.screen ?? null;
  if (!p.cameraStream || !p.streams.has(p.cameraStream) || p.cameraStream === screenId) {
    p.cameraStream = [...p.streams.keys()].find((id) => id !== screenId) ?? null;
  }
  const camera = p.cameraStream ? p.streams.get(p.cameraStream) : null;
  const video = p.tile.querySelector("video");
  if (video.srcObject !== camera) {
    video.srcObject = camera;
    meter(`${p.id}:camera`, camera);
  }
  const screen = screenId ? p.streams.get(screenId) : null;
  const key = `${p.id}:screen`;
  if (screen) {
    const figure = tile(key, t("tile.screen", { name: p.name }), { screen: true });
    const screenVideo = figure.querySelector("video");
    if (screenVideo.srcObject !== screen) screenVideo.srcObject = screen;
  } else {
    removeTile(key);
  }
}

function dropPeer(id) {
  const p = state.peers.get(id);
  if (!p) return;
  p.pc?.close();
  removeTile(`${id}:camera`);
  removeTile(`${id}:screen`);
  state.peers.delete(id);
  updateCount();
  if (!state.leaving) announce(t("announce.left", { name: p.name }));
  renderPeople();
}

async function onSignal({ from, signal, userName }) {
  if (!signal || typeof signal !== "object") return;
  const p = ensurePeer(from, userName);
  if (signal.sfuSeen) {
    p.seesUs = true; // they get our video through the server
    closeMeshWhenBothSee(p);
    return;
  }
  // Through the server, no new mesh connection starts (one still switching over is answered).
  if (state.mode === "sfu" && !p.pc) return;
  if (signal.type === "offer" || signal.type === "answer") {
    const fresh = !p.pc;
    const pc = connection(p);
    const collision = signal.type === "offer" && (p.makingOffer || pc.signalingState !== "stable");
    p.ignoreOffer = !p.polite && collision;
    if (p.ignoreOffer) return;
    await pc.setRemoteDescription(signal);
    // Answering a first offer: our tracks join the slots it offered (no second round).
    if (fresh) addOurTracks(p);
    if (signal.type === "offer") {
      await pc.setLocalDescription();
      send(from, pc.localDescription.toJSON());
    }
    for (const c of p.pending.splice(0)) await pc.addIceCandidate(c).catch(() => {});
  } else if (signal.candidate) {
    if (p.pc?.remoteDescription) {
      try {
        await p.pc.addIceCandidate(signal.candidate);
      } catch (error) {
        if (!p.ignoreOffer) throw error;
      }
    } else p.pending.push(signal.candidate);
  }
}

// ---------------------------------------------------------------- media through the server (SFU)

/** Our camera in layers, the top one at full size: the server forwards each person the one their
 * tile needs. Chromium sends no more layers than it thinks the picture worth (one at 320x240, two
 * at 640x480) and drops the largest first, so we ask for only as many as the camera's size gets. */
function simulcastFor(track) {
  const width = track.getSettings().width ?? 640;
  if (width >= 960) {
    return [
      { rid: "l", scaleResolutionDownBy: 4, maxBitrate: 150_000 },
      { rid: "m", scaleResolutionDownBy: 2, maxBitrate: 500_000 },
      { rid: "h", maxBitrate: 1_500_000 },
    ];
  }
  if (width >= 480) {
    return [
      { rid: "l", scaleResolutionDownBy: 2, maxBitrate: 200_000 },
      { rid: "h", maxBitrate: 800_000 },
    ];
  }
  return [{ maxBitrate: 500_000 }];
}

function onMediaMode({ mode }) {
  if (mode !== "sfu" || state.mode === "sfu") return;
  state.mode = "sfu";
  startSfu();
}

/** Opens our one connection to the server's media forwarder. We are the polite side: an offer
 * of the server's that crosses ours wins, and ours goes again after. */
function startSfu() {
  const pc = new RTCPeerConnection({ iceServers: state.config.iceServers });
  const sfu = { pc, makingOffer: false, senders: {}, screenSenders: [], since: performance.now() };
  state.sfu = sfu;
  for (const track of state.local?.getTracks() || []) {
    const init = { direction: "sendonly", streams: [state.local] };
    if (track.kind === "video") init.sendEncodings = simulcastFor(track);
    sfu.senders[track.kind] = pc.addTransceiver(track, init).sender;
  }
  if (state.screen) addScreen(sfu);
  // Nothing to send (no camera, no microphone): a receiving slot still opens the connection.
  if (!pc.getTransceivers().length) pc.addTransceiver("audio", { direction: "recvonly" });
  pc.onnegotiationneeded = async () => {
    try {
      sfu.makingOffer = true;
      await pc.setLocalDescription();
      state.socket?.emit("sfu-offer", { sdp: pc.localDescription.sdp });
    } catch (error) {
      console.warn("sfu negotiation failed", error);
    } finally {
      sfu.makingOffer = false;
    }
  };
  pc.ontrack = (e) => onSfuTrack(e.streams[0]);
  pc.onconnectionstatechange = () => {
    if (pc.connectionState === "connected") {
      sfu.connectedAt = performance.now();
      // What went wrong with the last connection is said until this one is up.
      if ($("notice").dataset.topic === "sfu") notice("");
      // People whose media never comes through the server (nothing to send): their mesh goes
      // too, once everyone else has had ample time to switch over.
      setTimeout(() => {
        if (state.sfu === sfu) for (const p of state.peers.values()) closeMesh(p);
      }, MESH_GRACE_MS);
    } else if (pc.connectionState === "failed") {
      restartSfu(sfu, `${t("notice.sfu-failed")} ${blockedPorts(pc)}`);
    }
  };
}

/** A stream through the server: its id is the sender's peer id (16 characters), then the id the
 * sender gave it, which its `state` uses to name a screen. It replaces what the mesh showed once
 * media flows on it (its first track unmutes), so the switch shows no empty frame. */
function onSfuTrack(stream) {
  if (!stream || stream.id.length <= 16) return;
  const p = ensurePeer(stream.id.slice(0, 16));
  const original = stream.id.slice(16);
  if (p.streams.get(original) === stream) return;
  const use = () => {
    if (p.streams.get(original) === stream || state.peers.get(p.id) !== p) return;
    p.streams.set(original, stream);
    stream.addEventListener("removetrack", () => {
      if (!stream.getTracks().length && p.streams.get(original) === stream) {
        p.streams.delete(original);
        showStreams(p);
      }
    });
    p.sfuSeen = true;
    send(p.id, { sfuSeen: true });
    closeMeshWhenBothSee(p);
    showStreams(p);
    queueWants();
  };
  const tracks = stream.getTracks();
  if (!p.pc || tracks.some((t) => !t.muted)) use();
  else for (const track of tracks) track.addEventListener("unmute", use, { once: true });
  queueWants();
}

/** Drops a person's browser-to-browser connection once each of us sees the other through the
 * server: closing it as soon as we see them would cut our video at their end, which may not
 * have it through the server yet. */
function closeMeshWhenBothSee(p) {
  if (p.sfuSeen && p.seesUs) closeMesh(p);
}

/** Drops a person's browser-to-browser connection (their media now comes through the server). */
function closeMesh(p) {
  if (!p.pc) return;
  p.pc.close();
  p.pc = null;
  p.senders = {};
  p.screenSenders = [];
}

async function onSfuOffer({ sdp }) {
  const pc = state.sfu?.pc;
  if (!pc) return;
  await pc.setRemoteDescription({ type: "offer", sdp }); // rolls back a crossing offer of ours
  await pc.setLocalDescription();
  state.socket.emit("sfu-answer", { sdp: pc.localDescription.sdp });
}

async function onSfuAnswer({ sdp }) {
  const pc = state.sfu?.pc;
  if (pc?.signalingState === "have-local-offer") await pc.setRemoteDescription({ type: "answer", sdp });
}

/** What a network must let through for media to reach the server, from the server's own
 * candidates: said when the connection fails, so that whoever runs the network knows. */
function blockedPorts(pc) {
  const found = { udp: new Set(), tcp: new Set() };
  for (const line of (pc.remoteDescription?.sdp ?? "").split(/\r?\n/)) {
    const m = line.match(/^a=candidate:\S+ \d+ (udp|tcp) \d+ (\S+) (\d+) typ host/i);
    if (m && !/^127\.|^::1$/.test(m[2])) found[m[1].toLowerCase()].add(`${m[2]}:${m[3]}`);
  }
  const ports = [];
  if (found.udp.size) ports.push(t("notice.sfu-udp", { addresses: [...found.udp].join(", ") }));
  if (found.tcp.size) ports.push(t("notice.sfu-tcp", { addresses: [...found.tcp].join(", ") }));
  return ports.length ? t("notice.sfu-blocked", { ports: ports.join(t("notice.sfu-or")) }) : "";
}

/** Closes our connection to the forwarder and opens a new one: at once the first time (the
 * server said its media moved to another server, or the network changed), 2 s later when the
 * last restart was under 10 s ago, so that a connection that keeps failing is not retried in a
 * loop. */
function restartSfu(sfu, why) {
  if (state.sfu !== sfu) return;
  sfu.pc.close();
  state.sfu = null;
  notice(tHtml("notice.reconnecting", { why }), "problem", "sfu");
  const now = performance.now();
  const delay = now - (state.sfuRestartedAt ?? -Infinity) < 10000 ? 2000 : 100;
  state.sfuRestartedAt = now;
  setTimeout(() => {
    if (state.mode === "sfu" && state.socket?.connected && !state.sfu) startSfu();
  }, delay);
}

/** The quality each remote tile needs, by the size it is shown at; sent when it changes. */
/** Whether anyone can see a tile: the page is shown and the tile is on screen. */
function seen(figure) {
  if (document.hidden || !figure) return false;
  const r = figure.getBoundingClientRect();
  return r.width > 0 && r.height > 0 && r.bottom > 0 && r.right > 0 && r.top < innerHeight && r.left < innerWidth;
}

function sendWants() {
  if (state.mode !== "sfu" || !state.socket?.connected) return;
  const streams = {};
  for (const p of state.peers.values()) {
    for (const [original, stream] of p.streams) {
      const key = original === p.state?.screen ? `${p.id}:screen` : `${p.id}:camera`;
      const figure = document.querySelector(`[data-key="${CSS.escape(key)}"]`);
      const width = figure?.getBoundingClientRect().width ?? 0;
      // What nobody sees is not sent at all (a hidden tab, a tile scrolled away); its sound is.
      streams[stream.id] = !seen(figure) ? "off" : width >= 560 ? "high" : width >= 260 ? "medium" : "low";
    }
  }
  const wants = JSON.stringify(streams);
  if (wants === state.wants) return;
  state.wants = wants;
  state.socket.emit("sfu-want", { streams });
}

let wantsQueued = false;
function queueWants() {
  if (wantsQueued) return;
  wantsQueued = true;
  requestAnimationFrame(() => {
    wantsQueued = false;
    sendWants();
  });
}

/** The server says which layers of our camera anyone takes: the others are not encoded until
 * someone asks for them again (a tab in the background, small tiles everywhere). */
async function setLayers({ stream, active }) {
  const sender = state.sfu?.senders.video;
  if (!sender || stream !== state.local?.id) return;
  const params = sender.getParameters();
  if (!params.encodings?.length) return;
  let changed = false;
  for (const encoding of params.encodings) {
    const on = !encoding.rid || active.includes(encoding.rid);
    if (encoding.active !== on) {
      encoding.active = on;
      changed = true;
    }
  }
  if (changed) await sender.setParameters(params);
}

/** Back to no server connection (leaving, or starting over after a reconnect). */
function stopSfu() {
  state.sfu?.pc.close();
  state.sfu = null;
  state.mode = "mesh";
  state.wants = "";
}

// ---------------------------------------------------------------- state, screen, toggles

function sendState() {
  if (!state.socket?.connected) return;
  const hasAudio = Boolean(state.local?.getAudioTracks().length);
  const hasVideo = Boolean(state.local?.getVideoTracks().length);
  state.socket.emit("state", {
    muted: state.muted || !hasAudio,
    camera: hasVideo && !state.cameraOff,
    screen: state.screen?.id ?? null,
    hand: state.hand,
  });
  const self = document.querySelector('[data-key="self:camera"]');
  if (self) {
    self.classList.toggle("muted", state.muted || !hasAudio);
    self.querySelector(".muted-mark").hidden = !(state.muted || !hasAudio);
  }
}

function onState({ from, muted, camera, screen, hand = false }) {
  const p = state.peers.get(from);
  if (!p) return;
  if (hand && !p.state?.hand) announce(t("announce.hand", { name: p.name }));
  p.state = { muted, camera, screen, hand };
  p.tile.querySelector(".hand-mark").hidden = !hand;
  renderPeople();
  p.tile.classList.toggle("muted", muted);
  p.tile.classList.toggle("camera-off", !camera);
  p.tile.querySelector(".muted-mark").hidden = !muted;
  showStreams(p);
}

/** Shows a toggle's state: pressed or not, with the text and description (catalogue keys) of
 * what a click does next. */
function pressed(button, on, [offKey, offTitleKey], [onKey, onTitleKey]) {
  const [offText, offLabel, onText, onLabel] = [offKey, offTitleKey, onKey, onTitleKey].map((k) => t(k));
  const label = button.querySelector(".label");
  button.setAttribute("aria-pressed", String(on));
  if (label) {
    // An icon button: its label is its accessible name and its tooltip, word for word
    // (WCAG 2.5.3); the shortcut is listed under "?".
    label.textContent = on ? onText : offText;
    button.title = label.textContent;
  } else {
    button.textContent = on ? onText : offText;
    button.title = on ? onLabel : offLabel;
  }
}

/** Raises or lowers our hand: on our tile, and told to the room with our state. */
function setHand(up) {
  state.hand = up;
  pressed($("hand"), up, ["call.hand-raise", "call.hand-raise"], ["call.hand-lower", "call.hand-lower"]);
  const self = document.querySelector('[data-key="self:camera"]');
  if (self) self.querySelector(".hand-mark").hidden = !up;
  sendState();
  renderPeople();
}

/** The people panel: everyone in the room, with their microphone, camera and hand, and a
 * host's actions for each. */
function renderPeople() {
  if (!state.peopleOpen) return;
  const host = isHost();
  const row = (id, name, st) => {
    const li = document.createElement("li");
    const who = document.createElement("span");
    who.className = "who";
    who.textContent = name;
    const marks = [];
    if (st.hand) marks.push(t("people.hand"));
    marks.push(t(st.muted ? "people.muted" : "people.mic-on"));
    marks.push(t(st.camera === false ? "people.camera-off" : "people.camera-on"));
    const info = document.createElement("span");
    info.className = "muted";
    info.textContent = marks.join(" · ");
    li.append(who, info);
    if (host && id) {
      for (const [action, key, shown] of [
        ["lower-hand", "host.lower-hand", st.hand],
        ["mute", "host.ask-mute", !st.muted],
        ["remove", "host.remove", true],
      ]) {
        if (!shown) continue;
        const button = document.createElement("button");
        button.type = "button";
        button.textContent = t(key);
        button.setAttribute("aria-label", t("host.action-label", { action: t(key), name }));
        button.addEventListener("click", () => hostAction(action, { peer: id }));
        li.append(button);
      }
    }
    return li;
  };
  const own = {
    muted: state.muted,
    camera: !state.cameraOff && Boolean(state.local?.getVideoTracks().length),
    hand: state.hand,
  };
  $("people-list").replaceChildren(
    row(null, t("tile.you", { name: state.name }), own),
    ...[...state.peers.values()].map((p) => row(p.id, p.name, p.state ?? {})),
  );
}

function togglePeople(open = !state.peopleOpen) {
  state.peopleOpen = open;
  $("people").hidden = !open;
  $("people-toggle").setAttribute("aria-pressed", String(open));
  renderPeople();
  fitGrid();
}

/** The "more" menu: opened by its button, closed by Escape, a choice, or a click elsewhere. */
function toggleMore(open = $("more-menu").hidden) {
  $("more-menu").hidden = !open;
  $("more").setAttribute("aria-expanded", String(open));
  if (open) $("more-menu").querySelector("button:not([hidden])")?.focus();
}

function setLayout(layoutName) {
  state.layout = layoutName;
  localStorage.setItem("fm-layout", layoutName);
  $("layout").textContent = t(layoutName === "speaker" ? "call.grid-view" : "call.speaker-view");
  layout();
}

function setMuted(muted) {
  state.muted = muted;
  for (const track of state.local?.getAudioTracks() || []) track.enabled = !muted;
  pressed($("mic"), muted, ["call.mute-short", "call.mute"], ["call.unmute-short", "call.unmute"]);
  sendState();
  renderPeople();
}

function setCameraOff(off) {
  state.cameraOff = off;
  for (const track of state.local?.getVideoTracks() || []) track.enabled = !off;
  pressed($("cam"), off, ["call.camera-off-short", "call.camera-off"], ["call.camera-on-short", "call.camera-on"]);
  sendState();
  renderPeople();
}

async function startSharing() {
  let screen;
  try {
    screen = await navigator.mediaDevices.getDisplayMedia({ video: true, audio: false });
  } catch (error) {
    if (error.name !== "NotAllowedError") notice(tHtml("notice.share-failed", { reason: error.message }));
    return;
  }
  // Every share goes out as one and the same stream: the server then gives the next share the
  // m-line of the last one, instead of a new one each time at every receiver.
  state.shareStream ??= new MediaStream();
  const shared = state.shareStream;
  for (const track of shared.getTracks()) shared.removeTrack(track);
  for (const track of screen.getTracks()) shared.addTrack(track);
  screen = shared;
  state.screen = screen;
  // The browser's own "Stop sharing" ends the track.
  screen.getVideoTracks()[0].addEventListener("ended", () => stopSharing());
  const figure = tile("self:screen", t("tile.your-screen"), { self: true, screen: true });
  figure.querySelector("video").srcObject = screen;
  sendState(); // before the tracks, so the others know which stream is the screen
  for (const conn of sendingConnections()) addScreen(conn);
  shareButton(true);
  layout();
}

function stopSharing() {
  if (!state.screen) return;
  stopTracks(state.screen);
  for (const conn of sendingConnections()) {
    for (const sender of conn.screenSenders) conn.pc.removeTrack(sender);
    conn.screenSenders = [];
  }
  state.screen = null;
  removeTile("self:screen");
  sendState();
  shareButton(false);
}

function shareButton(sharing) {
  pressed($("share"), sharing, ["call.share-short", "call.share"], ["call.stop-share-short", "call.stop-share"]);
  if (!canShareScreen()) $("share").title = t("call.share-unavailable");
}

function stopTracks(stream) {
  for (const track of stream?.getTracks() || []) track.stop();
}

// ---------------------------------------------------------------- chat

/** A message's text as text nodes and links: never parsed as HTML. */
function messageBody(text) {
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

function onChat({ from, userName, text, at }) {
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

function toggleChat(open = !state.chatOpen) {
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

function sendChat(event) {
  event.preventDefault();
  const input = $("chat-input");
  const text = input.value.trim();
  if (!text || !state.socket?.connected) return;
  state.socket.emit("chat", { text });
  input.value = "";
}

// ---------------------------------------------------------------- joining and leaving

function connectSocket() {
  const socket = io({ path: "/socket.io", transports: ["websocket"] });
  socket.on("connect", () => {
    if ($("notice").dataset.topic === "server") notice("");
    // A reconnect gives new ids: start again from the room's current list.
    for (const id of [...state.peers.keys()]) dropPeer(id);
    stopSfu();
    sendState(); // first, so the room learns it with our join
    const key = keyFor(state.room);
    socket.emit("join-room", { roomId: state.room, userName: state.name, sfu: true, ...(key ? { key } : {}) });
  });
  socket.on("media-mode", onMediaMode);
  socket.on("sfu-offer", (msg) => onSfuOffer(msg).catch((e) => console.warn("sfu offer failed", e)));
  socket.on("sfu-answer", (msg) => onSfuAnswer(msg).catch((e) => console.warn("sfu answer failed", e)));
  socket.on("sfu-failed", ({ reason }) => state.sfu && restartSfu(state.sfu, reason));
  socket.on("sfu-layers", (msg) => setLayers(msg).catch((e) => console.warn("layers not set", e)));
  socket.on("init-users", (users) => {
    if ($("notice").dataset.topic === "lobby") notice("");
    for (const { id, userName } of users) {
      const p = ensurePeer(id, userName);
      if (state.mode === "mesh") addOurTracks(p);
    }
    updateCount();
  });
  socket.on("user-joined", ({ id, userName }) => {
    ensurePeer(id, userName);
    announce(t("announce.joined", { name: userName }));
    renderPeople();
  });
  socket.on("signal", (msg) => onSignal(msg).catch((e) => console.warn("signal failed", e)));
  socket.on("user-left", (id) => dropPeer(id));
  socket.on("chat", onChat);
  socket.on("state", onState);
  socket.on("meeting", showMeeting);
  socket.on("waiting", () => notice(tHtml("notice.waiting"), "info", "lobby"));
  socket.on("removed", ({ reason, message }) => {
    leave(false);
    const said = ["declined", "removed", "ended"].includes(reason) ? t(`removed.${reason}`) : message;
    notice(tHtml("notice.removed", { room: state.room, reason: said }));
  });
  socket.on("lower-hand", () => {
    setHand(false);
    notice(tHtml("notice.hand-lowered"), "info");
  });
  socket.on("mute-request", () => {
    setMuted(true);
    notice(tHtml("notice.mute-request"), "info");
  });
  socket.on("meeting-link", ({ key }) => {
    rememberKeys({ ...state.keys, key });
    notice(tHtml("notice.new-link"), "info");
  });
  // The server's English text, then `{code}`: what is shown is the code's text in the page's
  // language (the English text for a code this page does not know).
  socket.on("error", (message, detail) => {
    const code = detail?.code;
    const said = code && t(`error.${code}`) !== `error.${code}` ? t(`error.${code}`) : message;
    if (code === "room-full") {
      notice(tHtml("notice.room-full", { room: state.room }));
      leave(false);
    } else if (["needs-link", "wrong-key", "locked"].includes(code)) {
      // Refused at the door: back to the form, with the server's reason.
      notice(tHtml("notice.refused", { room: state.room, reason: said.replace(/\.$/, "") }));
      leave(false);
    } else {
      notice(escapeHtml(said));
    }
  });
  socket.on("disconnect", (reason) => {
    if (state.leaving) return;
    notice(tHtml("notice.server-lost"), "problem", "server");
    for (const id of [...state.peers.keys()]) dropPeer(id);
    stopSfu();
    if (reason === "io server disconnect") socket.connect();
  });
  socket.io.on("reconnect_attempt", (n) => {
    notice(tHtml("notice.server-silent", { n }), "problem", "server");
  });
  return socket;
}

async function join(event) {
  event.preventDefault();
  const name = $("name").value.trim();
  const room = $("room").value.trim();
  if (!name || !room) return;
  if (!window.isSecureContext) {
    const link = httpsLink();
    notice(
      link ? tHtml("notice.https-link", { link, fingerprint: state.config.fingerprint }) : tHtml("notice.https-off"),
    );
    return;
  }
  await state.ready;
  localStorage.setItem("fm-name", name);
  state.name = name;
  state.room = room;
  state.leaving = false;
  if ($("notice").dataset.topic !== "media") notice("");
  if (location.pathname !== `/r/${encodeURIComponent(room)}`)
    history.replaceState(null, "", `/r/${encodeURIComponent(room)}`);
  $("join").hidden = true;
  $("call").hidden = false;
  $("room-title").textContent = room;
  $("room-private").hidden = !keyFor(room);
  meter("preview", null);
  $("preview").srcObject = null;
  const self = tile("self:camera", t("tile.you", { name }), { self: true });
  self.querySelector("video").srcObject = state.local;
  meter("self:camera", state.local);
  $("mic").disabled = !state.local?.getAudioTracks().length;
  $("cam").disabled = !state.local?.getVideoTracks().length;
  setMuted(state.muted);
  setCameraOff(state.cameraOff);
  setHand(false);
  updateCount();
  state.socket = connectSocket();
}

function leave(emit = true) {
  state.leaving = true;
  if (state.socket) {
    if (emit && state.socket.connected) state.socket.emit("leave-room");
    state.socket.disconnect();
    state.socket = null;
  }
  stopSharing();
  for (const id of [...state.peers.keys()]) dropPeer(id);
  stopSfu();
  for (const key of [...state.meters.keys()]) meter(key, null);
  $("grid").replaceChildren();
  $("spotlight").replaceChildren();
  $("messages").replaceChildren();
  toggleChat(false);
  togglePeople(false);
  toggleMore(false);
  state.hand = false;
  state.speaker = null;
  state.pinned = null;
  state.meeting = null;
  $("host-controls").hidden = true;
  $("lobby-panel").hidden = true;
  $("call").hidden = true;
  $("join").hidden = false;
  state.ready = startPreview();
}

// ---------------------------------------------------------------- page set-up

function onKey(event) {
  if (event.key === "Escape" && !$("more-menu").hidden) {
    toggleMore(false);
    $("more").focus();
    return;
  }
  if (event.ctrlKey || event.metaKey || event.altKey || $("call").hidden) return;
  if (event.target.closest("input, textarea, select, [contenteditable]")) return;
  if (event.key === "?") {
    event.preventDefault();
    $("shortcuts").showModal();
    return;
  }
  if (!state.shortcuts) return;
  const actions = {
    m: () => !$("mic").disabled && setMuted(!state.muted),
    v: () => !$("cam").disabled && setCameraOff(!state.cameraOff),
    s: () => $("share").click(),
    h: () => setHand(!state.hand),
    c: () => toggleChat(),
    p: () => togglePeople(),
  };
  const action = actions[event.key.toLowerCase()];
  if (action) {
    event.preventDefault();
    action();
  }
}

/** After the language changed: the texts the code set (the HTML's are set by i18n). */
function retranslate() {
  setMuted(state.muted);
  setCameraOff(state.cameraOff);
  shareButton(Boolean(state.screen));
  pressed($("hand"), state.hand, ["call.hand-raise", "call.hand-raise"], ["call.hand-lower", "call.hand-lower"]);
  for (const id of ["chat-toggle", "people-toggle", "more", "leave"])
    $(id).title = $(id).querySelector(".label").textContent;
  $("layout").textContent = t(state.layout === "speaker" ? "call.grid-view" : "call.speaker-view");
  for (const mark of document.querySelectorAll(".hand-mark")) {
    mark.title = t("tile.hand");
    mark.setAttribute("aria-label", t("tile.hand"));
  }
  renderPeople();
  updateCount();
  if (!$("call").hidden) toggleChat(Boolean(state.chatOpen));
  if (state.meeting) showMeeting(state.meeting);
  for (const select of [$("language-select"), $("call-language-select")]) select.value = i18n.language();
  if (navigator.mediaDevices) listDevices().catch(() => {});
}

async function main() {
  i18n = await import("/i18n/i18n.js");
  await i18n.useLanguage(i18n.preferredLanguage());
  for (const select of [$("language-select"), $("call-language-select")]) i18n.languagePicker(select, retranslate);
  retranslate();
  try {
    state.config = await (await fetch("/api/meeting")).json();
  } catch {
    // An old or foreign server: no ICE servers, no HTTPS hint.
  }
  $("where").textContent = location.host;
  $("room").value = roomFromPath();
  keysFromLink($("room").value);
  showPrivate();
  $("room").addEventListener("input", showPrivate);
  $("new-meeting").addEventListener("click", newMeeting);
  $("lobby").addEventListener("click", () => hostAction("lobby", { on: !state.meeting?.lobby }));
  $("lock").addEventListener("click", () => hostAction("lock", { on: !state.meeting?.locked }));
  $("new-link").addEventListener("click", () => hostAction("new-link"));
  $("end").addEventListener("click", () => {
    if (confirm(t("host.end-confirm"))) hostAction("end");
  });
  $("name").value ||= localStorage.getItem("fm-name") || ""; // keep what was typed while loading
  ($("room").value ? $("name") : $("room")).focus();
  $("join").addEventListener("submit", join);
  $("leave").addEventListener("click", () => leave());
  $("mic").addEventListener("click", () => setMuted(!state.muted));
  $("cam").addEventListener("click", () => setCameraOff(!state.cameraOff));
  $("share").addEventListener("click", () => (state.screen ? stopSharing() : startSharing()));
  if (!canShareScreen()) {
    $("share").disabled = true;
    $("share").title = t("call.share-unavailable");
  }
  $("chat-toggle").addEventListener("click", () => toggleChat());
  $("hand").addEventListener("click", () => setHand(!state.hand));
  $("people-toggle").addEventListener("click", () => togglePeople());
  $("more").addEventListener("click", () => toggleMore());
  // A choice in the menu closes it (the host's toggles too: their state is in their text).
  $("more-menu").addEventListener("click", (e) => {
    if (e.target.closest("button")) toggleMore(false);
  });
  document.addEventListener("click", (e) => {
    if (!$("more-menu").hidden && !e.target.closest(".more")) toggleMore(false);
  });
  $("layout").addEventListener("click", () => setLayout(state.layout === "speaker" ? "grid" : "speaker"));
  $("shortcuts-toggle").addEventListener("click", () => $("shortcuts").showModal());
  $("shortcuts-on").checked = state.shortcuts;
  $("shortcuts-on").addEventListener("change", (e) => {
    state.shortcuts = e.target.checked;
    localStorage.setItem("fm-shortcuts", state.shortcuts ? "on" : "off");
  });
  $("chat-form").addEventListener("submit", sendChat);
  $("chat-input").addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey) sendChat(e);
  });
  $("devices-toggle").addEventListener("click", () => $("devices").showModal());
  for (const [select, kind] of [
    ["camera-select", "camera"],
    ["mic-select", "mic"],
    ["speaker-select", "speaker"],
    ["call-camera-select", "camera"],
    ["call-mic-select", "mic"],
    ["call-speaker-select", "speaker"],
  ]) {
    $(select).addEventListener("change", (e) => chooseDevice(kind, e.target.value));
  }
  $("copy").addEventListener("click", async () => {
    const link = inviteLink(state.room);
    try {
      await navigator.clipboard.writeText(link);
      $("copy").textContent = t("call.copied");
    } catch {
      prompt(t("call.copy-prompt"), link);
    }
    setTimeout(() => ($("copy").textContent = t("call.copy")), 1500);
  });
  document.addEventListener("keydown", onKey);
  // Not through queueWants: a hidden tab runs no animation frames.
  document.addEventListener("visibilitychange", () => sendWants());
  addEventListener("scroll", queueWants, { passive: true });
  new ResizeObserver(() => fitGrid()).observe($("stage"));
  setInterval(watchLevels, 40);
  if (window.isSecureContext) {
    state.ready = startPreview();
  } else {
    const link = httpsLink();
    if (link) notice(tHtml("notice.insecure", { link, fingerprint: state.config.fingerprint }));
  }
  // The button is disabled in the HTML until now: a click before the handler above would submit
  // the form natively and reload the page, losing the name typed.
  $("join-button").disabled = false;
  $("new-meeting").disabled = false;
}

main();
