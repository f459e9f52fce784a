#!/usr/bin/env bash
# Media benchmark: rooms of synthetic participants (fm-bench media: str0m clients, one 500 kbit/s
# VP8-framed video each, every frame accounted for) through Free Meetings' forwarder (its default
# configuration as target "free-meetings", then on one thread, then with bandwidth estimation
# on) and through Janus's videoroom plugin, one server at a time,
# each in the same network namespace: Janus offers no loopback candidates, so both servers sit
# behind a veth pair (10.213.0.2) and the generator talks to them from 10.213.0.1. Prints one
# JSON line per run (the first: two participants connected directly, what the generator itself
# adds to the delay) and writes them to target/bench/media.jsonl. Needs root; installs Janus
# (Debian package) if missing. Not part of the test command: it takes about ten minutes.
#   ./scripts/bench_media.sh   20 and 30 in one room, 36 in three rooms of 12, 50 each showing 9
#   SIZES="20" WARMUP=20 DURATION=20 ./scripts/bench_media.sh  (a size: N[xROOMS][/SHOWN])
#   TARGETS="free-meetings janus" SIZES="30" ./scripts/bench_media.sh
#   SIZES="30" FM_ARGS="--media-max-bitrate 1000Mbit" ./scripts/bench_media.sh   past the default cap
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH" RUST_BACKTRACE=0
sizes="${SIZES:-20 30 36x3 50/9}"
targets="${TARGETS:-free-meetings fm-1-thread fm-estimate janus}"
warmup="${WARMUP:-25}"
duration="${DURATION:-20}"
bitrate="${BITRATE:-500000}"
ns=fm-bench-media
server_ip=10.213.0.2
work=target/bench
results="$work/media.jsonl"

command -v janus >/dev/null || {
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends janus >/dev/null
}
cargo build --release --locked -p free-meetings -p free-meetings-bench
mkdir -p "$work/janus"
# One line per run, kept across runs (each says when, and on which commit).
commit=$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- server bench || echo +changes)
stamp() { python3 -c 'import json,sys,time; d=json.loads(sys.argv[1]); d.setdefault("target",sys.argv[2]); d["commit"]=sys.argv[3]; d["at"]=time.strftime("%Y-%m-%dT%H:%M:%SZ",time.gmtime()); print(json.dumps(d))' "$@"; }

cleanup() {
  [ -n "${server_pid:-}" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  ip netns del "$ns" 2>/dev/null || true
  ip link del fmbm0 2>/dev/null || true
}
trap cleanup EXIT
cleanup
ip netns add "$ns"
ip link add fmbm0 type veth peer name fmbm1
ip link set fmbm1 netns "$ns"
ip addr add 10.213.0.1/24 dev fmbm0
ip link set fmbm0 up
ip netns exec "$ns" ip addr add "$server_ip/24" dev fmbm1
ip netns exec "$ns" ip link set fmbm1 up
ip netns exec "$ns" ip link set lo up

# Janus: the videoroom plugin and the WebSocket transport only, ICE on the veth only.
lib=$(dirname "$(dpkg -L janus | grep -m1 '/janus/plugins/libjanus_videoroom.so$')")/..
cat > "$work/janus/janus.jcfg" <<EOF
general: {
  configs_folder = "$PWD/$work/janus"
  plugins_folder = "$lib/plugins"
  transports_folder = "$lib/transports"
  events_folder = "$lib/events"
  loggers_folder = "$lib/loggers"
  debug_level = 3
  session_timeout = 120
}
media: { rtp_port_range = "30000-40000" }
nat: { nice_debug = false, ice_enforce_list = "fmbm1", ignore_mdns = true }
plugins: { disable = "libjanus_audiobridge.so,libjanus_duktape.so,libjanus_echotest.so,libjanus_lua.so,libjanus_nosip.so,libjanus_recordplay.so,libjanus_sip.so,libjanus_streaming.so,libjanus_textroom.so,libjanus_videocall.so,libjanus_voicemail.so" }
transports: { disable = "libjanus_http.so,libjanus_mqtt.so,libjanus_nanomsg.so,libjanus_pfunix.so,libjanus_rabbitmq.so" }
loggers: { disable = "libjanus_jsonlog.so" }
events: { broadcast = false }
EOF
cat > "$work/janus/janus.transport.websockets.jcfg" <<EOF
general: { json = "compact", ws = true, ws_port = 8188, ws_ip = "$server_ip", wss = false }
admin: { admin_ws = false, admin_wss = false }
EOF
echo 'general: { }' > "$work/janus/janus.plugin.videoroom.jcfg"

# Starts a server in the namespace and waits until its port answers.
start() {
  local port=$1
  shift
  ip netns exec "$ns" "$@" > "$work/media-server.log" 2>&1 &
  server_pid=$!
  for _ in $(seq 100); do
    if (exec 3<>"/dev/tcp/$server_ip/$port") 2>/dev/null; then return 0; fi
    kill -0 "$server_pid" 2>/dev/null || { cat "$work/media-server.log"; return 1; }
    sleep 0.1
  done
  echo "server on port $port did not start" >&2
  return 1
}
stop() {
  kill "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
  server_pid=
}

# The baseline: two participants connected to each other, no server (what the generator adds).
timeout 120 target/release/fm-bench --server "$server_ip:9" media --through direct --participants 2 \
  --bitrate "$bitrate" --warmup 3 --duration "$duration" > "$work/direct.json"
stamp "$(cat "$work/direct.json")" direct "$commit" | tee -a "$results"

for size in $sizes; do
  shown=()
  [ "${size#*/}" != "$size" ] && shown=(--shown "${size#*/}")
  size=${size%/*}
  n=${size%x*}
  rooms=1
  [ "$size" != "$n" ] && rooms=${size#*x}
  for target in $targets; do
    case $target in
      free-meetings | fm-1-thread | fm-estimate)
        extra=()
        [ "$target" = fm-1-thread ] && extra=(--media-threads 1)
        [ "$target" = fm-estimate ] && extra=(--media-estimate on)
        start 5600 target/release/free-meetings serve --bind "$server_ip" --port 5600 --no-mdns \
          --media sfu --media-port 0 "${extra[@]}" ${FM_ARGS:-}
        through=free-meetings addr="$server_ip:5600"
        ;;
      janus)
        start 8188 janus -F "$PWD/$work/janus"
        through=janus addr="$server_ip:8188"
        ;;
    esac
    if out=$(timeout 300 target/release/fm-bench --server "$addr" --pid "$server_pid" media \
      --through "$through" --participants "$n" --rooms "$rooms" "${shown[@]}" --bitrate "$bitrate" \
      --warmup "$warmup" --duration "$duration"); then
      line=$(stamp "$out" "$target" "$commit")
    else
      line=$(stamp "{\"target\":\"$target\",\"participants\":$n,\"rooms\":$rooms,\"failed\":true}" "$target" "$commit")
      tail -5 "$work/media-server.log" >&2
    fi
    echo "$line" | tee -a "$results"
    stop
  done
done
