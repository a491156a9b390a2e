#!/usr/bin/env bash
# Shared by the walkthroughs (sourced, not run). Each walkthrough gets a fresh data dir and its own
# server (`node dist/src/main.js`, embedded PostgreSQL, a free port), or the server a runner gives it:
#   CW_BASE=http://127.0.0.1:8080 CHARTWARDEN_DATA_DIR=/path/of/its/data/dir bash docs/walkthroughs/<name>.sh
# Every step is named (`step`); a failing command or check stops the script naming the step.
set -Eeuo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
WALKTHROUGH=$(basename "$0" .sh)
STEP=start
CW_PID=""
CW_OWN_DATA=""
# A newcomer's setting: embedded PostgreSQL in the data dir. A DATABASE_URL in the environment (CI
# exports one for its tests) would point the CLI at another database than the server's.
unset DATABASE_URL

# `npx chartwarden …` as the guides write it, run without npx's 1–2 s start-up per call (the runner must
# finish in about two minutes; scripts/smoke.sh runs the real `npx chartwarden`). WALKTHROUGH_REAL_NPX=1: real npx.
if [ -z "${WALKTHROUGH_REAL_NPX:-}" ]; then
  npx() { if [ "${1:-}" = chartwarden ]; then shift; node bin/chartwarden.js "$@"; else command npx "$@"; fi; }
fi

step() { STEP="$1"; [ -n "${WALKTHROUGH_QUIET:-}" ] || echo "$WALKTHROUGH: $1"; }
fail() {
  echo "$WALKTHROUGH: FAILED at step \"$STEP\": $*" >&2
  if [ -n "$CW_OWN_DATA" ] && [ -f "$CW_OWN_DATA/server.log" ]; then tail -n 20 "$CW_OWN_DATA/server.log" >&2; fi
  exit 1
}
trap 'fail "line $LINENO: $BASH_COMMAND (exit $?)"' ERR
# expect ACTUAL EXPECTED [what]: fail loudly unless equal.
expect() { [ "$1" = "$2" ] || fail "${3:-value}: got '$1', expected '$2'"; }
# expect_contains TEXT NEEDLE [what]
expect_contains() { case "$1" in *"$2"*) ;; *) fail "${3:-output} does not contain '$2': ${1:0:400}" ;; esac; }

cw_stop() {
  if [ -n "$CW_PID" ] && kill -0 "$CW_PID" 2>/dev/null; then
    kill -TERM "$CW_PID" 2>/dev/null || true
    for _ in $(seq 1 150); do kill -0 "$CW_PID" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$CW_PID" 2>/dev/null && kill -KILL "$CW_PID" 2>/dev/null || true
  fi
  CW_PID=""
}
cw_cleanup() {
  local code=$?
  cw_stop
  [ -n "$CW_OWN_DATA" ] && rm -rf "$CW_OWN_DATA"
  exit $code
}

# cw_start: use the runner's server, or start one on a fresh data dir and a free port.
cw_start() {
  if [ -n "${CW_BASE:-}" ]; then
    [ -n "${CHARTWARDEN_DATA_DIR:-}" ] || fail "CW_BASE needs CHARTWARDEN_DATA_DIR (the server's data dir, for tokens)"
    export CHARTWARDEN_DATA_DIR
    BASE="$CW_BASE"
    return 0
  fi
  [ -f dist/src/main.js ] || fail "dist/src/main.js is missing: build first (npx tsc -p tsconfig.build.json)"
  CW_OWN_DATA=$(mktemp -d /tmp/chartwarden-walkthrough-XXXXXX)
  chmod 755 "$CW_OWN_DATA" # PostgreSQL runs as "postgres" when we are root
  export CHARTWARDEN_DATA_DIR="$CW_OWN_DATA/data"
  trap cw_cleanup EXIT
  trap 'exit 130' INT TERM
  local port
  port=$(node -e "const s=require('net').createServer();s.listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")
  env -u DATABASE_URL PORT="$port" LOG_LEVEL=warn ${CW_SERVER_ENV:-} node dist/src/main.js >"$CW_OWN_DATA/server.log" 2>&1 &
  CW_PID=$!
  BASE="http://127.0.0.1:$port"
  for _ in $(seq 1 600); do
    if curl -sf "$BASE/health/ready" >/dev/null 2>&1; then return 0; fi
    kill -0 "$CW_PID" 2>/dev/null || fail "the server exited before it served"
    sleep 0.1
  done
  fail "the server did not get ready within 60 s"
}
