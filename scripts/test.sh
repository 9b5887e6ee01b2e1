#!/usr/bin/env bash
# Runs every check and test of the project: formatting, clippy, unit and end-to-end tests (as root).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings
# The embedder's small build: isula-core and the C ABI without registry, xz and zstd.
cargo check -p isula-core --no-default-features
cargo check -p isula-ffi --no-default-features
# Build every binary first (debug, the tests' profile) so the CLI tests find fresh isulad,
# isula and isulad-shim in target/debug instead of building their own into target/cli-tests.
cargo build --workspace
cargo test --workspace -- --test-threads="${TEST_THREADS:-4}"
# The cgroup v2 + systemd guest (cached image; see scripts/guest-test.sh): wherever /dev/kvm
# exists, and required in CI.
if [ -e /dev/kvm ]; then
  cargo build -p isula-tests --example guest_pod
  bash scripts/guest-test.sh
elif [ "${CI:-}" = true ]; then
  echo "test.sh: /dev/kvm is missing: the guest suite (scripts/guest-test.sh) cannot run" >&2
  exit 1
else
  echo "test.sh: no /dev/kvm: skipping the guest suite (scripts/guest-test.sh)" >&2
fi
