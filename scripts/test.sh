#!/usr/bin/env bash
# Every check Greenlight has, in the order that fails fastest. `make test` and CI run this.
set -euo pipefail
cd "$(dirname "$0")/.."
target_dir=${CARGO_TARGET_DIR:-target}

scripts/setup.sh test

echo "==> cargo fmt --check"
cargo fmt --all --check
echo "==> cargo clippy"
cargo clippy --workspace --all-targets -- -D warnings
echo "==> Python: the instance harness and the demo models"
python3 -m unittest discover -s examples/tests
echo "==> cargo test (unit + integration against a private Postgres)"
# The frontend has no host-side tests; Playwright tests it in Chromium below.
cargo test --workspace --exclude frontend
# `cargo test` above built the binary the SDK and browser tests drive (integration tests need it).
case $target_dir in /*) ;; *) target_dir=$PWD/$target_dir ;; esac
export GREENLIGHT_BIN="$target_dir/debug/greenlight"
echo "==> API fuzz: schemathesis from /api/openapi.json as a signed-in admin (no 5xx, every status documented)"
scripts/fuzz.sh
echo "==> Python: the article's notebook (azure-ai-ml, local paths) against greenlight emulator --tls"
"${GREENLIGHT_PY_CACHE:-/var/tmp/greenlight-py}/sdk/bin/python" -m unittest discover -s examples/sdk
echo "==> UI release build"
scripts/build-ui.sh
echo "==> Playwright (Chromium from /usr/bin/chromium)"
export GREENLIGHT_UI_DIR="$PWD/frontend/dist"
(cd e2e && npx playwright test)
