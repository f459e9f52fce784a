#!/usr/bin/env bash
# Sets up and runs every check and test: formatting, clippy, Rust unit and integration tests,
# and the end-to-end tests with the real socket.io-client and headless Chromium.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh test
export PATH="$HOME/.cargo/bin:$PATH"

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== JS format and lint (biome, over ui/ and tests/)"
npx biome ci --error-on-warnings
echo "== import cycles (and no transport crate in the core)"
python3 scripts/check_imports.py server/src --pure wire rooms \
  --banned socketioxide socketioxide_core engineioxide axum tungstenite tokio_tungstenite hyper hyper_util tower
python3 scripts/check_imports.py desktop/src
python3 scripts/check_imports.py src-tauri/src
echo "== cargo clippy"
cargo clippy --locked --workspace --all-targets -- -D warnings
echo "== cargo test"
cargo test --locked --workspace
echo "== end-to-end tests (node --test)"
cargo build --locked --workspace
target_dir=$(cargo metadata --format-version 1 --no-deps | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).target_directory))')
# A stuck test must fail, not hang the run: a time limit per test, and no waiting on a test file
# whose event loop stays alive after its tests ended (where this Node has the options).
flags=()
for flag in --test-timeout=300000 --test-force-exit; do
  node "$flag" --version >/dev/null 2>&1 && flags+=("$flag")
done
export FM_BIN="$target_dir/debug/free-meetings" FM_DESKTOP_BIN="$target_dir/debug/free-meetings-desktop"
# Calls with real video (several Chromiums encoding and decoding on two cores) run one file at
# a time after the rest: beside another browser test, their encoders starve and frames stall.
media=(tests/js/meeting.test.mjs tests/js/sfu.test.mjs)
others=()
for file in tests/js/*.test.mjs; do
  [[ " ${media[*]} " == *" $file "* ]] || others+=("$file")
done
status=0
node --test "${flags[@]}" --test-concurrency=2 "${others[@]}" || status=1
node --test "${flags[@]}" --test-concurrency=1 "${media[@]}" || status=1
# The event contract and the room rules once more, unchanged, against three cluster nodes behind
# HAProxy (deploy/haproxy.cfg, with Redis): every startServer of these files is such a cluster.
FM_CLUSTER=haproxy node --test "${flags[@]}" --test-concurrency=2 \
  tests/js/contract.test.mjs tests/js/rooms.test.mjs tests/js/input.test.mjs tests/js/order.test.mjs || status=1
exit "$status"
