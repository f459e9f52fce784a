// Free Meetings dashboard: live rooms, people and reachability, pushed by the server over
// server-sent events. The same page runs at /dashboard and in the desktop window, where the
// window passes ?api=http://127.0.0.1:PORT, and the app's control API (its state and settings,
// in the tray process) as ?control=URL&controlToken=SECRET; the Tauri bridge does the rest.

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

function kbps(bits) {
  return bits >= 1_000_000 ? `${(bits / 1_000_000).toFixed(1)} Mbit/s` : `${Math.round(bits / 1000)} kbit/s`;
}

function duration(secs) {
  if (secs < 60) return `${secs} s`;
  if (secs < 3600) return `${Math.floor(secs / 60)} min`;
  return `${Math.floor(secs / 3600)} h ${Math.floor((secs % 3600) / 60)} min`;
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

function copyButton(text, label = "Copy", description = `Copy ${text}`) {
  const button = el("button", label);
  button.type = "button";
  button.setAttribute("aria-label", description);
  button.addEventListener("click", async () => {
    try {
      await copy(text);
      button.textContent = "Copied";
    } catch {
      button.textContent = "Copy failed";
    }
    setTimeout(() => (button.textContent = label), 1500);
  });
  return button;
}

async function newMeeting() {
  const result = $("new-meeting-result");
  try {
    const response = await fetch(apiUrl("/api/new-meeting"));
    if (!response.ok) throw new Error(`the server answered ${response.status}`);
    // The host link opens it for us; the guest link is the one to share.
    const { room, link, hostLink } = await response.json();
    result.hidden = false;
    result.textContent = `Private meeting “${room}” started; its invitation link: ${link}`;
    await openLink(hostLink);
    await copy(link)
      .then(() => (result.textContent += " (link copied)"))
      .catch(() => {});
  } catch (error) {
    result.hidden = false;
    result.textContent = `Could not start a meeting: ${error.message || error}`;
  }
}

function renderRooms(snapshot) {
  const rooms = $("rooms");
  rooms.replaceChildren();
  // The server words the summary, so the window and the tray menu say the same.
  $("totals").textContent = snapshot.summary + (snapshot.lobby ? ` (+${snapshot.lobby} connected, not in a room)` : "");
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
        room.media === "sfu" ? "media through this server" : "browser to browser",
        `pill ${room.media === "sfu" ? "live" : ""}`,
      ),
    );
    if (room.private) title.append(el("span", "private: invitation link only", "pill"));
    if (room.waiting?.length) title.append(el("span", `waiting for the host: ${room.waiting.join(", ")}`, "pill down"));
    title.append(el("span", undefined, "spacer"));
    // A private meeting has no link here: only its invitation link opens it, and the server
    // keeps no key to make one.
    if (room.link) {
      const join = el("button", "Join");
      join.type = "button";
      join.setAttribute("aria-label", `Join ${room.id} in your browser`);
      join.addEventListener("click", () => openLink(room.link));
      title.append(join, copyButton(room.link, "Copy link", `Copy the link to ${room.id}`));
    }
    box.append(title);
    const table = el("table");
    const head = el("tr");
    const sfu = room.media === "sfu";
    const columns = ["Name", "Transport", "Address", "Connected for"];
    if (sfu) columns.push("Media in / out", "Forwarded", "Loss in / out");
    for (const h of columns) head.append(el("th", h));
    table.append(head);
    for (const peer of room.peers) {
      const row = el("tr");
      row.dataset.peer = peer.id;
      row.append(
        el("td", peer.role === "host" ? `${peer.userName} (host)` : peer.userName),
        el("td", peer.transport),
        el("td", peer.address || "?"),
        el("td", duration(peer.connectedSecs)),
      );
      if (sfu) {
        const m = peer.media;
        const percent = (x) => (x == null ? "?" : `${(x * 100).toFixed(1)}%`);
        row.append(
          el("td", m ? `${kbps(m.bitrateIn)} / ${kbps(m.bitrateOut)}` : "connecting…"),
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

function renderStatus(status) {
  const links = $("links");
  links.replaceChildren();
  for (const url of [...(status.httpsUrls || []), ...status.localNames, ...status.urls]) {
    const item = el("li");
    item.append(el("code", url), copyButton(url));
    links.append(item);
  }
  if (!links.children.length)
    links.append(el("li", "No LAN interface is up: only this computer can connect.", "muted"));
  $("qr").src = apiUrl(`/api/qr.svg?text=${encodeURIComponent(status.meetingLink)}`);
  $("qr").title = status.meetingLink;
  // People compare this with what their browser shows for the self-signed certificate.
  $("fingerprint").hidden = !status.fingerprint;
  $("fingerprint").textContent = status.fingerprint
    ? `HTTPS certificate SHA-256 fingerprint: ${status.fingerprint}`
    : "";
  const m = status.mdns;
  $("announce").textContent = m.enabled
    ? `Announced on the LAN as “${m.instance}” (${m.hostnames.join(", ")}).`
    : m.error
      ? `LAN announcement is off: ${m.error}. People can still connect by address.`
      : "LAN announcement is off. People can still connect by address.";
  const others = $("others");
  others.replaceChildren();
  for (const other of status.others) {
    const item = el("li");
    item.append(el("span", other.instance), el("code", other.url));
    others.append(item);
  }
  if (!status.others.length) others.append(el("li", "None seen.", "muted"));
}

const rates = [];
function renderRate(rate) {
  rates.push(rate.perSecond);
  if (rates.length > 120) rates.shift();
  $("rate").textContent = `${rate.perSecond} messages/s · ${rate.relayed} relayed since start`;
  const max = Math.max(1, ...rates);
  const points = rates.map((v, i) => `${i + (120 - rates.length)},${(24 - (v / max) * 22 - 1).toFixed(2)}`);
  $("spark").querySelector("polyline").setAttribute("points", points.join(" "));
}

function connect() {
  const source = new EventSource(apiUrl("/api/events"));
  const pill = $("connection");
  source.addEventListener("open", () => {
    pill.textContent = "live";
    pill.className = "pill live";
  });
  source.addEventListener("error", () => {
    pill.textContent = "reconnecting…";
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
    const button = el("button", `Use port ${state.suggestedPort}`);
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
    };
    try {
      const port = await control("/settings", next);
      $("settings-result").textContent = "Saved and applied.";
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

$("new-meeting").addEventListener("click", newMeeting);
connect();
checkProblem();
setupSettings();
answerRaises();
