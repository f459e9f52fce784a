#!/usr/bin/env bash
# Runs the load scenarios against this server and the original Node server (the reference in
# ../shared/reference/node-server), alternating them, each REPEAT times, and writes the table of
# both figures and their ratios to docs/benchmarks.md. Traffic stays on 127.0.0.0/8.
#   ./scripts/bench.sh            full run (about 10 minutes)
#   SCALE=0.1 ./scripts/bench.sh  a smaller run (peer counts and durations scaled)
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH" RUST_BACKTRACE=0
scale="${SCALE:-1}"
repeat="${REPEAT:-2}"
work=target/bench
reference="${REFERENCE:-../shared/reference/node-server}"

mkdir -p "$work"
rm -rf "$work/node-server"
cp -r "$reference" "$work/node-server"
chmod -R u+w "$work/node-server"
(cd "$work/node-server" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
cargo build --release --locked -p free-meetings -p free-meetings-bench
ulimit -n "$(ulimit -Hn)"

n() { python3 -c "print(max(4, int($1 * $scale)))"; }
s() { python3 -c "print(max(1.0, $1 * $scale))"; }
scenarios=(
  "idle-sio|sio|idle --peers $(n 10000) --hold $(s 10)"
  "idle-ws|ws|idle --peers $(n 10000) --hold $(s 10)"
  "relay|sio|relay --peers $(n 1000) --rate 2 --pad 3000 --duration $(s 20)"
  "flood|sio|flood --pairs 50 --window 8 --duration $(s 10)"
  "churn|sio|churn --workers 50 --rooms 20 --duration $(s 10)"
)
results="$work/results.jsonl"
: > "$results"
port=5800
for rep in $(seq "$repeat"); do
  for entry in "${scenarios[@]}"; do
    IFS='|' read -r label transport args <<< "$entry"
    for server in rust node; do
      # The reference has no /ws transport: its idle figure is the Socket.IO one.
      [ "$server" = node ] && [ "$transport" = ws ] && continue
      port=$((port + 1))
      if [ "$server" = rust ]; then
        RUST_LOG=warn target/release/free-meetings serve --bind 127.0.0.1 --port "$port" --no-mdns \
          --max-connections 20000 --max-connections-per-address 20000 --event-rate 100000 --event-burst 100000 >/dev/null 2>&1 &
      else
        (cd "$work/node-server" && PORT=$port HOST=127.0.0.1 exec node server.js >/dev/null 2>&1) &
      fi
      pid=$!
      for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
      echo "run $rep: $label on $server" >&2
      # shellcheck disable=SC2086
      if out=$(timeout 600 target/release/fm-bench --server "127.0.0.1:$port" --pid "$pid" --transport "$transport" $args); then
        echo "{\"label\":\"$label\",\"server\":\"$server\",\"rep\":$rep,\"result\":$out}" >> "$results"
      else
        echo "  failed: $label on $server" >&2
      fi
      kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true
    done
  done
done
# The generated table replaces the top of docs/benchmarks.md; the written analysis below the
# marker line is kept.
analysis=$(sed -n '/^<!-- analysis -->$/,$p' docs/benchmarks.md 2>/dev/null || true)
cp "$results" docs/benchmarks-results.jsonl
{ python3 scripts/bench_report.py "$results" "./scripts/bench.sh${SCALE:+ (SCALE=$SCALE)}"; echo; echo "$analysis"; } > docs/benchmarks.md
cat docs/benchmarks.md
