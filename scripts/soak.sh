#!/usr/bin/env bash
# The long soak (not in CI): 500 clients join, signal, leave and reconnect for 10 minutes
# against a release build. Exits 0 when no signal was lost, no unprovoked error came, and the
# server's RSS at the end is within 10% of its warm baseline. Traffic stays on 127.0.0.1.
#   ./scripts/soak.sh [--clients 500] [--duration 600] [--rate 2]
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
cargo build --release --locked -p free-meetings
ulimit -n "$(ulimit -Hn)"
FM_BIN="$(pwd)/target/release/free-meetings" RUST_LOG=warn exec node tests/js/soak.mjs "$@"
