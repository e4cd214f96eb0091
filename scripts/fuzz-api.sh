#!/usr/bin/env bash
# Fuzzes the API from its own OpenAPI document with Schemathesis, on a fresh SQLite database
# and then on a fresh PostgreSQL one: every answer must be free of server errors and use a
# status, a content type and a body shape the document declares. Exits non-zero on any failure.
#
# Environment: PG_HOST / PG_ADMIN_URL (as in .ci/run), FUZZ_PYTHON (a Python 3.12: 3.11's
# re module trips over Schemathesis's coverage phase), FUZZ_MAX_EXAMPLES (per operation and
# phase, default 40), FUZZ_SEED (to replay a run), FUZZ_BACKENDS (default "sqlite postgres").
set -euo pipefail
cd "$(dirname "$0")/.."

SCHEMATHESIS_VERSION=4.32.5
PYTHON=${FUZZ_PYTHON:-/root/.pyenv/versions/3.12.1/bin/python3}
PG_HOST=${PG_HOST:-127.0.0.1}
PG_ADMIN_URL=${PG_ADMIN_URL:-postgres://postgres@${PG_HOST}:5432/postgres}
MAX_EXAMPLES=${FUZZ_MAX_EXAMPLES:-40}
BACKENDS=${FUZZ_BACKENDS:-sqlite postgres}

work="$PWD/target/fuzz"
venv="$PWD/target/fuzz-venv"
bin="$PWD/target/debug/flowpilot"
mkdir -p "$work"

if ! "$venv/bin/st" --version 2>/dev/null | grep -qF "$SCHEMATHESIS_VERSION"; then
  echo "installing Schemathesis $SCHEMATHESIS_VERSION into $venv"
  rm -rf "$venv"
  "$PYTHON" -m venv "$venv"
  "$venv/bin/pip" install --quiet "schemathesis==$SCHEMATHESIS_VERSION"
fi

# Debug, like the test suite before it in CI: it reuses that build instead of a release one.
cargo build --quiet -p flowpilot

server_pid=""
database=""
stop_server() {
  if [ -n "$server_pid" ]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    server_pid=""
  fi
}
cleanup() {
  stop_server
  if [ -n "$database" ]; then
    psql "$PG_ADMIN_URL" -qc "DROP DATABASE IF EXISTS $database WITH (FORCE)" >/dev/null || true
  fi
}
trap cleanup EXIT

free_port() {
  "$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Starts the server on database URL $1, logging to $2; sets $base.
start_server() {
  local port
  port=$(free_port)
  base="http://127.0.0.1:$port"
  # The offline engine (no provider, no quota) and no per-endpoint limits, so generated
  # requests reach the handlers instead of a 429; the login limit stays on regardless.
  env -u FLOWPILOT_CONFIG \
    FLOWPILOT_BIND="127.0.0.1:$port" FLOWPILOT_DATABASE_URL="$1" \
    FLOWPILOT_LLM_PROVIDER=offline FLOWPILOT_RATE_LIMITS=off RUST_LOG=warn \
    "$bin" serve >"$2" 2>&1 &
  server_pid=$!
  for _ in $(seq 1 100); do
    curl -fs "$base/readyz" >/dev/null 2>&1 && return 0
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.2
  done
  echo "the server did not become ready; its log:" >&2
  cat "$2" >&2
  return 1
}

# Signs up an account whose admin the fuzzer acts as; prints the bearer token.
register() {
  curl -fsS -X POST "$base/api/v1/auth/register" -H 'Content-Type: application/json' \
    -d '{"email": "fuzz@example.com", "password": "fuzz-password-1", "full_name": "Fuzz", "account_name": "Fuzz"}' \
    | "$PYTHON" -c 'import json, sys; print(json.load(sys.stdin)["access_token"])'
}

# Fuzzes the server at $base; $1 names the backend in messages and file names.
fuzz() {
  local name=$1 token status=0
  token=$(register)
  local seed=()
  [ -n "${FUZZ_SEED:-}" ] && seed=(--seed "$FUZZ_SEED")
  # Logout would revoke the token every other request uses; the API suite covers it.
  (cd "$work" && "$venv/bin/st" run "$base/api/openapi.json" \
    --header "Authorization: Bearer $token" \
    --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
    --exclude-path /api/v1/auth/logout \
    --phases examples,coverage,fuzzing,stateful \
    --max-examples "$MAX_EXAMPLES" "${seed[@]}" \
    --no-color --output-truncate false \
    --report junit --report-junit-path "$work/$name.xml") || status=$?
  if [ "$status" -ne 0 ]; then
    echo "--- $name: the server's log (last 50 lines) ---"
    tail -n 50 "$work/$name-server.log"
  fi
  return "$status"
}

failed=()
for backend in $BACKENDS; do
  printf '\n==> fuzzing on %s\n' "$backend"
  case "$backend" in
    sqlite)
      rm -rf "$work/sqlite" && mkdir -p "$work/sqlite"
      start_server "sqlite://$work/sqlite/flowpilot.db" "$work/sqlite-server.log"
      ;;
    postgres)
      database="fp_fuzz_$(date +%s)_$$"
      psql "$PG_ADMIN_URL" -v ON_ERROR_STOP=1 -qc "CREATE DATABASE $database"
      start_server "postgres://postgres@${PG_HOST}:5432/$database" "$work/postgres-server.log"
      ;;
    *)
      echo "unknown backend $backend" >&2
      exit 2
      ;;
  esac
  fuzz "$backend" || failed+=("$backend")
  stop_server
done

if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzzing failed on: ${failed[*]}" >&2
  exit 1
fi
echo "fuzzing passed on: $BACKENDS"
