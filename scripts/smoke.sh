#!/usr/bin/env bash
# Smoke run of the README quick start, as a newcomer would do it: `npm start` with no
# DATABASE_URL (embedded PostgreSQL) on a fresh data dir, a token from the CLI, a create and
# a read over HTTP, a clean stop on SIGTERM, and a restart that still has the data; then the
# demo line (`npx chartwarden demo seed && npm start`) and the console on a fresh data dir.
# Prints one line per step; exits non-zero at the first failure.
set -uo pipefail
cd "$(dirname "$0")/.."

DATA_DIR=$(mktemp -d /tmp/chartwarden-smoke-XXXXXX)
chmod 755 "$DATA_DIR" # mktemp makes it 700; PostgreSQL runs as "postgres" when we are root
PORT=${SMOKE_PORT:-$(node -e "const s=require('net').createServer();s.listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")}
LOG="$DATA_DIR/server.log"
BASE="http://127.0.0.1:$PORT/fhir"
PID=""

fail() { echo "smoke: FAIL: $*"; [ -f "$LOG" ] && tail -n 30 "$LOG"; cleanup; exit 1; }
cleanup() {
  if [ -n "$PID" ] && kill -0 "$PID" 2>/dev/null; then kill -TERM -- "-$PID" 2>/dev/null; sleep 2; kill -KILL -- "-$PID" 2>/dev/null; fi
  rm -rf "$DATA_DIR"
}
trap cleanup INT TERM

start_server() {
  # setsid: npm start and the node server it runs share a process group we can signal.
  env -u DATABASE_URL PORT="$PORT" CHARTWARDEN_DATA_DIR="$DATA_DIR" setsid npm start >>"$LOG" 2>&1 &
  PID=$!
  local t0=$(date +%s%N)
  for _ in $(seq 1 600); do
    if curl -sf "$BASE/metadata" >/dev/null 2>&1; then
      echo "smoke: ok   server up in $(( ($(date +%s%N) - t0) / 1000000 )) ms (npm start, embedded PostgreSQL)"
      return 0
    fi
    kill -0 "$PID" 2>/dev/null || fail "npm start exited before serving"
    sleep 0.1
  done
  fail "server did not answer $BASE/metadata within 60 s"
}

stop_server() {
  # SIGTERM to npm only, as the README says (`kill -TERM <pid of npm start>`), not to its process group.
  local t0=$(date +%s%N)
  kill -TERM "$PID" 2>/dev/null
  # Wait for the whole process group (npm, node, PostgreSQL) to be gone, not just npm.
  for _ in $(seq 1 50); do
    kill -0 -- "-$PID" 2>/dev/null || break
    sleep 0.1
  done
  kill -0 -- "-$PID" 2>/dev/null && fail "npm, node or PostgreSQL still running 5 s after SIGTERM to npm: $(ps -o pid,cmd -g "$PID" | tail -n +2)"
  grep -q "Stopped cleanly" "$LOG" || fail "no 'Stopped cleanly' in the log after SIGTERM"
  echo "smoke: ok   SIGTERM to npm stopped node and embedded PostgreSQL in $(( ($(date +%s%N) - t0) / 1000000 )) ms"
  PID=""
}

start_server
TOKEN=$(CHARTWARDEN_DATA_DIR="$DATA_DIR" npx --no-install chartwarden token --sub smoke-his --role his-system) || fail "chartwarden token failed"
DOCTOR=$(CHARTWARDEN_DATA_DIR="$DATA_DIR" npx --no-install chartwarden token --sub smoke-dr --role attending --dept cardio --licence licensed) || fail "chartwarden token failed"
[ "$(printf '%s' "$TOKEN" | tr -cd '.' | wc -c)" = "2" ] || fail "token output is not a single JWT: $TOKEN"
echo "smoke: ok   npx chartwarden token printed a JWT"

code=$(curl -s -o /dev/null -w '%{http_code}' "$BASE/Patient")
[ "$code" = "401" ] || fail "a request without a token got $code, expected 401"
echo "smoke: ok   no token -> 401"

created=$(curl -s -w '\n%{http_code}' -X POST "$BASE/Patient" -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/fhir+json' \
  -d '{"resourceType":"Patient","name":[{"family":"Smoke","given":["Test"]}],"gender":"unknown"}')
[ "$(echo "$created" | tail -n1)" = "201" ] || fail "create: $created"
ID=$(echo "$created" | head -n1 | node -e "let s='';process.stdin.on('data',d=>s+=d).on('end',()=>console.log(JSON.parse(s).id))")
echo "smoke: ok   create Patient -> 201 ($ID)"

read=$(curl -s -w '\n%{http_code}' "$BASE/Patient/$ID" -H "Authorization: Bearer $TOKEN")
[ "$(echo "$read" | tail -n1)" = "200" ] && echo "$read" | head -n1 | grep -Eq '"family": ?"Smoke"' || fail "read: $read"
echo "smoke: ok   read Patient -> 200"

code=$(curl -s -o /dev/null -w '%{http_code}' "$BASE/Patient/$ID" -H "Authorization: Bearer $DOCTOR")
[ "$code" = "403" ] || fail "an attending with no care relationship read the patient: $code, expected 403 (default policy)"
echo "smoke: ok   default policy: attending outside the care relationship -> 403"

stop_server
start_server
read=$(curl -s -w '\n%{http_code}' "$BASE/Patient/$ID" -H "Authorization: Bearer $TOKEN")
[ "$(echo "$read" | tail -n1)" = "200" ] || fail "read after restart: $read"
echo "smoke: ok   restart kept the data (same token still accepted)"
stop_server

# The README's demo line on a fresh data dir: `npx chartwarden demo seed && npm start`, then the console.
rm -rf "$DATA_DIR"; mkdir -p "$DATA_DIR"; chmod 755 "$DATA_DIR"
t0=$(date +%s%N)
seeded=$(env -u DATABASE_URL CHARTWARDEN_DATA_DIR="$DATA_DIR" npx --no-install chartwarden demo seed 2>>"$LOG") || fail "demo seed: $seeded"
echo "$seeded" | grep -q "is ready in" || fail "demo seed printed no summary: $seeded"
echo "smoke: ok   npx chartwarden demo seed in $(( ($(date +%s%N) - t0) / 1000000 )) ms"
again=$(env -u DATABASE_URL CHARTWARDEN_DATA_DIR="$DATA_DIR" npx --no-install chartwarden demo seed 2>>"$LOG") || fail "a second demo seed failed: $again"
echo "$again" | grep -q "already seeded" || fail "a second demo seed did not say it was seeded already: $again"
echo "smoke: ok   a second demo seed changes nothing and succeeds"
start_server
ROOT="http://127.0.0.1:$PORT"
[ "$(curl -s -o /dev/null -w '%{redirect_url}' "$ROOT/")" = "$ROOT/console/" ] || fail "GET / does not send the browser to /console/"
curl -sf "$ROOT/console/" | grep -q '<div id="root">' || fail "GET /console/ did not serve the console's page"
CLERK=$(curl -sf -X POST "$ROOT/console/api/demo-users/clerk-liu/token" | node -e "let s='';process.stdin.on('data',d=>s+=d).on('end',()=>console.log(JSON.parse(s).token))") || fail "the dev sign-in did not sign for clerk-liu"
requests=$(curl -sf "$ROOT/copy-requests" -H "Authorization: Bearer $CLERK" | node -e "let s='';process.stdin.on('data',d=>s+=d).on('end',()=>{const b=JSON.parse(s);console.log((Array.isArray(b)?b:b.items??b.entry??[]).length)})")
[ "${requests:-0}" -ge 8 ] || fail "the demo clerk sees ${requests:-no} copy requests, expected one in each of the 8 statuses"
echo "smoke: ok   /console served; the demo clerk signs in and sees $requests copy requests"
# The workflow API's page and document (Swagger UI: on Fastify its files come through @fastify/static, which only a real node loads).
curl -sf "$ROOT/docs" | grep -q 'swagger-ui' || fail "GET /docs did not serve the Swagger UI page"
curl -sf "$ROOT/docs/swagger-ui.css" -o /dev/null || fail "GET /docs/swagger-ui.css did not serve the page's styles"
curl -sf "$ROOT/docs-json" | grep -q '"/copy-requests"' || fail "GET /docs-json did not list the workflow API"
echo "smoke: ok   /docs (Swagger UI, its files) and /docs-json"
stop_server

rm -rf "$DATA_DIR"
echo "smoke: passed"
