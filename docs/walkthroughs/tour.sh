#!/usr/bin/env bash
# The README's two-minute tour: a token, a patient created and read, and the audit entry of the read.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cw_start

step "tokens"
# >>> tokens
BASE=${BASE:-http://localhost:8080}      # where `npm start` serves
# `npx chartwarden token` signs with the key in ./.data of the directory it runs in (where you ran
# `npm start`); set CHARTWARDEN_DATA_DIR if the server uses another data dir.
HIS=$(npx chartwarden token --sub his-gateway --role his-system)
AUDITOR=$(npx chartwarden token --sub auditor-zhao --role auditor)
# <<< tokens
expect "$(printf '%s' "$HIS" | tr -cd '.' | wc -c | tr -d ' ')" 2 "the token is a JWT"

step "create a patient"
# >>> create-patient
PATIENT=$(curl -sf -X POST "$BASE/fhir/Patient" -H "Authorization: Bearer $HIS" -H 'Content-Type: application/fhir+json' \
  -d '{"resourceType":"Patient","name":[{"family":"张","given":["三"]}],"gender":"male","birthDate":"1980-02-03"}' \
  | node -p 'JSON.parse(require("fs").readFileSync(0)).id')
echo "Patient/$PATIENT"
# <<< create-patient
[ -n "$PATIENT" ] || fail "no id"

step "read it"
# >>> read-patient
curl -s -i "$BASE/fhir/Patient/$PATIENT" -H "Authorization: Bearer $HIS" -o read.txt
head -n 1 read.txt                                             # HTTP/1.1 200 OK
REQUEST_ID=$(grep -i '^x-request-id:' read.txt | tr -d '\r' | cut -d' ' -f2)
echo "X-Request-Id: $REQUEST_ID"
# <<< read-patient
expect_contains "$(head -n 1 read.txt)" " 200" "status line"
expect "$(tail -n 1 read.txt | node -p 'JSON.parse(require("fs").readFileSync(0)).name[0].family')" "张" "the family name read back"
rm -f read.txt

step "see the audit entry"
# >>> audit-entry
curl -sf "$BASE/fhir/AuditEvent?patient=Patient/$PATIENT&subtype=read" -H "Authorization: Bearer $AUDITOR" \
  | node -p 'const b = JSON.parse(require("fs").readFileSync(0)); b.entry.map(e => [e.resource.recorded,
      e.resource.agent[0].who.identifier.value, e.resource.subtype[0].code, e.resource.outcome].join(" ")).join("\n")'
# <<< audit-entry
TRAIL=$(curl -sf "$BASE/fhir/AuditEvent?patient=Patient/$PATIENT&subtype=read" -H "Authorization: Bearer $AUDITOR")
expect "$(node -p 'JSON.parse(process.argv[1]).entry.length' "$TRAIL")" 1 "read entries for the patient"
expect_contains "$TRAIL" "his-gateway" "the audit entry"
step "ok"
