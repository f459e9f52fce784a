#!/usr/bin/env bash
# What the .deb carries beside the window's binary (which Tauri's bundler takes from the target
# directory itself): the two other programs, and the man pages (gzipped, as Debian keeps them)
# and bash/zsh/fish completions made from the release build's own clap definitions.
# tauri.conf.json's beforeBundleCommand runs it after building; its `files` install what this
# puts in target/deb-files/ of the repository, wherever the build itself went (CARGO_TARGET_DIR
# may point outside the clone).
set -euo pipefail
cd "$(dirname "$0")/.."
target_dir="${CARGO_TARGET_DIR:-$PWD/target}"
bin="$target_dir/release/free-meetings"
out="$PWD/target/deb-files"
rm -rf "$out"
mkdir -p "$out/completions"
cp "$bin" "$target_dir/release/free-meetings-desktop" "$out/"
"$bin" man --dir "$out/man"
"$bin" completions bash >"$out/completions/free-meetings.bash"
"$bin" completions zsh >"$out/completions/_free-meetings"
"$bin" completions fish >"$out/completions/free-meetings.fish"
gzip -9n "$out"/man/*.1
