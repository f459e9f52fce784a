#!/usr/bin/env bash
# Checks the dependencies against deny.toml: known vulnerabilities (the RustSec advisory
# database, fetched from GitHub), licences, banned or duplicated crates, and sources. Run it
# before each release. It installs cargo-deny the first time (built from source: 375 s on two
# cores). The test command runs the checks that need no network (licences, bans, sources); the
# advisory database needs GitHub, which CI may not reach, so advisories are checked here.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! cargo deny --version >/dev/null 2>&1; then
  cargo install --locked cargo-deny
fi
if [ $# -eq 0 ]; then set -- advisories licenses bans sources; fi
cargo deny check "$@"
