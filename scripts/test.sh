#!/usr/bin/env bash
# Sets up and runs every check and test: formatting, clippy, Rust unit and integration tests,
# and the end-to-end tests with the real socket.io-client and headless Chromium.
set -euo pipefail
cd "$(dirname "$0")/.."

# Each phase's time, printed at the end (also when a phase fails): where a slow run went.
phases=()
phase_name=""
phase_started=$SECONDS
phase() {
  [ -n "$phase_name" ] && phases+=("$(printf '%6d s  %s' $((SECONDS - phase_started)) "$phase_name")")
  phase_name="$1"
  phase_started=$SECONDS
  if [ -n "$1" ]; then echo "== $1"; fi
}
report() {
  local code=$?
  phase ""
  echo "== time per phase"
  printf '%s\n' "${phases[@]}"
  printf '%6d s  in all (exit %d)\n' "$SECONDS" "$code"
}
trap report EXIT

phase "setup (system packages, npm packages, crates)"
./scripts/setup.sh test
export PATH="$HOME/.cargo/bin:$PATH"

phase "cargo fmt --check"
cargo fmt --all -- --check
phase "JS format and lint (biome, over ui/ and tests/)"
npx biome ci --error-on-warnings
phase "imports: the code map's layers, no cycle, no transport crate in the core"
python3 scripts/check_imports.py server/src --map ARCHITECTURE.md --pure wire rooms \
  --banned socketioxide socketioxide_core engineioxide axum tungstenite tokio_tungstenite hyper hyper_util tower
python3 scripts/check_imports.py desktop/src
python3 scripts/check_imports.py src-tauri/src
# One build of every program and test target, in one invocation: the test targets' dev-dependencies
# (tokio's test-util, tokio-tungstenite) change the features of tokio, axum and the crates above
# them, so a separate plain `cargo build` compiled all of those a second time. The end-to-end
# tests run the programs of this build; `cargo test` below reuses it.
# The advisories need the RustSec database from GitHub, which CI may not reach: they are checked
# by ./scripts/audit.sh before each release; licences, bans and sources need no network.
phase "dependencies: cargo deny (licences, bans, sources; deny.toml)"
cargo deny --log-level error check licenses bans sources
phase "cargo build (every program and test, debug)"
cargo build --locked --workspace --all-targets
phase "cargo clippy"
cargo clippy --locked --workspace --all-targets -- -D warnings
phase "cargo test"
cargo test --locked --workspace
target_dir=$(cargo metadata --format-version 1 --no-deps | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).target_directory))')
# The .deb as people get it: a release build of the three programs, packaged by Tauri's bundler
# (tauri.conf.json); package.test.mjs installs it into a fresh root. The only release build of
# the run: the first one on a fresh machine takes most of this phase's time.
phase "package: the .deb (npx tauri build --bundles deb, release)"
rm -rf "$target_dir/release/bundle/deb"
npx tauri build --bundles deb --ci
debs=("$target_dir"/release/bundle/deb/*.deb)
[ "${#debs[@]}" -eq 1 ] && [ -f "${debs[0]}" ] || { echo "expected one .deb, found: ${debs[*]}" >&2; exit 1; }
export FM_DEB="${debs[0]}"
phase "end-to-end tests (node --test)"
# A stuck test must fail, not hang the run: a time limit per test, and no waiting on a test file
# whose event loop stays alive after its tests ended (where this Node has the options).
flags=()
for flag in --test-timeout=300000 --test-force-exit; do
  node "$flag" --version >/dev/null 2>&1 && flags+=("$flag")
done
export FM_BIN="$target_dir/debug/free-meetings" FM_DESKTOP_BIN="$target_dir/debug/free-meetings-desktop"
# Calls with real video (several Chromiums encoding and decoding on two cores) run one file at
# a time after the rest: beside another browser test, their encoders starve and frames stall.
# So does the soak (500 clients at once against a debug build): beside another file, its first
# wave of handshakes took over 10 s in two full runs (about 1 s alone), and it then measured
# its neighbour rather than the server. The page's other browser files (controls, languages,
# axe-core) join them: beside the desktop window's test, a run starved the window (it took over
# 20 s to close and to paint).
media=(tests/js/meeting.test.mjs tests/js/sfu.test.mjs tests/js/cluster_media.test.mjs tests/js/soak.test.mjs
  tests/js/controls.test.mjs tests/js/i18n.test.mjs tests/js/a11y.test.mjs)
others=()
for file in tests/js/*.test.mjs; do
  [[ " ${media[*]} " == *" $file "* ]] || others+=("$file")
done
status=0
node --test "${flags[@]}" --test-concurrency=2 "${others[@]}" || status=1
phase "end-to-end tests with real video, the soak, and the page's browser tests (node --test, one file at a time)"
node --test "${flags[@]}" --test-concurrency=1 "${media[@]}" || status=1
# The event contract and the room rules once more, unchanged, against three cluster nodes behind
# HAProxy (deploy/haproxy.cfg, with Redis): every startServer of these files is such a cluster.
phase "end-to-end tests again, against a cluster (node --test, FM_CLUSTER=haproxy)"
FM_CLUSTER=haproxy node --test "${flags[@]}" --test-concurrency=2 \
  tests/js/contract.test.mjs tests/js/rooms.test.mjs tests/js/input.test.mjs tests/js/order.test.mjs || status=1
# The contract and the room rules a third time, the nodes' Redis a Redis Cluster of three
# primaries (docs/scaling.md, "On a Redis Cluster").
phase "end-to-end tests again, on a Redis Cluster (node --test, FM_CLUSTER=redis-cluster)"
FM_CLUSTER=redis-cluster node --test "${flags[@]}" --test-concurrency=2 \
  tests/js/contract.test.mjs tests/js/rooms.test.mjs || status=1
exit "$status"
