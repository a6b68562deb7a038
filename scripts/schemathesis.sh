#!/usr/bin/env bash
# Schema-driven API fuzzing: boots a fresh deskd (plain HTTP, demo inventory, SQLite in a
# scratch dir) and runs schemathesis against its own /openapi.json, every operation, with the
# checks `not_a_server_error` (zero 5xx) and `response_schema_conformance` (every reply valid
# against its documented schema), for at most ST_MAX_SECS seconds (default 240).
# `revokeToken` is left out: it would end the run's own token. Needs the deskd binary built
# (DESKD_BIN, default target/debug/deskd) and schemathesis on PATH or in ST_VENV.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="${DESKD_BIN:-target/debug/deskd}"
ST="${ST_VENV:+$ST_VENV/bin/}schemathesis"
MAX="${ST_MAX_SECS:-240}"
dir="$(mktemp -d)"
cleanup() { [ -n "${pid:-}" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$dir"; }
trap cleanup EXIT
DESKD_ADMIN_PASSWORD='St-admin-2026' "$BIN" serve --http --listen 127.0.0.1:0 \
  --data-dir "$dir" --sim-latency-ms 0 >"$dir/out" 2>"$dir/log" &
pid=$!
for _ in $(seq 1 300); do
  base="$(sed -n 's/^deskd listening on //p' "$dir/out")"
  [ -n "$base" ] && break
  sleep 0.1
done
[ -n "$base" ] || { cat "$dir/log" >&2; echo "deskd did not start" >&2; exit 1; }
token="$(curl -sf -X POST "$base/v1/auth/token" -H 'content-type: application/json' \
  -d '{"content":{"user_name":"admin","password":"St-admin-2026"}}' |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["content"]["data"]["token"])')"
"$ST" run "$base/openapi.json" --url "$base" \
  -H "Authorization: Bearer $token" \
  --checks not_a_server_error,response_schema_conformance \
  --exclude-operation-id revokeToken \
  --max-time "$MAX" --max-examples "${ST_EXAMPLES:-25}" --seed "${ST_SEED:-19}" --no-color
if ! kill -0 "$pid" 2>/dev/null; then
  echo "deskd exited during the run" >&2
  tail -n 50 "$dir/log" >&2
  exit 1
fi
