#!/usr/bin/env bash
# Sets up the host, builds isula, and runs the main job: build a busybox image
# from the host's busybox-static, load it into a fresh engine root and list it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cargo build --release --workspace
cargo run --release -p isula-tests --example quickstart
