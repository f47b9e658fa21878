#!/usr/bin/env bash
# Installs what `make run` (mode "run"), `make test` (mode "test") or `make bench` (mode "bench") needs on a fresh
# Debian/Ubuntu machine that has a Rust toolchain. Only registries are used: Debian packages,
# crates.io and npm. Nothing downloads a prebuilt browser or binary of its own.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-run}

missing=()
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null || missing+=(postgresql)
command -v npm >/dev/null || missing+=(nodejs npm)
command -v gzip >/dev/null || missing+=(gzip)
command -v brotli >/dev/null || missing+=(brotli)   # the console's .br files (scripts/build-ui.sh)
command -v python3 >/dev/null || missing+=(python3)   # the local workspace's model instances
# Environments with conda packages run in virtual environments (python3 -m venv needs ensurepip).
PATH=/usr/local/bin:/usr/bin:/bin python3 -c 'import ensurepip, venv' 2>/dev/null || missing+=(python3-venv)
if [ "$mode" = test ]; then
  [ -x /usr/bin/chromium ] || missing+=(chromium)
  command -v curl >/dev/null || missing+=(curl)   # scripts/fuzz.sh signs in with it
fi
if [ "$mode" = bench ]; then
  # The data-plane benchmark puts nginx (split_clients) beside the scoring router, both loaded by wrk.
  command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || missing+=(nginx)
  command -v wrk >/dev/null || missing+=(wrk)
fi
if ((${#missing[@]})); then
  if [ "$(id -u)" = 0 ]; then
    echo "==> installing ${missing[*]} (apt-get)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "Greenlight needs these system packages. Install them with:" >&2
    echo "  sudo apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
fi

# The benchmarks build no console: the system packages above are all they need.
[ "$mode" = bench ] && exit 0

rustup target list --installed | grep -qx wasm32-unknown-unknown \
  || rustup target add wasm32-unknown-unknown

# wasm-bindgen-cli must match the wasm-bindgen library version in Cargo.lock exactly.
want=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)
have=$(wasm-bindgen --version 2>/dev/null | awk '{ print $2 }' || true)
if [ "$have" != "$want" ]; then
  echo "==> cargo install wasm-bindgen-cli $want (a few minutes, once)"
  # Not --locked: its lock file pins a crate version the registry no longer serves.
  cargo install wasm-bindgen-cli --version "$want"
fi

# wasm-split moves the lazy routes' code out of the main wasm (scripts/build-ui.sh). Its section
# format is versioned with the wasm_split_helpers crate that Leptos links in; 0.2.4 reads it.
split_cli=0.2.4
if ! cargo install --list | grep -qx "wasm_split_cli_support v$split_cli:"; then
  echo "==> cargo install wasm_split_cli_support $split_cli (a minute, once)"
  cargo install --locked wasm_split_cli_support --version "$split_cli" --features build-binary
fi

# npm ci only when the lock file changed since the last install.
npm_ci() {
  if [ ! -f "$1/node_modules/.package-lock.json" ] || [ "$1/package-lock.json" -nt "$1/node_modules/.package-lock.json" ]; then
    echo "==> npm ci in $1"
    (cd "$1" && npm ci --no-audit --no-fund --loglevel=error)
  fi
}
npm_ci tools   # wasm-opt from binaryen (Debian's binaryen 108 emits wasm Chromium rejects)
if [ "$mode" = test ]; then
  npm_ci e2e   # Playwright's test runner; the browser is Debian's /usr/bin/chromium
fi

# Python venvs kept outside the clone, each made again only when its requirements file changes:
# the azure-ai-ml SDK for examples/sdk (the article's notebook against the local workspace), and
# schemathesis for scripts/fuzz.sh (the API fuzzed from its OpenAPI document).
venv() {
  local name=$1 requirements=$2 what=$3
  local py_cache=${GREENLIGHT_PY_CACHE:-/var/tmp/greenlight-py}
  local stamp
  stamp=$(sha256sum "$requirements" | cut -c1-16)
  if [ "$(cat "$py_cache/$name/.requirements" 2>/dev/null)" != "$stamp" ]; then
    echo "==> $name venv in $py_cache/$name ($what; about a minute, once)"
    rm -rf "${py_cache:?}/$name"
    mkdir -p "$py_cache"
    python3 -m venv "$py_cache/$name"
    "$py_cache/$name/bin/pip" install --quiet --disable-pip-version-check -r "$requirements"
    echo "$stamp" > "$py_cache/$name/.requirements"
  fi
}
if [ "$mode" = test ]; then
  venv sdk examples/sdk/requirements.txt azure-ai-ml
  venv fuzz scripts/fuzz-requirements.txt schemathesis
fi
