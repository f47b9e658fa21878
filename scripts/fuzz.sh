#!/usr/bin/env bash
# Fuzzes the whole API from its own OpenAPI document (/api/openapi.json) with schemathesis, as a
# signed-in admin: every generated request, valid or not, must be answered without a server
# error and with a status the document lists for that operation. scripts/test.sh runs it after
# `cargo test`; alone: `GREENLIGHT_BIN=target/debug/greenlight scripts/fuzz.sh`.
#
# The server is a real `greenlight serve` with its own private Postgres in a fresh state
# directory and the embedded local workspace, on a free port; it is stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

target_dir=${CARGO_TARGET_DIR:-target}
bin=${GREENLIGHT_BIN:-$target_dir/debug/greenlight}
st=${GREENLIGHT_PY_CACHE:-/var/tmp/greenlight-py}/fuzz/bin/st
# Sized for a 2-core machine: a few minutes (see README, "Fuzzing"). One worker: a second one
# gains nothing here (the run waits on the server), and with two threads Python 3.11's `ast`
# can fail inside Hypothesis ("AST constructor recursion depth mismatch").
max_examples=${GREENLIGHT_FUZZ_EXAMPLES:-100}
workers=${GREENLIGHT_FUZZ_WORKERS:-1}
[ -x "$bin" ] || { echo "fuzz: no greenlight binary at $bin (set GREENLIGHT_BIN)" >&2; exit 1; }
[ -x "$st" ] || { echo "fuzz: no schemathesis at $st (run scripts/setup.sh test)" >&2; exit 1; }

# Short path under /tmp: the Postgres socket lives in the state directory.
state=$(mktemp -d /tmp/gl-fuzz-XXXXXX)
# When run as root, Postgres runs as an unprivileged account that must enter it.
chmod 755 "$state"
server=
stop() {
  if [ -n "$server" ]; then
    kill -TERM "$server" 2>/dev/null || true
    wait "$server" 2>/dev/null || true
  fi
  rm -rf "$state"
}
trap stop EXIT

password=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
# The admin the fuzzer signs in as, and the account whose password it resets (scripts/fuzz.toml).
for account in "fuzzer admin" "fuzzed-account viewer"; do
  read -r name role <<<"$account"
  printf '%s\n' "$password" \
    | "$bin" user add "$name" --role "$role" --password-stdin --state-dir "$state" >/dev/null
done

"$bin" serve --listen 127.0.0.1:0 --state-dir "$state" --ui-dir "$state/no-ui" \
  >"$state/stdout" 2>"$state/server.log" &
server=$!
url=
for _ in $(seq 600); do
  url=$(sed -n 's/^Greenlight is ready at //p' "$state/stdout")
  [ -n "$url" ] && break
  kill -0 "$server" 2>/dev/null || { cat "$state/server.log" >&2; exit 1; }
  sleep 0.1
done
[ -n "$url" ] || { echo "fuzz: greenlight was not ready within 60 s" >&2; exit 1; }

# Signing in is the one write without a session; it still needs the CSRF header (any value).
session=$(curl -sS --fail-with-body -D "$state/headers" -X POST "$url/api/v1/session" \
  -H 'content-type: application/json' -H 'x-csrf-token: sign-in' \
  -d "{\"username\":\"fuzzer\",\"password\":\"$password\"}")
cookie=$(sed -n 's/^set-cookie: \(greenlight_session=[^;]*\).*/\1/ip' "$state/headers")
csrf=$(printf '%s' "$session" | sed -n 's/.*"csrf_token":"\([^"]*\)".*/\1/p')
[ -n "$cookie" ] && [ -n "$csrf" ] || { echo "fuzz: sign-in failed: $session" >&2; exit 1; }

# One endpoint that exists, so the endpoint-scoped operations get past the 404 into their
# handlers (scripts/fuzz.toml points them at it).
seeded=fuzz-seeded
operation=$(curl -sS --fail-with-body -X POST "$url/api/v1/endpoints" -H "Cookie: $cookie" \
  -H "x-csrf-token: $csrf" -H 'content-type: application/json' -d "{\"name\":\"$seeded\"}")
operation_id=$(printf '%s' "$operation" | sed -n 's/.*"id":"\([^"]*\)".*/\1/p' | head -1)
[ -n "$operation_id" ] || { echo "fuzz: creating $seeded failed: $operation" >&2; exit 1; }
for _ in $(seq 600); do
  state_now=$(curl -sS -H "Cookie: $cookie" "$url/api/v1/operations/$operation_id" \
    | sed -n 's/.*"status":"\([a-z]*\)".*/\1/p')
  [ "$state_now" != running ] && break
  sleep 0.1
done
[ "$state_now" = succeeded ] || { echo "fuzz: creating $seeded ended $state_now" >&2; exit 1; }

echo "==> schemathesis against $url (max $max_examples examples per operation, $workers workers)"
# Excluded: DELETE /api/v1/session, signing out, would end the session every later request
# rides on (and the fuzzer cannot sign in again). Nothing else is excluded; scripts/fuzz.toml
# points the password reset at another account and cuts the endless event stream short.
status=0
# Run from the state directory: schemathesis keeps a cache in its working directory.
config=$PWD/scripts/fuzz.toml
(cd "$state" && "$st" --config-file "$config" run "$url/api/openapi.json" \
  -H "Cookie: $cookie" -H "x-csrf-token: $csrf" \
  --checks not_a_server_error,status_code_conformance \
  --exclude-operation-id sign_out \
  --max-examples "$max_examples" --workers "$workers" \
  --request-timeout 10 --generation-database none --no-color --seed "${GREENLIGHT_FUZZ_SEED:-1}") || status=$?
# Had the session ended during the run, every later request would only have met a 401: the run
# would pass while testing nothing behind sign-in.
alive=$(curl -sS -o /dev/null -w '%{http_code}' -H "Cookie: $cookie" "$url/api/v1/session")
if [ "$alive" != 200 ]; then
  echo "fuzz: the fuzzer's session ended during the run (GET /api/v1/session answered $alive)" >&2
  status=1
fi
if [ "$status" != 0 ]; then
  echo "fuzz: failed; the server's log:" >&2
  grep -E '"level":"(ERROR|WARN)"|ERROR|WARN' "$state/server.log" | tail -40 >&2 || true
fi
exit "$status"
