#!/usr/bin/env bash
# Runs the test command N times in a row and says how each run went: is the suite green every
# time, and where does the time go. By default in a fresh clone of the current commit (its own
# build folder, so the first run is a cold build, as on a new machine or in CI); with --here, in
# this checkout. Every run goes on whatever the one before did; the exit code is 1 if any failed.
#
#   scripts/soak_tests.sh 10            ten runs in a fresh clone of HEAD
#   scripts/soak_tests.sh 3 --here      three runs here
#
# Logs: one file per run in the folder it prints (run-1.log ...), and summary.txt.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() { echo "usage: $0 N [--here]" >&2; exit 2; }
[[ "${1:-}" =~ ^[1-9][0-9]*$ ]] || usage
runs=$1
here=false
case "${2:-}" in
  "") ;;
  --here) here=true ;;
  *) usage ;;
esac

logs=$(mktemp -d "${TMPDIR:-/tmp}/fm-soak-XXXXXX")
if $here; then
  checkout=$PWD
else
  checkout="$logs/clone"
  git clone --quiet --no-hardlinks "$PWD" "$checkout"
  git -C "$checkout" checkout --quiet "$(git rev-parse HEAD)"
  # A target folder of the clone's own, whatever the environment says: the first run is cold.
  unset CARGO_TARGET_DIR
fi
echo "soak: $runs runs of scripts/test.sh in $checkout ($(git -C "$checkout" rev-parse --short HEAD)); logs in $logs"

failed=0
summary="$logs/summary.txt"
: >"$summary"
for i in $(seq 1 "$runs"); do
  log="$logs/run-$i.log"
  started=$SECONDS
  if (cd "$checkout" && CI=true ./scripts/test.sh) >"$log" 2>&1; then
    outcome=green
  else
    outcome=FAILED
    failed=$((failed + 1))
  fi
  {
    echo "run $i: $outcome after $((SECONDS - started)) s"
    # The test command's own table of phase times, and any failed test's name.
    sed -n '/^== time per phase$/,$p' "$log" | tail -n +2
    grep -E '^not ok ' "$log" | sed 's/^/  /' || true
  } | tee -a "$summary"
done
echo "soak: $((runs - failed)) of $runs runs green; summary in $summary" | tee -a "$summary"
[ "$failed" -eq 0 ]
