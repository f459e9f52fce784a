#!/usr/bin/env python3
"""Turns bench results (JSON lines) into docs/benchmarks.md: both servers' medians and ratios."""
import json
import os
import platform
import statistics
import subprocess
import sys

results_path, command = sys.argv[1], sys.argv[2]
rows = [json.loads(line) for line in open(results_path) if line.strip()]

# (label, figure name, path into the result, which direction is better)
FIGURES = [
    ("flood", "relayed msgs/s (50 pairs, window 8)", ("relayed_per_s",), "higher"),
    ("flood", "flood latency p99 (µs)", ("latency", "p99_us"), "lower"),
    ("relay", "relay latency p50 (µs)", ("latency", "p50_us"), "lower"),
    ("relay", "relay latency p99 (µs)", ("latency", "p99_us"), "lower"),
    ("relay", "relay lost messages", ("lost",), "lower"),
    ("relay", "relay server CPU (%)", ("server_cpu_percent",), "lower"),
    ("idle-sio", "handshakes/s (idle)", ("handshakes_per_s",), "higher"),
    ("idle-sio", "join p99 (µs)", ("join_p99_us",), "lower"),
    ("idle-sio", "RSS per idle Socket.IO peer (bytes)", ("rss_per_peer_bytes",), "lower"),
    ("idle-sio", "peers survived", ("survived",), "higher"),
    ("churn", "churn joins/s", ("joins_per_s",), "higher"),
    ("churn", "churn errors", ("errors",), "lower"),
    ("churn", "churn RSS drift (bytes)", ("rss_drift_bytes",), "lower"),
]


def pick(result, path):
    value = result
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    return value


def median(label, server, path):
    values = [pick(r["result"], path) for r in rows if r["label"] == label and r["server"] == server]
    values = [v for v in values if isinstance(v, (int, float))]
    return statistics.median(values) if values else None


def fmt(v):
    if v is None:
        return "n/a"
    return f"{v:,.0f}" if abs(v) >= 100 else f"{v:,.2f}"


def params(label):
    for r in rows:
        if r["label"] == label:
            res = r["result"]
            return {k: v for k, v in res.items() if k in ("peers", "pairs", "window", "workers", "duration_s", "hold_s", "rate_per_peer", "pad_bytes")}
    return {}


cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "unknown CPU")
mem = next((l.split(":", 1)[1].strip() for l in open("/proc/meminfo") if l.startswith("MemTotal")), "?")
node = subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip()
print("# Benchmarks: Free Meetings (Rust) vs the original Node server\n")
print(f"Command: `{command}` (one run, the servers alternated, each scenario repeated "
      f"{max((r['rep'] for r in rows), default=0)} times; medians shown).  ")
print(f"Machine: {os.cpu_count()} CPUs ({cpu}), {mem} memory, Linux {platform.release()}, Node {node}; "
      "load generator `fm-bench` on the same machine, clients over 127.0.0.1-127.0.0.8.\n")
print("| figure | Rust | Node | Rust / Node |")
print("|---|---:|---:|---:|")
for label, name, path, better in FIGURES:
    rust, ref = median(label, "rust", path), median(label, "node", path)
    ratio = f"{rust / ref:.2f}x" if rust is not None and ref not in (None, 0) else "n/a"
    print(f"| {name} | {fmt(rust)} | {fmt(ref)} | {ratio} |")
ws = median("idle-ws", "rust", ("rss_per_peer_bytes",))
sio_ref = median("idle-sio", "node", ("rss_per_peer_bytes",))
ratio = f"{ws / sio_ref:.2f}x" if ws is not None and sio_ref else "n/a"
print(f"| RSS per idle `/ws` peer vs the reference's per-peer (bytes) | {fmt(ws)} | {fmt(sio_ref)} | {ratio} |")
print("\nScenario parameters:\n")
for label in ("idle-sio", "idle-ws", "relay", "flood", "churn"):
    print(f"- `{label}`: {json.dumps(params(label))}")
print("\nRaw results: `docs/benchmarks-results.jsonl` (one JSON object per run, every rep).")
