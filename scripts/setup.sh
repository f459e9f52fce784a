#!/usr/bin/env bash
# Installs what Free Meetings needs on Debian/Ubuntu. Modes:
#   server   the headless server (no GUI library)
#   desktop  the tray app (WebKitGTK for its window) and the server
#   test     everything the test suite uses (adds Chromium, Node.js, Xvfb, a tray, zeroconf,
#            Redis and HAProxy for the cluster tests, nftables for a NAT, faketime to
#            age a certificate)
# Safe to run again: it only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
mode="${1:-desktop}"

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

packages=(ca-certificates curl gcc pkg-config)
desktop=(build-essential file libwebkit2gtk-4.1-dev librsvg2-dev libxdo-dev libssl-dev)
case "$mode" in
  server) ;;
  desktop) packages+=("${desktop[@]}") ;;
  test)
    packages+=("${desktop[@]}" chromium nodejs npm iproute2 nftables procps python3 python3-zeroconf
      xvfb xauth x11-utils xdotool xclip imagemagick dbus trayer haskell-gtk-sni-tray-utils
      python3-xlib iputils-ping redis-server haproxy openssl systemd groff-base faketime man-db desktop-file-utils)
    ;;
  *) echo "usage: $0 server|desktop|test" >&2; exit 2 ;;
esac
missing=()
for p in "${packages[@]}"; do
  # A machine that already has node/npm from elsewhere (nvm, NodeSource) keeps them.
  if { [ "$p" = nodejs ] && command -v node >/dev/null; } || { [ "$p" = npm ] && command -v npm >/dev/null; }; then
    continue
  fi
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing system packages: ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# Rust: the toolchain from rustup (Debian's cargo is too old for edition 2024).
if ! command -v cargo >/dev/null; then
  [ -x "$HOME/.cargo/bin/cargo" ] || curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal
  export PATH="$HOME/.cargo/bin:$PATH"
fi
if [ "$mode" = test ]; then
  cargo fmt --version >/dev/null 2>&1 || rustup component add rustfmt
  cargo clippy --version >/dev/null 2>&1 || rustup component add clippy
  # The dependency policy's checker (deny.toml): built from source, 375 s once on 2 cores.
  cargo deny --version >/dev/null 2>&1 || cargo install --locked --quiet cargo-deny@0.20.2
  npm ci --no-audit --no-fund --loglevel=error
fi
cargo fetch --locked --target "$(rustc -vV | sed -n "s/^host: //p")" >/dev/null
