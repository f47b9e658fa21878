#!/usr/bin/env bash
# Regenerates .sqlx/: the query data that lets `sqlx::query!` and friends build with no database.
#
# Run it after changing a query or a migration, then commit .sqlx/ with the change. It starts a
# throwaway private Postgres (Unix socket only, under a temporary folder), applies migrations/,
# rebuilds the crates that hold queries with SQLX_OFFLINE=false and SQLX_OFFLINE_DIR set (sqlx's
# macros then describe every query against that server and write one query-<hash>.json each),
# replaces .sqlx/ with what they wrote, so data of deleted queries goes too, and stops the server.
# Needs the PostgreSQL server programs (scripts/setup.sh installs them); no sqlx-cli.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD

pg_bin=${GREENLIGHT_PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)}
if [ -z "$pg_bin" ] || [ ! -x "$pg_bin/initdb" ]; then
  pg_bin=$(dirname "$(command -v initdb || echo /missing/initdb)")
fi
[ -x "$pg_bin/initdb" ] || {
  echo "initdb not found: install postgresql or set GREENLIGHT_PG_BIN" >&2
  exit 1
}

work=$(mktemp -d /tmp/greenlight-sqlx.XXXXXX)
pg=$work/pg
mkdir -p "$pg/sock" "$work/queries"
# Postgres refuses to run as root; then the server runs as the `postgres` account.
as_db() { "$@"; }
if [ "$(id -u)" = 0 ]; then
  chmod 755 "$work"
  chown -R postgres:postgres "$pg"
  as_db() { runuser -u postgres -- "$@"; }
fi

stop() {
  if [ -f "$pg/data/postmaster.pid" ]; then
    as_db "$pg_bin/pg_ctl" -D "$pg/data" -m fast -w stop >/dev/null || true
  fi
  rm -rf "$work"
}
trap stop EXIT

echo "==> throwaway Postgres in $pg"
as_db "$pg_bin/initdb" -D "$pg/data" -U postgres -A trust -E UTF8 --locale=C \
  --no-sync --no-instructions >/dev/null
as_db "$pg_bin/pg_ctl" -D "$pg/data" -l "$pg/server.log" -w \
  -o "-k $pg/sock -c listen_addresses='' -c fsync=off" start >/dev/null
psql=("$pg_bin/psql" -X -q -v ON_ERROR_STOP=1 -h "$pg/sock" -U postgres)
"${psql[@]}" -d postgres -c "create database greenlight"

echo "==> applying migrations/"
for migration in migrations/*.sql; do
  # One transaction each, as sqlx's migrator applies them.
  "${psql[@]}" -d greenlight -1 -f "$migration"
done

echo "==> describing every query (building the backend and its tests with SQLX_OFFLINE=false)"
# A crate is compiled, and its macros run, only when it changed: touch every file that holds a
# query macro so each one is described again. Building what `cargo test` builds reuses the
# artifacts a developer already has, and the tests need these anyway.
grep -rlE 'sqlx::query(_as|_scalar)?(_unchecked)?!' --include='*.rs' backend shared \
  | xargs -r touch
SQLX_OFFLINE=false \
  SQLX_OFFLINE_DIR=$work/queries \
  DATABASE_URL="postgres:///greenlight?host=$pg/sock&user=postgres" \
  cargo test -p backend --no-run --quiet

count=$(find "$work/queries" -name 'query-*.json' | wc -l)
if [ "$count" = 0 ]; then
  echo "no query data was written; is SQLX_OFFLINE_DIR honoured by this sqlx version?" >&2
  exit 1
fi
rm -rf "$repo/.sqlx"
mkdir "$repo/.sqlx"
cp "$work"/queries/query-*.json "$repo/.sqlx/"
echo "==> .sqlx/ now holds $count queries; commit it with the change"
