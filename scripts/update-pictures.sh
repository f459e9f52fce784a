#!/usr/bin/env bash
# Takes the pictures the tests check (docs/*.png, shown in the README) again and makes them the
# new references: run it after a change to the pages that is meant to show, look at the
# pictures (git diff shows which changed), and commit them with the change. Needs what the test
# command installs (run ./scripts/test.sh once), and root for the namespaces.
#   ./scripts/update-pictures.sh
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --workspace --all-targets
target_dir="${CARGO_TARGET_DIR:-$PWD/target}"
export FM_BIN="$target_dir/debug/free-meetings" FM_DESKTOP_BIN="$target_dir/debug/free-meetings-desktop"
export FM_UPDATE_PICTURES=1
files=(tests/js/dashboard.test.mjs tests/js/desktop.test.mjs tests/js/controls.test.mjs tests/js/i18n.test.mjs
  tests/js/private.test.mjs tests/js/meeting.test.mjs tests/js/sfu.test.mjs)
for file in "${files[@]}"; do
  node --test --test-timeout=300000 "$file"
done
git status --short docs/
