#!/usr/bin/env bash
# docs/guides/disputes-office.md (and .zh-CN.md), command by command: open a case (封存), show the
# inventory, the hospital side's witness confirms, seal with the patient side present, writes refused
# (423), a supplement, seal verify, unseal with both sides (启封); a second case unsealed by the
# hospital alone with medical affairs' approval.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cw_start

step "setup"
# >>> setup
BASE=${BASE:-http://localhost:8080}      # where `npm start` serves
json() { node -p "const it = JSON.parse(require('fs').readFileSync(0, 'utf8')); $1"; }   # read a field of the JSON on stdin
# Tokens, signed with the dev key in ./.data (run these where you ran `npm start`, or set CHARTWARDEN_DATA_DIR).
HIS=$(npx chartwarden token --sub his-gateway --role his-system)
DR=$(npx chartwarden token --sub dr-wang --role attending --dept cardiology --licence licensed)
OFFICER=$(npx chartwarden token --sub officer-zhou --role disputes-officer)   # 医患办: opens, seals, unseals
MA=$(npx chartwarden token --sub ma-chen --role medical-affairs)              # 医务处: the hospital side's witness, approves
# <<< setup

step "the record under dispute"
# >>> record
# What the HIS has stored: a discharged inpatient with a signed discharge record, a lab result, and
# Dr Wang's progress note, still a draft.
fhir() { curl -sf -X POST "$BASE/fhir/$1" -H "Authorization: Bearer ${3:-$HIS}" -H 'Content-Type: application/fhir+json' -d "$2" | json it.id; }
record() {
  PATIENT=$(fhir Patient '{"resourceType":"Patient","name":[{"text":"王小明","family":"王","given":["小明"]}]}')
  ENCOUNTER=$(fhir Encounter '{"resourceType":"Encounter","status":"finished","subject":{"reference":"Patient/'"$PATIENT"'"},
    "class":{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"IMP"},"serviceProvider":{"reference":"Organization/cardiology"},
    "period":{"start":"2026-11-20T08:00:00+08:00","end":"2026-11-27T10:00:00+08:00"},"participant":[{"individual":{"reference":"Practitioner/dr-wang"}}]}')
  local note='"subject":{"reference":"Patient/'"$PATIENT"'"},"encounter":{"reference":"Encounter/'"$ENCOUNTER"'"},"date":"2026-11-27T09:00:00+08:00",
    "author":[{"reference":"Practitioner/dr-wang"}],"section":[{"title":"记录","text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\">患者王小明，病情平稳。</div>"}}]'
  DISCHARGE=$(fhir Composition '{"resourceType":"Composition","status":"final","title":"出院记录",'"$note"',
    "type":{"coding":[{"system":"http://loinc.org","code":"18842-5"}]},"attester":[{"mode":"legal","time":"2026-11-27T09:00:00+08:00","party":{"reference":"Practitioner/dr-wang"}}]}')
  fhir Observation '{"resourceType":"Observation","status":"final","code":{"text":"血红蛋白"},"subject":{"reference":"Patient/'"$PATIENT"'"},
    "encounter":{"reference":"Encounter/'"$ENCOUNTER"'"},"valueQuantity":{"value":132,"unit":"g/L"}}' >/dev/null
  DRAFT=$(fhir Composition '{"resourceType":"Composition","status":"preliminary","title":"病程记录",'"$note"',
    "type":{"coding":[{"system":"http://loinc.org","code":"11506-3"}]}}' "$DR")
}
curl -sf -X PUT "$BASE/fhir/Organization/cardiology" -H "Authorization: Bearer $HIS" -H 'Content-Type: application/fhir+json' \
  -d '{"resourceType":"Organization","id":"cardiology","name":"心内科"}' -o /dev/null
record
# <<< record

step "open a case"
# >>> open
CASE=$(curl -sf -X POST "$BASE/disputes" -H "Authorization: Bearer $OFFICER" -H 'Content-Type: application/json' \
  -d '{"patient":"Patient/'"$PATIENT"'","reason":"患方对手术结果有异议","scope":{"kind":"whole-record"}}' | json it.id)
echo "case $CASE"
# <<< open

step "show the inventory"
# >>> inventory
# Both sides are shown what sealing now would inventory, and its digest.
curl -sf "$BASE/disputes/$CASE/inventory" -H "Authorization: Bearer $OFFICER" -o inventory.json
json 'it.lines.map(l => l.status.padEnd(8) + l.type + "/" + l.id + " v" + l.version).join("\n")' < inventory.json
DIGEST=$(json it.digest < inventory.json)
echo "inventory digest $DIGEST"
# <<< inventory
expect "$(json 'it.lines.map(l => l.type + ":" + l.status).sort().join()' < inventory.json)" \
  "Composition:pending,Composition:sealed,Encounter:sealed,Observation:sealed" "the inventory"
rm -f inventory.json

step "the hospital side's witness confirms"
# >>> confirm
# Medical affairs (or another disputes officer), with their own token, never the case's officer.
curl -sf -X POST "$BASE/disputes/$CASE/confirmations" -H "Authorization: Bearer $MA" -H 'Content-Type: application/json' \
  -d '{"step":"seal","inventoryDigest":"'"$DIGEST"'"}' | json '"confirmed until " + it.validUntil'
curl -s -X POST "$BASE/disputes/$CASE/confirmations" -H "Authorization: Bearer $OFFICER" -H 'Content-Type: application/json' \
  -d '{"step":"seal","inventoryDigest":"'"$DIGEST"'"}' | json 'it.issue[0].details.coding[0].code'     # disputes.self-witness (HTTP 422)
# <<< confirm

step "seal"
# >>> seal
# The officer seals, with the patient side present and identified (patientWitness).
curl -sf -X POST "$BASE/disputes/$CASE/seal" -H "Authorization: Bearer $OFFICER" -H 'Content-Type: application/json' \
  -d '{"inventoryDigest":"'"$DIGEST"'","patientWitness":{"name":"李梅","relationship":"spouse",
       "idDocument":{"type":"resident-id-card","number":"110101199001011234"},"confirmed":true}}' \
  | json 'it.status + ": " + it.inventory.sealed + " sealed, " + it.inventory.pending + " pending; copy 1 digest " + it.copies[0].inventorySha256'
curl -sf -D copy-headers.txt "$BASE/disputes/$CASE/copies/1.pdf" -H "Authorization: Bearer $OFFICER" -o sealed-1.pdf
grep -i '^x-content-sha256' copy-headers.txt; sha256sum sealed-1.pdf      # both sides get these same bytes
# <<< seal
expect "$(curl -sf "$BASE/disputes/$CASE" -H "Authorization: Bearer $OFFICER" | json 'it.status + " " + it.copies[0].inventorySha256')" "sealed $DIGEST" "sealed with the confirmed digest"
expect "$(grep -i '^x-content-sha256' copy-headers.txt | tr -d '\r' | cut -d' ' -f2)" "$(sha256sum sealed-1.pdf | cut -d' ' -f1)" "the sealed copy's hash"
rm -f copy-headers.txt sealed-1.pdf

step "writes are refused while sealed"
# >>> sealed
curl -sf "$BASE/fhir/Composition/$DISCHARGE" -H "Authorization: Bearer $DR" | json 'JSON.stringify({...it, title: "出院记录（补充）"})' > discharge.json
curl -s -X PUT "$BASE/fhir/Composition/$DISCHARGE" -H "Authorization: Bearer $DR" -H 'Content-Type: application/fhir+json' \
  -H "X-Edit-Reason: $(node -p "encodeURIComponent('补充')")" --data-binary @discharge.json \
  | json 'it.issue[0].code + " " + it.issue[0].details.coding[0].code'        # business-rule disputes.sealed (HTTP 423)
# <<< sealed
expect "$(curl -s -o /dev/null -w '%{http_code}' -X PUT "$BASE/fhir/Composition/$DISCHARGE" -H "Authorization: Bearer $DR" -H 'Content-Type: application/fhir+json' \
  -H "X-Edit-Reason: x" --data-binary @discharge.json)" 423 "a write to a sealed record"
rm -f discharge.json

step "supplement"
# >>> supplement
# The pending progress note may still be completed; a supplement seals it as copy 2.
curl -sf -X POST "$BASE/fhir/Composition/$DRAFT/\$sign" -H "Authorization: Bearer $DR" -o /dev/null
curl -sf -X POST "$BASE/disputes/$CASE/supplement" -H "Authorization: Bearer $OFFICER" \
  | json '"supplemented " + it.supplemented + "; pending " + it.inventory.pending + "; copies " + it.copies.length'
# <<< supplement
expect "$(curl -sf "$BASE/disputes/$CASE" -H "Authorization: Bearer $OFFICER" | json 'it.inventory.pending + " " + it.copies.length')" "0 2" "after the supplement"

step "seal verify"
# >>> verify
# Recompute every sealed line and copy against the store (the CLI finds the server by CHARTWARDEN_DATA_DIR or DATABASE_URL).
npx chartwarden seal verify "$CASE"
# <<< verify

step "unseal with both sides"
# >>> unseal
curl -sf -X POST "$BASE/disputes/$CASE/confirmations" -H "Authorization: Bearer $MA" -H 'Content-Type: application/json' \
  -d '{"step":"unseal"}' -o /dev/null
curl -sf -X POST "$BASE/disputes/$CASE/unseal" -H "Authorization: Bearer $OFFICER" -H 'Content-Type: application/json' \
  -d '{"basis":"both-sides","patientWitness":{"name":"李梅","relationship":"spouse",
       "idDocument":{"type":"resident-id-card","number":"110101199001011234"},"confirmed":true}}' \
  | json 'it.status + " (" + it.unsealing.basis + ")"'                          # unsealed (both-sides)
# <<< unseal
expect "$(curl -sf "$BASE/disputes/$CASE" -H "Authorization: Bearer $OFFICER" | json it.status)" unsealed "after unseal"

step "unseal by the hospital alone"
# >>> unilateral
# A second case, sealed the same way, then resolved by mediation: medical affairs approves the basis,
# and the officer unseals without the patient side.
record
CASE_2=$(curl -sf -X POST "$BASE/disputes" -H "Authorization: Bearer $OFFICER" -H 'Content-Type: application/json' \
  -d '{"patient":"Patient/'"$PATIENT"'","reason":"患方投诉护理质量","scope":{"kind":"whole-record"}}' | json it.id)
DIGEST_2=$(curl -sf "$BASE/disputes/$CASE_2/inventory" -H "Authorization: Bearer $OFFICER" | json it.digest)
curl -sf -X POST "$BASE/disputes/$CASE_2/confirmations" -H "Authorization: Bearer $MA" -H 'Content-Type: application/json' \
  -d '{"step":"seal","inventoryDigest":"'"$DIGEST_2"'"}' -o /dev/null
curl -sf -X POST "$BASE/disputes/$CASE_2/seal" -H "Authorization: Bearer $OFFICER" -H 'Content-Type: application/json' \
  -d '{"inventoryDigest":"'"$DIGEST_2"'","patientWitness":{"name":"王小明","relationship":"self",
       "idDocument":{"type":"resident-id-card","number":"110101198801015678"},"confirmed":true}}' | json it.status
curl -sf -X POST "$BASE/disputes/$CASE_2/confirmations" -H "Authorization: Bearer $MA" -H 'Content-Type: application/json' \
  -d '{"step":"unseal","basis":"resolved","reason":"双方调解结案"}' -o /dev/null
curl -sf -X POST "$BASE/disputes/$CASE_2/unseal" -H "Authorization: Bearer $OFFICER" -H 'Content-Type: application/json' \
  -d '{"basis":"resolved"}' | json 'it.status + " (" + it.unsealing.basis + ", approved by " + it.unsealing.approvedBy.id + ")"'
# <<< unilateral
expect "$(curl -sf "$BASE/disputes/$CASE_2" -H "Authorization: Bearer $OFFICER" | json 'it.status + " " + it.unsealing.basis')" "unsealed resolved" "the second case"
step "ok"
