#!/usr/bin/env bash
# Cluster mode under the same load on 1, 2 and 3 nodes of one Redis (and a plain single server
# as the baseline), on loopback: relay latency and flood throughput for pairs on one node and
# across nodes, Redis's CPU, and each node's memory per idle peer. Writes JSON lines to
# target/bench/cluster.jsonl and prints a table. Not part of the test command (it takes a few
# minutes and wants the machine to itself).
#   ./scripts/bench_cluster.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH" RUST_BACKTRACE=0
cargo build --release --locked -p free-meetings -p free-meetings-bench
ulimit -n "$(ulimit -Hn)"
work=target/bench
mkdir -p "$work"
results="$work/cluster.jsonl"
: > "$results"
bin=target/release/free-meetings
bench=target/release/fm-bench
redis_port=6390
pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; }
trap cleanup EXIT

ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
rss_kb() { awk '/VmRSS/{print $2}' "/proc/$1/status"; }
wait_port() { for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done; return 1; }

redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no >/dev/null &
redis=$!
pids+=("$redis")
wait_port "$redis_port"
hz=$(getconf CLK_TCK)

# run LABEL NODES PLACEMENT SCENARIO...: starts the nodes, runs one fm-bench scenario, stops them.
run() {
  local label=$1 count=$2 placement=$3
  shift 3
  local nodes=() node_pids=() cluster=()
  [ "$count" != single ] && cluster=(--cluster "redis://127.0.0.1:$redis_port/")
  local n=$count
  [ "$count" = single ] && n=1
  redis-cli -p "$redis_port" flushall >/dev/null
  for i in $(seq "$n"); do
    local port=$((5900 + i))
    RUST_LOG=warn "$bin" serve --bind 127.0.0.1 --port "$port" --no-mdns --media mesh \
      --event-rate 100000 --event-burst 100000 "${cluster[@]}" >"$work/node-$i.log" 2>&1 &
    node_pids+=($!)
    pids+=($!)
    nodes+=("127.0.0.1:$port")
    wait_port "$port"
  done
  local also=()
  for addr in "${nodes[@]:1}"; do also+=(--also "$addr"); done
  local rss_before=() redis_before cpu_before=()
  for p in "${node_pids[@]}"; do rss_before+=("$(rss_kb "$p")"); cpu_before+=("$(ticks "$p")"); done
  redis_before=$(ticks "$redis")
  local started=$SECONDS
  local out
  out=$("$bench" --server "${nodes[0]}" "${also[@]}" --placement "$placement" "$@")
  local took=$((SECONDS - started))
  local redis_cpu node_cpu=0 rss_grow=0
  redis_cpu=$(python3 -c "print(round(100 * ($(ticks "$redis") - $redis_before) / $hz / max(1, $took), 1))")
  for i in "${!node_pids[@]}"; do
    node_cpu=$((node_cpu + $(ticks "${node_pids[$i]}") - ${cpu_before[$i]}))
    rss_grow=$((rss_grow + $(rss_kb "${node_pids[$i]}") - ${rss_before[$i]}))
  done
  node_cpu=$(python3 -c "print(round(100 * $node_cpu / $hz / max(1, $took), 1))")
  echo "$out" | python3 -c "
import json, sys
r = json.load(sys.stdin)
r.update(label='$label', nodes='$count', placement='$placement', redis_cpu_percent=$redis_cpu,
         nodes_cpu_percent=$node_cpu, nodes_rss_growth_kb=$rss_grow)
print(json.dumps(r))" >>"$results"
  for p in "${node_pids[@]}"; do kill -TERM "$p"; wait "$p" 2>/dev/null || true; done
}

for count in single 1 2 3; do
  placements=(same)
  [ "$count" = 2 ] || [ "$count" = 3 ] && placements=(same cross)
  for placement in "${placements[@]}"; do
    run "flood" "$count" "$placement" flood --pairs 50 --window 8 --duration 10
    run "relay" "$count" "$placement" relay --peers 400 --rate 2 --pad 3000 --duration 10
  done
  run "idle" "$count" cross idle --peers 2000 --hold 3
done

python3 - "$results" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
idle = {r["nodes"]: r for r in rows if r["label"] == "idle"}
groups = {}
for r in rows:
    if r["label"] != "idle":
        groups.setdefault((r["nodes"], r["placement"]), {})[r["label"]] = r
ms = lambda r, p: f'{r["latency"][p] / 1000:.2f}'
print("| nodes | a room's members | flood msgs/s | flood p99 ms | flood CPU: nodes / Redis % | relay p50 / p99 ms | relay lost | relay CPU: nodes / Redis % | KB per idle peer |")
print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
for (nodes, placement), g in groups.items():
    f, r, i = g["flood"], g["relay"], idle.get(nodes)
    where = "one node" if placement == "same" else "across nodes"
    per_peer = f'{i["nodes_rss_growth_kb"] / i["peers"]:.1f}' if i else "-"
    print(f'| {nodes} | {where} | {f["relayed_per_s"]:.0f} | {ms(f, "p99_us")} | {f["nodes_cpu_percent"]} / {f["redis_cpu_percent"]} '
          f'| {ms(r, "p50_us")} / {ms(r, "p99_us")} | {r["lost"]} | {r["nodes_cpu_percent"]} / {r["redis_cpu_percent"]} | {per_peer} |')
PY
