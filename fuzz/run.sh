#!/usr/bin/env bash
# Runs every fuzz target for a bounded time (default 60 s each).
#   fuzz/run.sh [SECONDS]
# Needs cargo-fuzz (`cargo install cargo-fuzz`). This toolchain is stable, so
# RUSTC_BOOTSTRAP lets cargo-fuzz use its nightly flags; no sanitizer is used.
set -euo pipefail
cd "$(dirname "$0")"
SECONDS_EACH=${1:-60}
export RUSTC_BOOTSTRAP=1
mkdir -p corpus/wire_record corpus/import corpus/push_batch
cp -n seeds/import/* corpus/import/ 2>/dev/null || true
cp -n seeds/push_batch/* corpus/push_batch/ 2>/dev/null || true
for target in wire_record import push_batch; do
  echo "==> fuzzing $target for ${SECONDS_EACH}s"
  cargo fuzz run --sanitizer none "$target" "corpus/$target" -- -max_total_time="$SECONDS_EACH" -max_len=65536 2>&1 \
    | grep -E '^(#[0-9]+.*(DONE|pulse)|==|SUMMARY|Done|artifact_prefix|Test unit written)' || true
  if ls "artifacts/$target"/crash-* >/dev/null 2>&1; then
    echo "!! $target found crashes: fuzz/artifacts/$target" >&2
    exit 1
  fi
done
echo "no crashes"
