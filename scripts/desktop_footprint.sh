#!/usr/bin/env bash
# Measures the desktop app's footprint under Xvfb: RSS of all its processes (web view included)
# with the window open, then closed, and its CPU use while idle in the tray for 60 s.
# Usage: scripts/desktop_footprint.sh [path/to/free-meetings-desktop]
set -euo pipefail
cd "$(dirname "$0")/.."
bin="${1:-target/release/free-meetings-desktop}"
idle="${IDLE_SECONDS:-60}"
home=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$home"' EXIT
Xvfb :97 -screen 0 1280x900x24 -nolisten tcp >/dev/null 2>&1 &
export DISPLAY=:97 HOME="$home" XDG_CONFIG_HOME="$home/config" NO_AT_BRIDGE=1
DBUS_SESSION_BUS_ADDRESS=$(dbus-daemon --session --fork --print-address=1 --address="unix:path=$home/bus")
export DBUS_SESSION_BUS_ADDRESS
sleep 1
"$bin" --no-mdns --port 5990 --settings "$home/settings.json" >/dev/null 2>&1 &
app=$!
for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/5990) 2>/dev/null && break; sleep 0.1; done

tree() { echo "$1"; for c in $(pgrep -P "$1"); do tree "$c"; done; }
rss_mb() { local t=0; for p in $(tree "$app"); do t=$((t + $(awk '/VmRSS/{print $2}' "/proc/$p/status" 2>/dev/null || echo 0))); done; echo "$((t / 1024))"; }
cpu_ticks() { local t=0; for p in $(tree "$app"); do t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0))); done; echo "$t"; }

for _ in $(seq 100); do xdotool search --name "^Free Meetings" >/dev/null 2>&1 && break; sleep 0.1; done
sleep 3 # let the page load and render
echo "window open: $(rss_mb) MB RSS in $(tree "$app" | wc -l) processes"
win=$(xdotool search --name "^Free Meetings" | head -1)
/usr/bin/python3 tests/x11/close_window.py "$win"
sleep 3 # let the web view processes exit
echo "window closed: $(rss_mb) MB RSS in $(tree "$app" | wc -l) processes"
for p in $(tree "$app"); do echo "  $(awk '/VmRSS/{print $2/1024 " MB"}' "/proc/$p/status") $(tr '\0' ' ' < "/proc/$p/cmdline" | cut -c1-60)"; done
before=$(cpu_ticks)
sleep "$idle"
after=$(cpu_ticks)
echo "idle in the tray for ${idle}s: CPU $(python3 -c "print(round(($after - $before) / 100 / $idle * 100, 2))")% , $(rss_mb) MB RSS"
kill -TERM "$app"; wait "$app"
