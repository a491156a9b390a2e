#!/usr/bin/env bash
# docs/guides/policy.md: asking the policy why a request is allowed or denied (/access/explain).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cw_start

step "setup"
# >>> setup
BASE=${BASE:-http://localhost:8080}      # where `npm start` serves
json() { node -p "const it = JSON.parse(require('fs').readFileSync(0, 'utf8')); $1"; }   # read a field of the JSON on stdin
HIS=$(npx chartwarden token --sub his-gateway --role his-system)
AUDITOR=$(npx chartwarden token --sub auditor-zhao --role auditor)
# A patient admitted to cardiology under Dr Wang.
PATIENT=$(curl -sf -X POST "$BASE/fhir/Patient" -H "Authorization: Bearer $HIS" -H 'Content-Type: application/fhir+json' \
  -d '{"resourceType":"Patient","name":[{"family":"张","given":["三"]}]}' | json it.id)
curl -sf -X POST "$BASE/fhir/Encounter" -H "Authorization: Bearer $HIS" -H 'Content-Type: application/fhir+json' \
  -d '{"resourceType":"Encounter","status":"in-progress","class":{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"IMP"},
       "subject":{"reference":"Patient/'"$PATIENT"'"},"serviceProvider":{"reference":"Organization/cardiology"},
       "participant":[{"individual":{"reference":"Practitioner/dr-wang"}}]}' -o /dev/null
# <<< setup

step "explain"
# >>> explain
# Why may Dr Wang (attending, cardiology) read the patient? Which rule, and in words.
curl -sf -G "$BASE/access/explain" -H "Authorization: Bearer $AUDITOR" --data-urlencode actor=dr-wang --data-urlencode roles=attending \
  --data-urlencode dept=cardiology --data-urlencode action=read --data-urlencode "resource=Patient/$PATIENT" | json 'it.decidedBy + "\n" + it.explanation'
# And Dr Li of neurology, who is not on the care team?
curl -sf -G "$BASE/access/explain" -H "Authorization: Bearer $AUDITOR" --data-urlencode actor=dr-li --data-urlencode roles=attending \
  --data-urlencode dept=neurology --data-urlencode action=read --data-urlencode "resource=Patient/$PATIENT" | json 'it.allowed + "\n" + it.explanation'
# <<< explain
expect "$(curl -sf -G "$BASE/access/explain" -H "Authorization: Bearer $AUDITOR" --data-urlencode actor=dr-wang --data-urlencode roles=attending \
  --data-urlencode dept=cardiology --data-urlencode action=read --data-urlencode "resource=Patient/$PATIENT" | json it.allowed)" true "Dr Wang"
expect "$(curl -sf -G "$BASE/access/explain" -H "Authorization: Bearer $AUDITOR" --data-urlencode actor=dr-li --data-urlencode roles=attending \
  --data-urlencode dept=neurology --data-urlencode action=read --data-urlencode "resource=Patient/$PATIENT" | json it.allowed)" false "Dr Li"
step "ok"
