#!/usr/bin/env bash
# Sets up and runs Free Meetings: the tray app on a desktop, the headless server where there is
# no display (a NAS, a server, an SSH session). Arguments go to the app or to `serve`.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
if [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; then
  ./scripts/setup.sh desktop
  # The tray app and the window it opens are two programs, built together.
  cargo build --release --locked -p free-meetings-desktop -p free-meetings-window
  exec "${CARGO_TARGET_DIR:-target}/release/free-meetings-desktop" "$@"
fi
echo "No display found: running the headless server (free-meetings serve); its dashboard is at /dashboard/ on this machine."
./scripts/setup.sh server
# HTTPS on too: browsers at other desks need it for camera and microphone on the meeting page
# (a `--no-tls` among the arguments comes later and turns it off, as it does for the tray app).
exec cargo run --release --locked -p free-meetings -- serve --tls "$@"
