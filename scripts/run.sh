#!/usr/bin/env bash
# Sets up and runs the Free Meetings server (arguments go to `free-meetings serve`).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh run
export PATH="$HOME/.cargo/bin:$PATH"
exec cargo run --release --locked -p free-meetings -- serve "$@"
