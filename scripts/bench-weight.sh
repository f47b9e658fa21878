#!/usr/bin/env bash
# The console's weight, as `make run` serves it: builds the bundle and the release server, then
# a Playwright benchmark (e2e/tests/weight.spec.ts, "bench:") starts `greenlight serve` on a fresh
# state directory, waits until it is idle, reads its resident memory (VmRSS), loads the console
# signed in in Chromium with an empty cache and prints the bytes transferred and the first
# contentful paint.
set -euo pipefail
cd "$(dirname "$0")/.."
target_dir=${CARGO_TARGET_DIR:-target}
scripts/setup.sh test   # Chromium and Playwright, as for the browser tests
scripts/build-ui.sh
cargo build --release -p backend
cd e2e
GREENLIGHT_BENCH=1 GREENLIGHT_BIN="$(cd .. && realpath "$target_dir")/release/greenlight" \
  GREENLIGHT_UI_DIR="$PWD/../frontend/dist" \
  npx playwright test tests/weight.spec.ts --grep 'bench:' --reporter=list
