#!/usr/bin/env bash
# docs/guides/record-room.md (and .zh-CN.md), command by command: a copy request (复印) from intake to
# delivery, with separation of duties, what the copy holds and leaves out, and the disclosures in the trail.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cw_start

step "setup"
# >>> setup
BASE=${BASE:-http://localhost:8080}      # where `npm start` serves
json() { node -p "const it = JSON.parse(require('fs').readFileSync(0, 'utf8')); $1"; }   # read a field of the JSON on stdin
# Tokens, signed with the dev key in ./.data (run these where you ran `npm start`, or set CHARTWARDEN_DATA_DIR).
HIS=$(npx chartwarden token --sub his-gateway --role his-system)
RECORD_ROOM=$(npx chartwarden token --sub rr-liu --role record-room)      # the clerk at the desk
RECORD_ROOM_2=$(npx chartwarden token --sub rr-sun --role record-room)    # a second clerk, who approves
AUDITOR=$(npx chartwarden token --sub auditor-zhao --role auditor)
# <<< setup

step "a discharged patient's record"
# >>> record
# What the HIS has stored: a discharged inpatient, admission and discharge records signed, a signed
# progress note (subjective: never copied for a requester), an operation record still a draft.
fhir() { curl -sf -X POST "$BASE/fhir/$1" -H "Authorization: Bearer $HIS" -H 'Content-Type: application/fhir+json' -d "$2" | json it.id; }
PATIENT=$(fhir Patient '{"resourceType":"Patient","name":[{"text":"王小明"}],"gender":"male"}')
ENCOUNTER=$(fhir Encounter '{"resourceType":"Encounter","status":"finished","subject":{"reference":"Patient/'"$PATIENT"'"},
  "class":{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"IMP"},
  "period":{"start":"2026-11-20T08:00:00+08:00","end":"2026-11-27T10:00:00+08:00"}}')
doc() {  # doc <LOINC code> <title> <status>: a document of this stay; a final one signed by its author
  local signed=''; [ "$3" = final ] && signed=',"attester":[{"mode":"legal","time":"2026-11-27T09:00:00+08:00","party":{"reference":"Practitioner/dr-wang"}}]'
  fhir Composition '{"resourceType":"Composition","status":"'"$3"'","type":{"coding":[{"system":"http://loinc.org","code":"'"$1"'"}]},
    "subject":{"reference":"Patient/'"$PATIENT"'"},"encounter":{"reference":"Encounter/'"$ENCOUNTER"'"},"date":"2026-11-27T09:00:00+08:00",
    "author":[{"reference":"Practitioner/dr-wang"}],"title":"'"$2"'"'"$signed"',
    "section":[{"title":"'"$2"'","text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\">'"$2"'：王小明，男，35岁。</div>"}}]}'
}
ADMISSION=$(doc 34117-2 入院记录 final)
DISCHARGE=$(doc 18842-5 出院记录 final)
PROGRESS=$(doc 11506-3 日常病程记录 final)
OPERATION=$(doc 11504-8 手术记录 preliminary)
# <<< record

step "1 receive"
# >>> receive
REQUEST=$(curl -sf -X POST "$BASE/copy-requests" -H "Authorization: Bearer $RECORD_ROOM" -H 'Content-Type: application/json' \
  -d '{"patient":"Patient/'"$PATIENT"'","requesterType":"patient","requester":{"name":"王小明","idNumber":"110101199001011234"},
       "purpose":"医保报销","scope":{"all":true}}' | json it.id)
curl -sf "$BASE/copy-requests/$REQUEST" -H "Authorization: Bearer $RECORD_ROOM" | json 'it.status + ", missing: " + it.checklist.missing'
# <<< receive
expect "$(curl -sf "$BASE/copy-requests/$REQUEST" -H "Authorization: Bearer $RECORD_ROOM" | json 'it.status + " " + it.checklist.missing')" "received id-card" "the new request"

step "2 evidence"
# >>> evidence
# The scanned ID card (here a 1×1 PNG stands in for it): PDF, JPEG or PNG, recognised by its bytes.
node -e "require('fs').writeFileSync('id-card.png', Buffer.from('89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082', 'hex'))"
curl -sf -X POST "$BASE/copy-requests/$REQUEST/evidence?proves=id-card&filename=id-card.png" -H "Authorization: Bearer $RECORD_ROOM" \
  -H 'Content-Type: image/png' --data-binary @id-card.png | json 'it.proves + " " + it.sha256'
# <<< evidence
rm -f id-card.png

step "3 verify"
# >>> verify
curl -sf -X POST "$BASE/copy-requests/$REQUEST/verify" -H "Authorization: Bearer $RECORD_ROOM" -H 'Content-Type: application/json' \
  -d '{"identityChecked":true}' | json 'it.status + ", missing: [" + it.checklist.missing + "]"'      # verified, missing: []
# <<< verify

step "4 approve"
# >>> approve
# The clerk who received and verified the request may not approve it (separation of duties):
curl -s -X POST "$BASE/copy-requests/$REQUEST/approve" -H "Authorization: Bearer $RECORD_ROOM" -H 'Content-Type: application/json' -d '{}' \
  | json 'it.issue[0].details.coding[0].code'                                                       # copy.separation-of-duties (HTTP 403)
curl -sf -X POST "$BASE/copy-requests/$REQUEST/approve" -H "Authorization: Bearer $RECORD_ROOM_2" -H 'Content-Type: application/json' -d '{}' \
  | json it.status                                                                                  # approved
# <<< approve
expect "$(curl -s -o /dev/null -w '%{http_code}' -X POST "$BASE/copy-requests/$REQUEST/approve" -H "Authorization: Bearer $RECORD_ROOM" -H 'Content-Type: application/json' -d '{}')" 409 "approve again"

step "5 produce"
# >>> produce
curl -sf -X POST "$BASE/copy-requests/$REQUEST/produce" -H "Authorization: Bearer $RECORD_ROOM" -o copy.json
json '"copy " + it.n + ", " + it.pages + " pages"' < copy.json
json 'it.manifest.map(m => "copied   " + m.documentType + " " + m.type + "/" + m.id + " v" + m.version).join("\n")' < copy.json
json 'it.excluded.concat(it.pending).map(l => "left out " + l.ref + ": " + l.reason).join("\n")' < copy.json
curl -sf -D pdf-headers.txt "$BASE/copy-requests/$REQUEST/copies/1.pdf" -H "Authorization: Bearer $RECORD_ROOM" -o copy-1.pdf
grep -i '^x-content-sha256' pdf-headers.txt; sha256sum copy-1.pdf                                    # the same hash
# <<< produce
expect "$(json 'it.manifest.map(m => m.documentType).sort().join()' < copy.json)" "admission-record,discharge-record" "what was copied"
expect_contains "$(json 'it.excluded.map(l => l.ref).join()' < copy.json)" "Composition/$PROGRESS" "the subjective note excluded"
expect_contains "$(json 'it.pending.map(l => l.ref).join()' < copy.json)" "Composition/$OPERATION" "the draft pending"
expect "$(grep -i '^x-content-sha256' pdf-headers.txt | tr -d '\r' | cut -d' ' -f2)" "$(sha256sum copy-1.pdf | cut -d' ' -f1)" "the PDF's hash"
expect "$(json it.pdfSha256 < copy.json)" "$(sha256sum copy-1.pdf | cut -d' ' -f1)" "the production's pdfSha256"
rm -f copy.json pdf-headers.txt copy-1.pdf

step "6 deliver"
# >>> deliver
curl -sf -X POST "$BASE/copy-requests/$REQUEST/deliver" -H "Authorization: Bearer $RECORD_ROOM" -H 'Content-Type: application/json' \
  -d '{"recipient":{"name":"王小明","idNumber":"110101199001011234"},"identityChecked":true,"requesterChecked":true,"method":"in-person"}' \
  | json 'it.status + "\n" + it.events.map(e => e.step + " " + e.by).join("\n")'    # partially-delivered: the operation record is pending
# <<< deliver
expect "$(curl -sf "$BASE/copy-requests/$REQUEST" -H "Authorization: Bearer $RECORD_ROOM" | json 'it.events.map(e => e.step).join()')" \
  "received,evidence,verified,approved,produced,delivered" "the request's events"

step "disclosures in the trail"
# >>> disclosures
# Each disclosure names the versions it handed out: who received the admission record, and when.
curl -sf "$BASE/fhir/AuditEvent?entity=Composition/$ADMISSION" -H "Authorization: Bearer $AUDITOR" \
  | json 'it.entry.map(e => e.resource.recorded + " " + e.resource.subtype.map(s => s.code) + " by " + e.resource.agent[0].who.identifier.value).join("\n")'
# The patient's access report, which the record room may read one patient at a time:
curl -sf "$BASE/audit/access-report?patient=Patient/$PATIENT&from=2026-01-01&to=2099-12-31" -H "Authorization: Bearer $RECORD_ROOM" -o report.json
json 'it.rows.map(r => [r.day, r.actor, "accesses " + r.accesses, "disclosures " + r.disclosures].join(" ")).join("\n")' < report.json
# <<< disclosures
TRAIL=$(curl -sf "$BASE/fhir/AuditEvent?entity=Composition/$ADMISSION" -H "Authorization: Bearer $AUDITOR" | json 'it.entry.map(e => e.resource.subtype.map(s => s.code)).join()')
expect_contains "$TRAIL" "copy-produce" "the production in the trail"
expect_contains "$TRAIL" "copy-deliver" "the delivery in the trail"
expect "$(json 'it.rows.find(r => r.actor === "rr-liu").disclosures > 0' < report.json)" true "the record room's disclosures in the report"
rm -f report.json

step "close"
# >>> close
# The operation record will not be signed after all: close the request with a reason.
curl -sf -X POST "$BASE/copy-requests/$REQUEST/close" -H "Authorization: Bearer $RECORD_ROOM" -H 'Content-Type: application/json' \
  -d '{"reason":"申请人不再需要手术记录"}' | json it.status
curl -sf "$BASE/copy-requests?patient=Patient/$PATIENT" -H "Authorization: Bearer $RECORD_ROOM" | json 'it.map(r => r.id + " " + r.status).join("\n")'
# <<< close
expect "$(curl -sf "$BASE/copy-requests/$REQUEST" -H "Authorization: Bearer $RECORD_ROOM" | json it.status)" closed "after close"
step "ok"
