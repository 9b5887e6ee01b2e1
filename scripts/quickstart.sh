#!/usr/bin/env bash
# Sets up the host, builds isula, and runs the main job: start isulad on a scratch root,
# load a busybox image built locally from the host's busybox-static, and run a container.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cargo build --release --workspace
cargo build --release -p isula-tests --example busybox_archive
bin=target/release
tmp=$(mktemp -d /tmp/isula-qs.XXXXXX)
sock="unix://$tmp/isulad.sock"
"$bin/examples/busybox_archive" "$tmp/busybox.tar"
"$bin/isulad" -g "$tmp/root" -S "$tmp/state" -H "$sock" --log-file "$tmp/isulad.log" &
daemon=$!
cleanup() {
  kill -TERM "$daemon" 2>/dev/null || true
  wait "$daemon" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
for _ in $(seq 100); do [ -S "$tmp/isulad.sock" ] && break; sleep 0.1; done
isula() { "$bin/isula" -H "$sock" "$@"; }
isula load -i "$tmp/busybox.tar"
isula images
isula run --rm busybox echo hello
echo "isula run exited with $?"
