#!/usr/bin/env bash
# Installs what Free Meetings needs on Debian/Ubuntu: `setup.sh run` for building and running,
# `setup.sh test` for the full test suite (adds Chromium, Node.js and the npm test packages).
# Safe to run again: it only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
mode="${1:-run}"

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

packages=(ca-certificates curl gcc pkg-config)
if [ "$mode" = test ]; then
  packages+=(chromium nodejs npm iproute2 procps python3 python3-zeroconf)
fi
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
# A machine that already has node/npm from elsewhere (nvm, NodeSource) keeps them.
if command -v node >/dev/null && command -v npm >/dev/null; then
  missing=("${missing[@]/nodejs/}"); missing=("${missing[@]/npm/}")
fi
missing=($(printf '%s\n' "${missing[@]}" | sed '/^$/d'))
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
  for component in rustfmt clippy; do
    cargo "${component/rustfmt/fmt}" --version >/dev/null 2>&1 || rustup component add "$component"
  done
  npm ci --no-audit --no-fund --loglevel=error
fi
cargo fetch --locked >/dev/null
