#!/usr/bin/env bash
# What the .deb carries beside the binaries, made from the release build's own clap definitions:
# man pages and bash/zsh/fish completions, into target/release/share/. tauri.conf.json's
# beforeBundleCommand runs it after building; tauri.conf.json's `files` installs the results.
set -euo pipefail
cd "$(dirname "$0")/.."
target_dir="${CARGO_TARGET_DIR:-$PWD/target}"
bin="$target_dir/release/free-meetings"
share="$target_dir/release/share"
rm -rf "$share"
mkdir -p "$share/completions"
"$bin" man --dir "$share/man"
"$bin" completions bash >"$share/completions/free-meetings.bash"
"$bin" completions zsh >"$share/completions/_free-meetings"
"$bin" completions fish >"$share/completions/free-meetings.fish"
