// A Socket.IO peer for the LAN tests, run inside a network namespace:
//   node peer.mjs URL ROOM NAME wait      join, print the first signal received, exit 0
//   node peer.mjs URL ROOM NAME send JSON join, send JSON as a signal to everyone already there
// Prints one JSON line per step; exits 1 after 15 s without finishing.
import { io } from "socket.io-client";

const [url, roomId, userName, mode, payload] = process.argv.slice(2);
const say = (line) => process.stdout.write(`${JSON.stringify(line)}\n`);
setTimeout(() => {
  say({ event: "timeout" });
  process.exit(1);
}, 15000);

const socket = io(url, { path: "/socket.io", transports: ["websocket"], reconnection: false });
socket.on("connect", () => socket.emit("join-room", { roomId, userName }));
socket.on("connect_error", (error) => say({ event: "connect_error", message: error.message }));
socket.on("init-users", (users) => {
  say({ event: "joined", id: socket.id, users });
  if (mode === "send") {
    for (const { id } of users) socket.emit("signal", { to: id, signal: JSON.parse(payload) });
    say({ event: "sent", to: users.map((u) => u.id) });
  }
});
socket.on("signal", (message) => {
  say({ event: "signal", ...message });
  if (mode === "wait") process.exit(0);
});
