#!/usr/bin/env bash
# Runs one libFuzzer target (built by `cargo +nightly fuzz build -s none -a TARGET`) for a while
# on a scratch copy of its checked-in corpus, niced, then minimises the result back into
# fuzz/corpus/TARGET. Crashes land in fuzz/artifacts/TARGET/.
#   usage: fuzz/run.sh TARGET [SECONDS] [extra libFuzzer flags…]
set -euo pipefail
cd "$(dirname "$0")"
t=$1 secs=${2:-600}
shift $(( $# < 2 ? $# : 2 ))
bin=${CARGO_TARGET_DIR:-target}/x86_64-unknown-linux-gnu/release/$t
[ -x "$bin" ] || { echo "no fuzz binary $bin: build it first (cargo +nightly fuzz build -s none -a $t)" >&2; exit 1; }
work=${FUZZ_WORK:-/tmp/isula-fuzz}/$t
mkdir -p "$work" "corpus/$t" "artifacts/$t"
cp -n corpus/"$t"/* "$work"/ 2>/dev/null || true
nice -n 10 "$bin" -max_total_time="$secs" -rss_limit_mb=1024 -timeout=10 -print_final_stats=1 \
  -artifact_prefix="artifacts/$t/" "$@" "$work" || true
# Minimise: the smallest set of inputs (up to MERGE_MAX_LEN bytes, default 4096) covering every
# edge the grown corpus covers (edges only, not hit counts: -use_counters=0 keeps the checked-in
# corpus small); it replaces the checked-in one.
min=$(mktemp -d)
nice -n 10 "$bin" -set_cover_merge=1 -use_counters=0 -max_len="${MERGE_MAX_LEN:-4096}" -rss_limit_mb=1024 -timeout=10 \
  "$min" "$work" >/dev/null 2>&1
if [ -z "$(ls -A "$min")" ]; then
  echo "the minimised corpus of $t is empty: corpus/$t left as it was" >&2
  rm -rf "$min"
  exit 1
fi
rm -f corpus/"$t"/*
cp "$min"/* corpus/"$t"/
rm -rf "$min"
echo "corpus/$t: $(ls corpus/"$t" | wc -l) files, $(du -sk --apparent-size corpus/"$t" | cut -f1) KB"
