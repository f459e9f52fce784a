// Free Meetings dashboard: live rooms, people and reachability, pushed by the server over
// server-sent events. The same page runs at /dashboard and in the desktop window, where the
// window passes ?api=http://127.0.0.1:PORT, and the app's control API (its state and settings,
// in the tray process) as ?control=URL&controlToken=SECRET; the Tauri bridge does the rest.
// Every word comes from the message catalogues (ui/i18n/); in the window, the language is the
// app's (a setting, else the session's), so that the window and the tray menu speak the same.

import { language, languagePicker, preferredLanguage, t, tCount, useLanguage } from "/i18n/i18n.js";

const params = new URLSearchParams(location.search);
const API = params.get("api") || (location.protocol.startsWith("http") ? location.origin : "http://127.0.0.1:5000");
const TOKEN = params.get("token");
const tauri = window.__TAURI__?.core;
const CONTROL = params.get("control");
const CONTROL_TOKEN = params.get("controlToken");

/** Calls the tray process's control API; rejects with its message when it refuses. */
async function control(path, body) {
  const response = await fetch(new URL(path, CONTROL), {
    method: body === undefined ? "GET" : "POST",
    headers: { authorization: `Bearer ${CONTROL_TOKEN}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!response.ok) throw new Error(await response.text());
  return response.json();
}

/** Reloads the page against the server on another port, keeping the rest of the address. */
function useApiPort(port) {
  params.set("api", `http://127.0.0.1:${port}`);
  location.search = `?${params}`;
}
const $ = (id) => document.getElementById(id);

function apiUrl(path) {
  const url = new URL(path, API);
  if (TOKEN) url.searchParams.set("token", TOKEN);
  return url.toString();
}

function el(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  if (className) node.className = className;
  return node;
}

/** A figure with its unit, as the reader's language writes it ("1,5 Mbit/s", "3 мин"). */
function measure(value, unit, digits = 0) {
  return new Intl.NumberFormat(language(), {
    style: "unit",
    unit,
    unitDisplay: "short",
    maximumFractionDigits: digits,
  }).format(value);
}

function kbps(bits) {
  return bits >= 1_000_000
    ? measure(bits / 1_000_000, "megabit-per-second", 1)
    : measure(Math.round(bits / 1000), "kilobit-per-second");
}

function duration(secs) {
  if (secs < 60) return measure(secs, "second");
  if (secs < 3600) return measure(Math.floor(secs / 60), "minute");
  return `${measure(Math.floor(secs / 3600), "hour")} ${measure(Math.floor((secs % 3600) / 60), "minute")}`;
}

/** Copies `text`: through the app in the desktop window (the web view's clipboard access varies),
 * else through the browser. */
async function copy(text) {
  if (tauri) return tauri.invoke("copy_text", { text });
  return navigator.clipboard.writeText(text);
}

/** Opens a meeting link in the default browser (from the desktop window) or a new tab. */
function openLink(url) {
  if (tauri) return tauri.invoke("open_meeting", { url });
  window.open(url, "_blank", "noopener");
}

function copyButton(text, label = t("dash.copy"), description = t("dash.copy-label", { text })) {
  const button = el("button", label);
  button.type = "button";
  button.setAttribute("aria-label", description);
  button.addEventListener("click", async () => {
    try {
      await copy(text);
      button.textContent = t("dash.copied");
    } catch {
      button.textContent = t("dash.copy-failed");
    }
    setTimeout(() => (button.textContent = label), 1500);
  });
  return button;
}

async function newMeeting() {
  const result = $("new-meeting-result");
  try {
    const response = await fetch(apiUrl("/api/new-meeting"));
    if (!response.ok) throw new Error(t("dash.server-answered", { status: response.status }));
    // The host link opens it for us; the guest link is the one to share.
    const { room, link, hostLink } = await response.json();
    result.hidden = false;
    result.textContent = t("dash.new-meeting-started", { room, link });
    await openLink(hostLink);
    await copy(link)
      .then(() => (result.textContent += ` ${t("dash.new-meeting-copied")}`))
      .catch(() => {});
  } catch (error) {
    result.hidden = false;
    result.textContent = t("dash.new-meeting-failed", { error: error.message || error });
  }
}

/** "2 meetings, 5 people", worded as the tray words it (server/src/dashboard/view.rs). */
function summary(rooms) {
  if (!rooms.length) return t("summary.none");
  const people = rooms.reduce((sum, room) => sum + room.peers.length, 0);
  return t("summary.both", {
    meetings: tCount("summary.meetings", rooms.length),
    people: tCount("summary.people", people),
  });
}

let lastSnapshot;
function renderRooms(snapshot) {
  lastSnapshot = snapshot;
  const rooms = $("rooms");
  rooms.replaceChildren();
  $("totals").textContent =
    summary(snapshot.rooms) + (snapshot.lobby ? ` ${t("dash.lobby", { n: snapshot.lobby })}` : "");
  $("empty").hidden = snapshot.rooms.length > 0;
  reportShown($("totals").textContent);
  for (const room of snapshot.rooms) {
    const box = el("div", undefined, "room");
    box.dataset.room = room.id;
    const title = el("div", undefined, "row");
    title.append(
      el("h3", `${room.id} · ${room.peers.length}`),
      el(
        "span",
        room.media === "sfu" ? t("dash.media-sfu") : t("dash.media-mesh"),
        `pill ${room.media === "sfu" ? "live" : ""}`,
      ),
    );
    if (room.private) title.append(el("span", t("dash.private"), "pill"));
    if (room.waiting?.length)
      title.append(el("span", t("dash.waiting", { names: room.waiting.join(", ") }), "pill down"));
    title.append(el("span", undefined, "spacer"));
    // A private meeting has no link here: only its invitation link opens it, and the server
    // keeps no key to make one.
    if (room.link) {
      const join = el("button", t("dash.join"));
      join.type = "button";
      join.setAttribute("aria-label", t("dash.join-label", { room: room.id }));
      join.addEventListener("click", () => openLink(room.link));
      title.append(join, copyButton(room.link, t("dash.copy-link"), t("dash.copy-link-label", { room: room.id })));
    }
    box.append(title);
    const table = el("table");
    const head = el("tr");
    const sfu = room.media === "sfu";
    const columns = ["dash.col-name", "dash.col-transport", "dash.col-address", "dash.col-connected"];
    if (sfu) columns.push("dash.col-media", "dash.col-forwarded", "dash.col-loss");
    for (const key of columns) head.append(el("th", t(key)));
    table.append(head);
    for (const peer of room.peers) {
      const row = el("tr");
      row.dataset.peer = peer.id;
      row.append(
        el("td", peer.role === "host" ? t("dash.host", { name: peer.userName }) : peer.userName),
        el("td", peer.transport),
        el("td", peer.address || "?"),
        el("td", duration(peer.connectedSecs)),
      );
      if (sfu) {
        const m = peer.media;
        const percent = (x) =>
          x == null ? "?" : new Intl.NumberFormat(language(), { style: "percent", minimumFractionDigits: 1 }).format(x);
        row.append(
          el("td", m ? `${kbps(m.bitrateIn)} / ${kbps(m.bitrateOut)}` : t("dash.media-connecting")),
          el("td", m ? String(m.forwarded) : ""),
          el("td", m ? `${percent(m.lossIn)} / ${percent(m.lossOut)}` : ""),
        );
      }
      table.append(row);
    }
    box.append(table);
    rooms.append(box);
  }
}

// Tells the desktop app what the window shows, once it has been painted (two frames later):
// the app puts it in the window title.
function reportShown(summary) {
  if (!tauri) return;
  requestAnimationFrame(() => requestAnimationFrame(() => tauri.invoke("window_shows", { summary }).catch(() => {})));
}

let lastStatus;
function renderStatus(status) {
  lastStatus = status;
  const links = $("links");
  links.replaceChildren();
  for (const url of [...(status.httpsUrls || []), ...status.localNames, ...status.urls]) {
    const item = el("li");
    item.append(el("code", url), copyButton(url));
    links.append(item);
  }
  if (!links.children.length) links.append(el("li", t("dash.no-lan"), "muted"));
  $("qr").src = apiUrl(`/api/qr.svg?text=${encodeURIComponent(status.meetingLink)}`);
  $("qr").title = status.meetingLink;
  // People compare this with what their browser shows for the self-signed certificate.
  $("fingerprint").hidden = !status.fingerprint;
  $("fingerprint").textContent = status.fingerprint ? t("dash.fingerprint", { fingerprint: status.fingerprint }) : "";
  const m = status.mdns;
  $("announce").textContent = m.enabled
    ? t("dash.announced", { instance: m.instance, names: m.hostnames.join(", ") })
    : m.error
      ? t("dash.announce-failed", { error: m.error })
      : t("dash.announce-off");
  const others = $("others");
  others.replaceChildren();
  for (const other of status.others) {
    const item = el("li");
    item.append(el("span", other.instance), el("code", other.url));
    others.append(item);
  }
  if (!status.others.length) others.append(el("li", t("dash.others-none"), "muted"));
}

const rates = [];
let lastRate = { perSecond: 0, relayed: 0 };
function showRate() {
  const number = new Intl.NumberFormat(language());
  $("rate").textContent = t("dash.rate", {
    rate: number.format(lastRate.perSecond),
    relayed: number.format(lastRate.relayed),
  });
}
function renderRate(rate) {
  lastRate = rate;
  rates.push(rate.perSecond);
  if (rates.length > 120) rates.shift();
  showRate();
  const max = Math.max(1, ...rates);
  const points = rates.map((v, i) => `${i + (120 - rates.length)},${(24 - (v / max) * 22 - 1).toFixed(2)}`);
  $("spark").querySelector("polyline").setAttribute("points", points.join(" "));
}

function connect() {
  const source = new EventSource(apiUrl("/api/events"));
  const pill = $("connection");
  source.addEventListener("open", () => {
    pill.dataset.i18n = "dash.live";
    pill.textContent = t("dash.live");
    pill.className = "pill live";
  });
  source.addEventListener("error", () => {
    pill.dataset.i18n = "dash.reconnecting";
    pill.textContent = t("dash.reconnecting");
    pill.className = "pill down";
    checkProblem();
  });
  source.addEventListener("snapshot", (e) => renderRooms(JSON.parse(e.data)));
  source.addEventListener("status", (e) => renderStatus(JSON.parse(e.data)));
  source.addEventListener("rate", (e) => renderRate(JSON.parse(e.data)));
}

// Desktop window only: the server's state as the app sees it, and the settings form.
async function checkProblem() {
  if (!CONTROL) return;
  const state = await control("/app-state");
  const box = $("problem");
  box.replaceChildren();
  box.hidden = !state.problem;
  if (!state.problem) return;
  reportShown(state.problem);
  box.append(el("span", state.problem));
  if (state.suggestedPort) {
    const button = el("button", t("dash.use-port", { port: state.suggestedPort }));
    button.addEventListener("click", async () => {
      await control("/use-port", { port: state.suggestedPort });
      useApiPort(state.suggestedPort);
    });
    box.append(button);
  }
}

async function setupSettings() {
  if (!CONTROL) return;
  $("settings").hidden = false;
  const form = $("settings-form");
  const { settings, warning } = await control("/settings");
  form.port.value = settings.port;
  form.instanceName.value = settings.instanceName || "";
  form.mdnsHostname.value = settings.mdnsHostname || "";
  form.allowedOrigins.value = (settings.allowedOrigins || []).join(", ");
  form.startAtLogin.checked = !!settings.startAtLogin;
  if (warning) $("settings-result").textContent = warning;
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const next = {
      port: Number(form.port.value),
      instanceName: form.instanceName.value.trim() || null,
      mdnsHostname: form.mdnsHostname.value.trim() || null,
      allowedOrigins: form.allowedOrigins.value
        .split(",")
        .map((s) => s.trim())
        .filter(Boolean),
      startAtLogin: form.startAtLogin.checked,
      language: languageSetting,
    };
    try {
      const port = await control("/settings", next);
      $("settings-result").textContent = t("dash.saved");
      if (`http://127.0.0.1:${port}` !== API) useApiPort(port);
    } catch (error) {
      $("settings-result").textContent = error.message;
    }
  });
}

/** Desktop window only: comes to the front whenever the tray process asks (Open, a second launch). */
async function answerRaises() {
  if (!CONTROL || !tauri) return;
  for (;;) {
    try {
      if (await control("/raise")) await tauri.invoke("raise_window");
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 1000)); // the app is restarting its API
    }
  }
}

/** Shows everything again in the language now chosen. */
function rerender() {
  if (lastSnapshot) renderRooms(lastSnapshot);
  if (lastStatus) renderStatus(lastStatus);
  showRate();
  checkProblem();
}

/** The window's language setting (`null`: the session's), kept when the settings form is saved. */
let languageSetting = null;

/** The language: in the window the app's (its setting, else the session's; the tray speaks it
 * too: a web view does not reliably report the session's language), else this browser's. */
async function chooseLanguage() {
  let shown = preferredLanguage();
  if (CONTROL) {
    const [state, { settings }] = await Promise.all([control("/app-state"), control("/settings")]).catch(() => [
      {},
      {},
    ]);
    shown = state.language ?? shown;
    languageSetting = settings?.language ?? null;
  }
  await useLanguage(shown);
  languagePicker($("language"), async () => {
    languageSetting = language();
    if (CONTROL) await control("/language", { language: languageSetting }).catch(() => {});
    rerender();
  });
}

$("new-meeting").addEventListener("click", newMeeting);
await chooseLanguage();
showRate();
connect();
checkProblem();
setupSettings();
answerRaises();
