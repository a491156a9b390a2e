#!/usr/bin/env bash
# docs/guides/his-integration.md, command by command: a HIS registers a patient and an admission,
# clinicians read and write under the policy, errors come back as OperationOutcomes, break-the-glass,
# clinical documents ($sign, X-Edit-Reason, $changes, $print) and $everything; then fhir-kit-client.
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
DR_LI=$(npx chartwarden token --sub dr-li --role attending --dept neurology --licence licensed)
MA=$(npx chartwarden token --sub ma-chen --role medical-affairs)
INTERN=$(npx chartwarden token --sub intern-zhao --role intern --dept cardiology --licence intern)
# <<< setup

step "capability statement"
# >>> metadata
curl -sf "$BASE/fhir/metadata" | json 'it.resourceType + " " + it.fhirVersion'        # no token needed
curl -s -o /dev/null -w '%{http_code}\n' "$BASE/fhir/Patient"                         # 401: every other call needs one
# <<< metadata
expect "$(curl -sf "$BASE/fhir/metadata" | json 'it.resourceType')" CapabilityStatement
expect "$(curl -s -o /dev/null -w '%{http_code}' "$BASE/fhir/Patient")" 401 "no token"

step "register a patient"
# >>> create-patient
curl -sf -X PUT "$BASE/fhir/Organization/cardiology" -H "Authorization: Bearer $HIS" -H 'Content-Type: application/fhir+json' \
  -d '{"resourceType":"Organization","id":"cardiology","name":"心内科"}' -o /dev/null
MRN="MRN-$RANDOM$RANDOM"
curl -s -D headers.txt -o patient.json -X POST "$BASE/fhir/Patient" -H "Authorization: Bearer $HIS" -H 'Content-Type: application/fhir+json' \
  -d '{"resourceType":"Patient","identifier":[{"system":"urn:oid:2.16.156.10011.1.12","value":"'"$MRN"'"}],
       "name":[{"family":"张","given":["三"]}],"gender":"male","birthDate":"1980-02-03"}'
grep -iE '^(HTTP|location|etag)' headers.txt        # 201 Created, Location: …/fhir/Patient/<id>/_history/1, ETag: W/"1"
PATIENT=$(json it.id < patient.json)
# <<< create-patient
expect_contains "$(head -n 1 headers.txt)" " 201" "create status"
expect_contains "$(cat headers.txt)" 'W/"1"' "ETag"
rm -f headers.txt patient.json

step "conditional create"
# >>> conditional-create
# The same patient sent again with If-None-Exist: 200 with the match, nothing new stored.
curl -s -o /dev/null -w '%{http_code}\n' -X POST "$BASE/fhir/Patient" -H "Authorization: Bearer $HIS" \
  -H 'Content-Type: application/fhir+json' -H "If-None-Exist: identifier=urn:oid:2.16.156.10011.1.12|$MRN" \
  -d '{"resourceType":"Patient","identifier":[{"system":"urn:oid:2.16.156.10011.1.12","value":"'"$MRN"'"}],"name":[{"family":"张","given":["三"]}]}'
# <<< conditional-create
expect "$(curl -s -o /dev/null -w '%{http_code}' -X POST "$BASE/fhir/Patient" -H "Authorization: Bearer $HIS" -H 'Content-Type: application/fhir+json' \
  -H "If-None-Exist: identifier=urn:oid:2.16.156.10011.1.12|$MRN" -d '{"resourceType":"Patient"}')" 200 "conditional create with a match"

step "admission"
# >>> admission
ENCOUNTER=$(curl -sf -X POST "$BASE/fhir/Encounter" -H "Authorization: Bearer $HIS" -H 'Content-Type: application/fhir+json' \
  -d '{"resourceType":"Encounter","status":"in-progress","class":{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"IMP"},
       "subject":{"reference":"Patient/'"$PATIENT"'"},"serviceProvider":{"reference":"Organization/cardiology"},
       "period":{"start":"2026-11-20T08:00:00+08:00"},"participant":[{"individual":{"reference":"Practitioner/dr-wang"}},{"individual":{"reference":"Practitioner/intern-zhao"}}]}' | json it.id)
echo "Encounter/$ENCOUNTER"
# <<< admission

step "care team reads, others are refused"
# >>> care-team
curl -sf "$BASE/fhir/Patient/$PATIENT" -H "Authorization: Bearer $DR" | json 'it.name[0].family + it.name[0].given[0]'    # 张三
curl -sf -G "$BASE/fhir/Patient" --data-urlencode 'name=张三' --data-urlencode "identifier=$MRN" -H "Authorization: Bearer $DR" | json 'it.total'
curl -s "$BASE/fhir/Patient/$PATIENT" -H "Authorization: Bearer $DR_LI" \
  | json 'it.issue[0].code + " " + it.issue[0].details.coding[0].code'                 # forbidden access.forbidden (HTTP 403)
# <<< care-team
expect "$(curl -sf "$BASE/fhir/Patient/$PATIENT" -H "Authorization: Bearer $DR" | json 'it.id')" "$PATIENT" "care team read"
expect "$(curl -sf -G "$BASE/fhir/Patient" --data-urlencode 'name=张三' --data-urlencode "identifier=$MRN" -H "Authorization: Bearer $DR" | json it.total)" 1 "search total"
expect "$(curl -s -o /dev/null -w '%{http_code}' "$BASE/fhir/Patient/$PATIENT" -H "Authorization: Bearer $DR_LI")" 403 "another department's doctor"

step "update and history"
# >>> update
# If-Match names the version you read; a stale one is 412 and stores nothing.
curl -s -o /dev/null -w '%{http_code}\n' -X PUT "$BASE/fhir/Patient/$PATIENT" -H "Authorization: Bearer $DR" \
  -H 'Content-Type: application/fhir+json' -H 'If-Match: W/"1"' \
  -d '{"resourceType":"Patient","id":"'"$PATIENT"'","identifier":[{"system":"urn:oid:2.16.156.10011.1.12","value":"'"$MRN"'"}],
       "name":[{"family":"张","given":["三"]}],"gender":"male","birthDate":"1980-02-04"}'     # 200, version 2
curl -s -o /dev/null -w '%{http_code}\n' -X PUT "$BASE/fhir/Patient/$PATIENT" -H "Authorization: Bearer $DR" \
  -H 'Content-Type: application/fhir+json' -H 'If-Match: W/"1"' \
  -d '{"resourceType":"Patient","id":"'"$PATIENT"'","gender":"female"}'                      # 412: version 1 is stale
curl -sf "$BASE/fhir/Patient/$PATIENT/_history" -H "Authorization: Bearer $DR" \
  | json 'it.entry.map(e => e.resource.meta.versionId + " " + e.resource.birthDate).join("\n")'   # newest first
curl -sf "$BASE/fhir/Patient/$PATIENT/_history/1" -H "Authorization: Bearer $DR" | json 'it.birthDate'   # vread
# <<< update
expect "$(curl -sf "$BASE/fhir/Patient/$PATIENT/_history" -H "Authorization: Bearer $DR" | json 'it.entry.map(e => e.resource.meta.versionId).join()')" "2,1" "history"
expect "$(curl -sf "$BASE/fhir/Patient/$PATIENT/_history/1" -H "Authorization: Bearer $DR" | json it.birthDate)" 1980-02-03 "vread"

step "patch"
# >>> patch
# A JSON Patch (RFC 6902) changes part of a record: a new version, through the same checks as a PUT.
curl -sf -X PATCH "$BASE/fhir/Patient/$PATIENT" -H "Authorization: Bearer $DR" \
  -H 'Content-Type: application/json-patch+json' -H 'If-Match: W/"2"' \
  -d '[{"op":"add","path":"/telecom","value":[{"system":"phone","value":"13800000000"}]}]' \
  | json 'it.meta.versionId + " " + it.telecom[0].value'                                      # 3 13800000000
# <<< patch
expect "$(curl -sf "$BASE/fhir/Patient/$PATIENT" -H "Authorization: Bearer $DR" | json 'it.meta.versionId + " " + it.telecom[0].value')" "3 13800000000" "patch"
expect "$(curl -s -o /dev/null -w '%{http_code}' -X PATCH "$BASE/fhir/Patient/$PATIENT" -H "Authorization: Bearer $DR" \
  -H 'Content-Type: application/json-patch+json' -d '[{"op":"test","path":"/gender","value":"female"}]')" 422 "failed patch test"

step "transaction"
# >>> transaction
# A transaction is atomic and resolves urn:uuid references between its entries.
curl -sf -X POST "$BASE/fhir" -H "Authorization: Bearer $HIS" -H 'Content-Type: application/fhir+json' -d '{
  "resourceType":"Bundle","type":"transaction","entry":[
   {"fullUrl":"urn:uuid:0c0a5a56-1c8e-4b8e-9d35-0d5f4d1c2a01","request":{"method":"POST","url":"Condition"},
    "resource":{"resourceType":"Condition","subject":{"reference":"Patient/'"$PATIENT"'"},"encounter":{"reference":"Encounter/'"$ENCOUNTER"'"},
                "code":{"text":"冠状动脉粥样硬化性心脏病"}}},
   {"request":{"method":"POST","url":"Observation"},
    "resource":{"resourceType":"Observation","status":"final","code":{"text":"肌钙蛋白I"},"subject":{"reference":"Patient/'"$PATIENT"'"},
                "encounter":{"reference":"Encounter/'"$ENCOUNTER"'"},"focus":[{"reference":"urn:uuid:0c0a5a56-1c8e-4b8e-9d35-0d5f4d1c2a01"}],
                "valueQuantity":{"value":0.02,"unit":"ng/mL"}}}]}' \
  | json 'it.type + ": " + it.entry.map(e => e.response.status + " " + e.response.location).join(", ")'
# <<< transaction
expect "$(curl -sf -X POST "$BASE/fhir" -H "Authorization: Bearer $HIS" -H 'Content-Type: application/fhir+json' \
  -d '{"resourceType":"Bundle","type":"batch","entry":[{"request":{"method":"GET","url":"Patient/'"$PATIENT"'"}}]}' | json 'it.entry[0].response.status')" "200 OK" "batch"

step "errors"
# >>> errors
# Every error is an OperationOutcome: issue.code, and ChartWarden's own code in issue.details.coding.
curl -s -X POST "$BASE/fhir/Patient" -H "Authorization: Bearer $HIS" -H 'Content-Type: application/fhir+json' -d '{"resourceType":"Patient",' \
  | json 'it.issue[0].code + " " + it.issue[0].details.coding[0].code'                 # structure fhir.malformed-body (HTTP 400)
curl -s -X DELETE "$BASE/fhir/Patient/$PATIENT" -H "Authorization: Bearer $HIS" \
  | json 'it.issue[0].code + " " + it.issue[0].details.coding[0].code'                 # not-supported fhir.delete-refused (HTTP 405)
# <<< errors
expect "$(curl -s -o /dev/null -w '%{http_code}' -X POST "$BASE/fhir/Patient" -H "Authorization: Bearer $HIS" -H 'Content-Type: application/fhir+json' -d '{"resourceType":"Patient",')" 400 "bad JSON"
expect "$(curl -s -X DELETE "$BASE/fhir/Patient/$PATIENT" -H "Authorization: Bearer $HIS" | json 'it.issue[0].details.coding[0].code')" fhir.delete-refused "delete"

step "break the glass"
# >>> break-glass
# Dr Li (neurology) is not on the care team; in an emergency he breaks the glass, with a reason.
curl -s -o /dev/null -w '%{http_code}\n' "$BASE/fhir/Patient/$PATIENT" -H "Authorization: Bearer $DR_LI" \
  -H 'Category: http://terminology.hl7.org/CodeSystem/v3-ActReason#BTG; scheme="http://hl7.org/fhir/tag/security"' \
  -H "X-Break-Glass-Reason: $(node -p "encodeURIComponent('急诊会诊，患者意识不清')")"      # 200, and 4 h of access to this patient
# Medical affairs reviews every use.
BTG=$(curl -sf "$BASE/access/break-glass?unreviewed=true" -H "Authorization: Bearer $MA" | json "it.find(u => u.patientId === '$PATIENT').id")
curl -sf -X POST "$BASE/access/break-glass/$BTG/review" -H "Authorization: Bearer $MA" -H 'Content-Type: application/json' \
  -d '{"note":"急诊会诊，合理"}' | json 'it.reviewedBy'
# <<< break-glass
expect "$(curl -s -o /dev/null -w '%{http_code}' "$BASE/fhir/Patient/$PATIENT" -H "Authorization: Bearer $DR_LI")" 200 "read after break-the-glass"

step "clinical documents"
# >>> documents
NOTE=$(curl -sf -X POST "$BASE/fhir/Composition" -H "Authorization: Bearer $DR" -H 'Content-Type: application/fhir+json' \
  -d '{"resourceType":"Composition","status":"preliminary","type":{"coding":[{"system":"http://loinc.org","code":"11506-3"}]},
       "subject":{"reference":"Patient/'"$PATIENT"'"},"encounter":{"reference":"Encounter/'"$ENCOUNTER"'"},"date":"2026-11-20T10:00:00+08:00",
       "author":[{"reference":"Practitioner/dr-wang"}],"title":"首次病程记录",
       "section":[{"title":"病例特点","text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\">患者张三，男，46岁，胸痛2小时。</div>"}}]}' | json it.id)
# $sign: the note becomes final, attested by Dr Wang; the answer is the Provenance.
curl -sf -X POST "$BASE/fhir/Composition/$NOTE/\$sign" -H "Authorization: Bearer $DR" | json 'it.resourceType + " " + it.activity.coding[0].code'
# A signed note changes only with a reason: X-Edit-Reason, percent-encoded UTF-8.
curl -sf "$BASE/fhir/Composition/$NOTE" -H "Authorization: Bearer $DR" | json 'JSON.stringify({...it, title: "首次病程记录（更正）"})' > note.json
curl -s -o /dev/null -w '%{http_code}\n' -X PUT "$BASE/fhir/Composition/$NOTE" -H "Authorization: Bearer $DR" \
  -H 'Content-Type: application/fhir+json' -H "X-Edit-Reason: $(node -p "encodeURIComponent('更正标题')")" --data-binary @note.json
# $changes: every version, who, when, why, what changed.
curl -sf "$BASE/fhir/Composition/$NOTE/\$changes" -H "Authorization: Bearer $DR" -o changes.json
json 'it.versions.map(v => [v.version, v.kind, v.editor, v.reason ?? "", v.changes.join("; ").slice(0, 70)].join(" | ")).join("\n")' < changes.json
# $print: a watermarked PDF, recorded as a disclosure.
curl -sf "$BASE/fhir/Composition/$NOTE/\$print" -H "Authorization: Bearer $DR" -o note.pdf && head -c 5 note.pdf && echo
# <<< documents
expect "$(curl -sf "$BASE/fhir/Composition/$NOTE" -H "Authorization: Bearer $DR" | json 'it.meta.versionId + " " + it.status')" "3 final" "signed and corrected note"
expect "$(head -c 5 note.pdf)" "%PDF-" "print"
expect "$(json 'it.versions.map(v => v.kind).join()' < changes.json)" "create,sign,update" "ledger kinds"
expect_contains "$(json 'JSON.stringify(it.versions.at(-1))' < changes.json)" "更正标题" "the edit reason in the ledger"
rm -f note.json changes.json note.pdf

step "co-signing"
# >>> cosign
# An intern's note cannot be signed by the intern: it waits for a licensed physician of the department.
INTERN_NOTE=$(curl -sf -X POST "$BASE/fhir/Composition" -H "Authorization: Bearer $INTERN" -H 'Content-Type: application/fhir+json' \
  -d '{"resourceType":"Composition","status":"preliminary","type":{"coding":[{"system":"http://loinc.org","code":"11506-3"}]},
       "subject":{"reference":"Patient/'"$PATIENT"'"},"encounter":{"reference":"Encounter/'"$ENCOUNTER"'"},"date":"2026-11-21T09:00:00+08:00",
       "author":[{"reference":"Practitioner/intern-zhao"}],"title":"日常病程记录",
       "section":[{"title":"病情记录","text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\">患者胸痛缓解，生命体征平稳。</div>"}}]}' | json it.id)
curl -s -X POST "$BASE/fhir/Composition/$INTERN_NOTE/\$sign" -H "Authorization: Bearer $INTERN" \
  | json 'it.issue[0].details.coding[0].code'                                  # governance.cosign-required (HTTP 422)
curl -sf "$BASE/governance/pending-cosign?dept=cardiology" -H "Authorization: Bearer $DR" -o pending.json
json 'it.map(d => d.document + " " + d.docType + " by " + d.writtenBy + " (" + d.licence + "), waiting " + d.waitingHours + " h").join("\n")' < pending.json
curl -sf -X POST "$BASE/fhir/Composition/$INTERN_NOTE/\$cosign" -H "Authorization: Bearer $DR" \
  | json 'it.resourceType + " " + it.agent.map(a => a.who.reference).join(", ")'   # the Provenance: the intern and the co-signer
# <<< cosign
expect_contains "$(cat pending.json)" "$INTERN_NOTE" "the department's co-signature queue"
expect "$(curl -sf "$BASE/fhir/Composition/$INTERN_NOTE" -H "Authorization: Bearer $DR" | json it.status)" final "the co-signed note"
rm -f pending.json

step "everything"
# >>> everything
curl -sf "$BASE/fhir/Patient/$PATIENT/\$everything" -H "Authorization: Bearer $HIS" \
  | json 'it.entry.map(e => e.resource.resourceType).sort().join(" ")'
# <<< everything
expect "$(curl -sf "$BASE/fhir/Patient/$PATIENT/\$everything" -H "Authorization: Bearer $HIS" | json '[...new Set(it.entry.map(e => e.resource.resourceType))].sort().join(" ")')" \
  "Composition Condition Encounter Observation Patient Provenance" "\$everything"

step "fhir-kit-client"
# >>> run-client
BASE=$BASE HIS=$HIS PATIENT=$PATIENT node docs/walkthroughs/his-client.mjs
# <<< run-client
OUT=$(BASE=$BASE HIS=$HIS PATIENT=$PATIENT node docs/walkthroughs/his-client.mjs)
expect_contains "$OUT" "read 200" "fhir-kit-client read"
expect_contains "$OUT" "delete 405 not-supported fhir.delete-refused" "fhir-kit-client delete"
step "ok"
