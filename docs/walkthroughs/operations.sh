#!/usr/bin/env bash
# docs/guides/operations.md, command by command: probes, the trail and ledger verified, a signed
# checkpoint, a backup and its restore drill, a policy reload, the retention report.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cw_start

step "setup"
# >>> setup
BASE=${BASE:-http://localhost:8080}      # where `npm start` serves
# The CLI works on the server's data dir: ./.data where you ran `npm start`, or CHARTWARDEN_DATA_DIR
# (or DATABASE_URL when ChartWarden runs on your own PostgreSQL).
HIS=$(npx chartwarden token --sub his-gateway --role his-system)
curl -sf -X POST "$BASE/fhir/Patient" -H "Authorization: Bearer $HIS" -H 'Content-Type: application/fhir+json' \
  -d '{"resourceType":"Patient","name":[{"family":"张","given":["三"]}]}' -o /dev/null        # something to back up
# <<< setup

step "health"
# >>> health
curl -s -w ' HTTP %{http_code}\n' "$BASE/health/live"         # the process answers
curl -s -w ' HTTP %{http_code}\n' "$BASE/health/ready"        # database, audit writer and store; 503 names what is down
curl -s -o /dev/null -w 'metrics: HTTP %{http_code}\n' "$BASE/metrics"   # 404 until CHARTWARDEN_METRICS=on (or a metrics token)
# <<< health
expect "$(curl -s -o /dev/null -w '%{http_code}' "$BASE/health/ready")" 200 "ready"
expect "$(curl -s -o /dev/null -w '%{http_code}' "$BASE/health/live")" 200 "live"

step "audit verify and checkpoint"
# >>> audit-verify
npx chartwarden audit verify                                   # every chain recomputed; exit 1 names the first broken link
npx chartwarden audit checkpoint --out checkpoint.json         # signed chain heads: keep it where database admins cannot write
npx chartwarden audit verify --checkpoint checkpoint.json      # also proves nothing up to the checkpoint changed or vanished
# <<< audit-verify
expect_contains "$(cat checkpoint.json)" "signature" "the checkpoint"
rm -f checkpoint.json

step "ledger verify"
# >>> ledger-verify
npx chartwarden ledger verify                                  # every clinical document's edit ledger; prints the ledger root
# <<< ledger-verify

step "backup and restore drill"
# >>> backup
npx chartwarden backup --out cw.backup                         # cw.backup + cw.backup.manifest.json (row counts, chain heads, SHA-256)
npx chartwarden restore-drill --from cw.backup                 # restore into a scratch database, verify, report, drop it (R-50)
# <<< backup
[ -s cw.backup ] && [ -s cw.backup.manifest.json ] || fail "no backup or manifest"
rm -f cw.backup cw.backup.manifest.json

step "policy reload"
# >>> policy-reload
# After editing the policy file (CHARTWARDEN_POLICY, default policy/default.policy.yaml):
npx chartwarden policy reload                                  # validated and put in force on every instance, or refused
# <<< policy-reload

step "retention report"
# >>> retention
npx chartwarden retention report --as-of 2026-12-01             # patients whose records have reached their retention (R-18)
# <<< retention
step "ok"
