#!/usr/bin/env bash
# Measures the desktop app's footprint under Xvfb, summed over every process of the app (its web
# view's processes included): RSS and PSS started minimized, with the window open, closed again,
# and after CYCLES more open/close cycles; then its CPU while idle in the tray for IDLE_SECONDS,
# and as long again with one person in a meeting.
# The window is opened the way a user does it a second time: by launching the app again.
# Usage: scripts/desktop_footprint.sh [path/to/free-meetings-desktop]
#   CYCLES=20 IDLE_SECONDS=60 (the defaults)
set -euo pipefail
cd "$(dirname "$0")/.."
bin="${1:-target/release/free-meetings-desktop}"
idle="${IDLE_SECONDS:-60}"
cycles="${CYCLES:-20}"
home=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$home"' EXIT
Xvfb :97 -screen 0 1280x900x24 -nolisten tcp >/dev/null 2>&1 &
export DISPLAY=:97 HOME="$home" XDG_CONFIG_HOME="$home/config" NO_AT_BRIDGE=1
DBUS_SESSION_BUS_ADDRESS=$(dbus-daemon --session --fork --print-address=1 --address="unix:path=$home/bus")
export DBUS_SESSION_BUS_ADDRESS
sleep 1
args=(--no-mdns --port 5990 --settings "$home/settings.json")
"$bin" "${args[@]}" --minimized >/dev/null 2>&1 &
app=$!
for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/5990) 2>/dev/null && break; sleep 0.1; done

# The app's processes: its own tree, plus WebKit's processes that D-Bus activation may start
# outside it (they carry the app's name in their environment, not their parent).
procs() {
  local tree=("$app") i=0
  while [ "$i" -lt "${#tree[@]}" ]; do
    for c in $(pgrep -P "${tree[$i]}" || true); do tree+=("$c"); done
    i=$((i + 1))
  done
  for p in $(pgrep -f 'WebKit(Network|Web)Process' || true); do
    [[ " ${tree[*]} " == *" $p "* ]] || tree+=("$p")
  done
  echo "${tree[@]}"
}
sum_kb() { # field of /proc/PID/smaps_rollup (Rss, Pss) summed over the app's processes
  local t=0
  for p in $(procs); do t=$((t + $(awk -v f="$1:" '$1 == f {print $2}' "/proc/$p/smaps_rollup" 2>/dev/null || echo 0))); done
  echo "$t"
}
cpu_ticks() { local t=0; for p in $(procs); do t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0))); done; echo "$t"; }
report() {
  local n
  n=$(procs | wc -w)
  echo "$1: $(($(sum_kb Rss) / 1024)) MB RSS, $(($(sum_kb Pss) / 1024)) MB PSS in $n processes"
}
window() { xdotool search --name "^Free Meetings" 2>/dev/null | head -1; }
wait_for() { # wait_for open|closed
  for _ in $(seq 200); do
    if [ "$1" = open ] && [ -n "$(window)" ]; then return 0; fi
    if [ "$1" = closed ] && [ -z "$(window)" ]; then return 0; fi
    sleep 0.05
  done
  echo "the window did not become $1" >&2
  return 1
}
open() { "$bin" "${args[@]}" >/dev/null 2>&1 || true; wait_for open; }
close() { /usr/bin/python3 tests/x11/close_window.py "$(window)"; wait_for closed; }

sleep 3 # let it settle
report "started minimized"
open
sleep 3 # let the page load and render
report "window open"
close
sleep 3 # let the web view's processes exit
report "window closed"
for p in $(procs); do echo "  $(awk '/VmRSS/{print $2/1024 " MB"}' "/proc/$p/status") $(tr '\0' ' ' < "/proc/$p/cmdline" | cut -c1-60)"; done
for _ in $(seq "$cycles"); do
  open
  sleep 1
  close
done
sleep 3
report "closed after $cycles more open/close cycles"
before=$(cpu_ticks)
sleep "$idle"
after=$(cpu_ticks)
echo "idle in the tray for ${idle}s: CPU $(python3 -c "print(round(($after - $before) / 100 / $idle * 100, 2))")%"
# One person in a meeting, doing nothing: the app must stay as idle. (A tray loop that woke at
# once on every turn after anyone had joined cost a whole core here.)
node -e '
const { io } = require("socket.io-client");
const socket = io("http://127.0.0.1:5990", { transports: ["websocket"] });
socket.on("connect", () => socket.emit("join-room", { roomId: "footprint", userName: "Ann" }));
setTimeout(() => process.exit(0), (Number(process.argv[1]) + 5) * 1000);
' "$idle" &
sleep 3
before=$(cpu_ticks)
sleep "$idle"
after=$(cpu_ticks)
echo "in the tray with a meeting in progress for ${idle}s: CPU $(python3 -c "print(round(($after - $before) / 100 / $idle * 100, 2))")%"
kill -TERM "$app"
wait "$app"
