#!/usr/bin/env bash
# Runs every check and test of the project: formatting, clippy, unit and end-to-end tests (as root).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings
# Build every binary first (debug, the tests' profile) so the CLI tests find fresh isulad,
# isula and isulad-shim in target/debug instead of building their own into target/cli-tests.
cargo build --workspace
cargo test --workspace -- --test-threads="${TEST_THREADS:-4}"
