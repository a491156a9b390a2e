import { randomUUID } from 'node:crypto';
import type { Bundle, Observation, Patient, Resource } from '@medplum/fhirtypes';
import type pg from 'pg';
import { fhirApi } from '../support/http.js';
import { pdfPages } from '../support/pdf-text.js';
import { closeAll, connectTestDatabase, startTestServer, type TestServer } from '../support/test-app.js';

/**
 * Issue #16 "Fidelity": a resource comes back as the HIS sent it, over real HTTP, from every
 * interaction that returns it (create, read, vread, history, search, `$everything`, a
 * transaction): the sender's key order after `resourceType`, `id` and `meta`, and each decimal
 * in its lexical form (FHIR: 1.0 ≠ 1, datatypes.html#decimal). Bodies are sent as compact text
 * written by hand, so the expected answer is that text with the server's `id` and `meta` added.
 * `_elements` and `_summary` return tagged parts (search.html#elements, #summary).
 */

const SYS = `urn:chartwarden-e2e:fidelity:${randomUUID()}`;
const SUBSETTED = { system: 'http://terminology.hl7.org/CodeSystem/v3-ObservationValue', code: 'SUBSETTED', display: 'subsetted' };

/** A body whose `resourceType` comes last: `fields` are its other members, compact, in the sender's order. */
const sent = (type: string, fields: string) => `{${fields},"resourceType":"${type}"}`;
/** What the server must answer for `sent(type, fields)`: `resourceType`, `id`, `meta` first, then `fields` as they were. */
const expected = (type: string, fields: string, r: Resource) =>
  `{"resourceType":"${type}","id":"${r.id}","meta":{"versionId":"${r.meta?.versionId}","lastUpdated":"${r.meta?.lastUpdated}"},${fields}}`;

const PATIENT_FIELDS = (value: string) =>
  `"name":[{"text":"张三","family":"张","given":["三"]}],"identifier":[{"system":"${SYS}","value":"${value}"}],"gender":"male","birthDate":"1970-03-30","_birthDate":{"extension":[{"url":"http://hl7.org/fhir/StructureDefinition/patient-birthTime","valueDateTime":"1970-03-30T14:30:00+08:00"}]}`;

const OBSERVATION_FIELDS = (patient: string, value: string) =>
  `"status":"final","contained":[{"resourceType":"Practitioner","id":"nurse","name":[{"text":"李护士"}]}],"identifier":[{"system":"${SYS}","value":"${value}"}],` +
  `"code":{"coding":[{"system":"http://loinc.org","code":"15074-8","display":"Glucose"}],"text":"血糖"},"subject":{"reference":"Patient/${patient}"},"performer":[{"reference":"#nurse"}],` +
  `"valueQuantity":{"value":1.50,"unit":"mmol/L","system":"http://unitsofmeasure.org","code":"mmol/L"},` +
  `"component":[{"code":{"text":"一"},"valueQuantity":{"value":1.0}},{"code":{"text":"二"},"valueQuantity":{"value":1e-30}},{"code":{"text":"三"},"valueQuantity":{"value":100}},{"code":{"text":"四"},"valueQuantity":{"value":-0.0}},{"code":{"text":"五"},"valueQuantity":{"value":1E-30}}]`;

describe('Fidelity: a resource comes back as it was sent (issue #16)', () => {
  let server: TestServer;
  let db: pg.Client;
  let his: string;
  const fhir = fhirApi(() => server.fhirBase);
  /** POSTs a hand-written body as text; the created resource (parsed) and the raw answer. */
  const create = async (type: string, fields: string) => {
    const res = await fhir<Resource>(his, 'POST', type, sent(type, fields));
    expect(res.status).toBe(201);
    return res;
  };

  let patient: Patient;
  let observation: Observation;
  let observationText: string;

  beforeAll(async () => {
    server = await startTestServer();
    his = await server.token();
    db = await connectTestDatabase();
    patient = (await create('Patient', PATIENT_FIELDS('p1'))).body as Patient;
    const res = await create('Observation', OBSERVATION_FIELDS(patient.id as string, 'o1'));
    observation = res.body as Observation;
    observationText = expected('Observation', OBSERVATION_FIELDS(patient.id as string, 'o1'), observation);
  });
  afterAll(() => closeAll(db, server));

  it('create answers the stored text; read and vread return exactly it: key order, 1.0, 1.50, 1e-30, 1E-30, -0.0, 100', async () => {
    const created = await fhir(his, 'POST', 'Observation', sent('Observation', OBSERVATION_FIELDS(patient.id as string, 'o-create')));
    expect(created.status).toBe(201);
    const createdBody = created.body as unknown as Observation;
    expect(created.text).toBe(expected('Observation', OBSERVATION_FIELDS(patient.id as string, 'o-create'), createdBody));

    const read = await fhir(his, 'GET', `Observation/${observation.id}`);
    expect(read.status).toBe(200);
    expect(read.text).toBe(observationText);
    expect(read.headers.get('etag')).toBe('W/"1"');
    const vread = await fhir(his, 'GET', `Observation/${observation.id}/_history/1`);
    expect(vread.status).toBe(200);
    expect(vread.text).toBe(observationText);
  });

  it('primitive extensions (_birthDate) and Chinese text come back as sent', async () => {
    const read = await fhir(his, 'GET', `Patient/${patient.id}`);
    expect(read.status).toBe(200);
    expect(read.text).toBe(expected('Patient', PATIENT_FIELDS('p1'), patient));
  });

  it('the version row in the database holds the text, and its jsonb keeps the values', async () => {
    const { rows } = await db.query<{ content_text: string; value: string; current: string }>(
      `SELECT v.content_text, v.content #>> '{valueQuantity,value}' AS value, r.content_text AS current
         FROM fhir_resource_version v JOIN fhir_resource r USING (resource_type, id)
        WHERE v.resource_type = 'Observation' AND v.id = $1 AND v.version_id = 1`,
      [observation.id],
    );
    expect(rows).toEqual([{ content_text: observationText, value: '1.50', current: observationText }]);
  });

  it('history, search and $everything splice the stored text into their Bundles', async () => {
    for (const path of [`Observation/${observation.id}/_history`, `Observation?identifier=${encodeURIComponent(`${SYS}|o1`)}`, `Patient/${patient.id}/$everything`]) {
      const res = await fhir<Bundle>(his, 'GET', path);
      expect(res.status).toBe(200);
      expect(res.text).toContain(`"resource":${observationText}`);
      expect(res.body.entry?.some((e) => e.resource?.id === observation.id)).toBe(true);
    }
    const everything = await fhir<Bundle>(his, 'GET', `Patient/${patient.id}/$everything`);
    expect(everything.text).toContain(`"resource":${expected('Patient', PATIENT_FIELDS('p1'), patient)}`);
  });

  it('an update keeps its own sender\'s order and lexemes; resending the same numbers adds no version, a change of precision does (1.0 ≠ 1)', async () => {
    const fields = OBSERVATION_FIELDS(patient.id as string, 'o-update');
    const first = (await create('Observation', fields)).body as Observation;
    const changed = fields.replace('"value":1.50,', '"value":2.500,');
    const body = `{"id":"${first.id}",${changed},"resourceType":"Observation"}`;
    const put = await fhir<Observation>(his, 'PUT', `Observation/${first.id}`, body);
    expect(put.status).toBe(200);
    expect(put.body.meta?.versionId).toBe('2');
    const v2 = `{"resourceType":"Observation","id":"${first.id}","meta":{"versionId":"2","lastUpdated":"${put.body.meta?.lastUpdated}"},${changed}}`;
    expect(put.text).toBe(v2);
    expect((await fhir(his, 'GET', `Observation/${first.id}`)).text).toBe(v2);
    expect((await fhir(his, 'GET', `Observation/${first.id}/_history/1`)).text).toBe(expected('Observation', fields, first));

    // The same numbers as written again, keys reordered: no new version, the stored text stays.
    const again = await fhir<Observation>(his, 'PUT', `Observation/${first.id}`, `{"resourceType":"Observation","id":"${first.id}",${changed}}`);
    expect(again.status).toBe(200);
    expect(again.body.meta?.versionId).toBe('2');
    expect((await fhir(his, 'GET', `Observation/${first.id}`)).text).toBe(v2);
    // 2.500 written 2.5: another precision (R4 datatypes.html#decimal), so a new version with the new text.
    const coarser = changed.replace('2.500', '2.5');
    const precision = await fhir<Observation>(his, 'PUT', `Observation/${first.id}`, `{"resourceType":"Observation","id":"${first.id}",${coarser}}`);
    expect(precision.status).toBe(200);
    expect(precision.body.meta?.versionId).toBe('3');
    expect((await fhir(his, 'GET', `Observation/${first.id}`)).text).toBe(
      `{"resourceType":"Observation","id":"${first.id}","meta":{"versionId":"3","lastUpdated":"${precision.body.meta?.lastUpdated}"},${coarser}}`,
    );
    const { rows } = await db.query('SELECT version_id FROM fhir_resource_version WHERE resource_type = $1 AND id = $2 ORDER BY 1', ['Observation', first.id]);
    expect(rows).toEqual([{ version_id: 1 }, { version_id: 2 }, { version_id: 3 }]);
  });

  it('R-12: a change of precision alone is a change to the write guards too: a final document needs a reason for it', async () => {
    const fields = (value: string) =>
      `"status":"final","type":{"text":"日常病程记录"},"subject":{"reference":"Patient/${patient.id}"},"date":"2026-11-29T10:00:00+08:00",` +
      `"author":[{"display":"李医生"}],"title":"病程","extension":[{"url":"urn:chartwarden-e2e:fidelity:score","valueDecimal":${value}}]`;
    const note = (await create('Composition', fields('1.5'))).body as Resource;
    const put = (value: string, headers: Record<string, string> = {}) =>
      fhir<Resource>(his, 'PUT', `Composition/${note.id}`, `{"resourceType":"Composition","id":"${note.id}",${fields(value)}}`, headers);
    expect((await put('1.5')).body.meta?.versionId).toBe('1');
    const refused = await put('1.50');
    expect(refused.status).toBe(422);
    expect(refused.text).toContain('governance.reason-required');
    const amended = await put('1.50', { 'x-edit-reason': encodeURIComponent('更正精度') });
    expect(amended.status).toBe(200);
    expect(amended.body.meta?.versionId).toBe('2');
    expect(amended.text).toContain('"valueDecimal":1.50');
  });

  it('a conditional update (PUT Type?identifier=…) keeps the lexemes when it creates and when it updates', async () => {
    const fields = OBSERVATION_FIELDS(patient.id as string, 'o-conditional');
    const path = `Observation?identifier=${encodeURIComponent(`${SYS}|o-conditional`)}`;
    const created = await fhir<Observation>(his, 'PUT', path, sent('Observation', fields));
    expect(created.status).toBe(201);
    expect(created.text).toBe(expected('Observation', fields, created.body));
    const same = await fhir<Observation>(his, 'PUT', path, sent('Observation', fields));
    expect(same.status).toBe(200);
    expect(same.body.id).toBe(created.body.id);
    // The same text again: no new version.
    expect(same.body.meta?.versionId).toBe('1');
    // 1.0 sent as 1.000: a change of precision, so a new version.
    const changed = fields.replace('"value":1.0}', '"value":1.000}');
    const updated = await fhir<Observation>(his, 'PUT', path, sent('Observation', changed));
    expect(updated.status).toBe(200);
    expect(updated.body.meta?.versionId).toBe('2');
    expect(updated.text).toBe(expected('Observation', changed, updated.body));
    const other = fields.replace('"value":1.50,', '"value":3.10,');
    const next = await fhir<Observation>(his, 'PUT', path, sent('Observation', other));
    expect(next.status).toBe(200);
    expect(next.body.meta?.versionId).toBe('3');
    expect((await fhir(his, 'GET', `Observation/${created.body.id}`)).text).toBe(expected('Observation', other, next.body));
  });

  it('a transaction Bundle: each entry keeps its own lexemes, in the response and when read', async () => {
    const fieldsA = OBSERVATION_FIELDS(patient.id as string, 'tx-a');
    const fieldsB = `"status":"final","code":{"text":"体温"},"subject":{"reference":"Patient/${patient.id}"},"valueQuantity":{"value":36.50,"unit":"Cel"}`;
    const bundle =
      `{"type":"transaction","resourceType":"Bundle","entry":[` +
      `{"request":{"method":"POST","url":"Observation"},"resource":${sent('Observation', fieldsA)}},` +
      `{"resource":${sent('Observation', fieldsB)},"request":{"method":"POST","url":"Observation"}}]}`;
    const res = await fhir<Bundle>(his, 'POST', '', bundle);
    expect(res.status).toBe(200);
    const [a, b] = (res.body.entry ?? []).map((e) => e.resource as Observation);
    const [textA, textB] = [expected('Observation', fieldsA, a), expected('Observation', fieldsB, b)];
    expect(res.text).toContain(`"resource":${textA}`);
    expect(res.text).toContain(`"resource":${textB}`);
    expect((await fhir(his, 'GET', `Observation/${a.id}`)).text).toBe(textA);
    expect((await fhir(his, 'GET', `Observation/${b.id}`)).text).toBe(textB);
  });

  it('a version written before the text was kept (no backfill) is served from its jsonb, resourceType first on vread', async () => {
    const id = `pre-text-${randomUUID()}`;
    const content = { name: [{ text: '王五' }], id, meta: { versionId: '1', lastUpdated: '2025-01-01T00:00:00.000Z' }, resourceType: 'Patient', gender: 'female' };
    await db.query(`INSERT INTO fhir_resource (resource_type, id, version_id, last_updated, content) VALUES ('Patient', $1, 1, $2, $3::jsonb)`, [id, content.meta.lastUpdated, content]);
    await db.query(`INSERT INTO fhir_resource_version (resource_type, id, version_id, last_updated, method, content) VALUES ('Patient', $1, 1, $2, 'POST', $3::jsonb)`, [id, content.meta.lastUpdated, content]);
    const read = await fhir<Patient>(his, 'GET', `Patient/${id}`);
    expect(read.status).toBe(200);
    expect(read.body).toEqual(content);
    const vread = await fhir<Patient>(his, 'GET', `Patient/${id}/_history/1`);
    expect(vread.status).toBe(200);
    expect(vread.body).toEqual(content);
    expect(vread.text.startsWith(`{"resourceType":"Patient","id":"${id}","meta":`)).toBe(true);
  });

  it('_elements=id,status on a read: the part holds id, meta, status and the mandatory code, tagged SUBSETTED', async () => {
    const res = await fhir<Observation>(his, 'GET', `Observation/${observation.id}?_elements=id,status`);
    expect(res.status).toBe(200);
    expect(Object.keys(res.body)).toEqual(['resourceType', 'id', 'meta', 'status', 'code']);
    expect(res.body.meta?.tag).toEqual([SUBSETTED]);
    expect(res.body.meta?.versionId).toBe('1');
    // The part is a new text, not the stored one.
    expect(res.text).not.toBe(observationText);
    const value = await fhir<Observation>(his, 'GET', `Observation/${observation.id}?_elements=value`);
    expect(value.text).toContain('"valueQuantity":{"value":1.50,');
  });

  it('_summary=true on a read keeps the summary elements; a bad _summary is 400', async () => {
    const res = await fhir<Observation>(his, 'GET', `Observation/${observation.id}?_summary=true`);
    expect(res.status).toBe(200);
    expect(Object.keys(res.body)).toEqual(['resourceType', 'id', 'meta', 'status', 'identifier', 'code', 'subject', 'performer', 'valueQuantity', 'component']);
    expect(res.body.contained).toBeUndefined();
    expect(res.body.meta?.tag).toEqual([SUBSETTED]);
    const bad = await fhir(his, 'GET', `Observation/${observation.id}?_summary=maybe`);
    expect(bad.status).toBe(400);
    expect(bad.body.issue?.[0].code).toBe('invalid');
  });

  it('_elements and _summary on a search subset each match, tagged SUBSETTED; the stored text stays whole', async () => {
    const query = `Observation?identifier=${encodeURIComponent(`${SYS}|o1`)}`;
    const elements = await fhir<Bundle>(his, 'GET', `${query}&_elements=id,status`);
    expect(elements.status).toBe(200);
    expect(elements.body.entry).toHaveLength(1);
    const part = elements.body.entry?.[0].resource as Observation;
    expect(Object.keys(part)).toEqual(['resourceType', 'id', 'meta', 'status', 'code']);
    expect(part.meta?.tag).toEqual([SUBSETTED]);
    expect(elements.text).not.toContain(observationText);

    const summary = await fhir<Bundle>(his, 'GET', `${query}&_summary=true`);
    expect(summary.status).toBe(200);
    const summarized = summary.body.entry?.[0].resource as Observation;
    expect(summarized.contained).toBeUndefined();
    expect(summarized.meta?.tag).toEqual([SUBSETTED]);
    expect(summary.text).toContain('"value":1.50,');
    expect((await fhir(his, 'GET', `Observation/${observation.id}`)).text).toBe(observationText);
  });

  it('R-20/R-31 (issue #18): a clinician\'s print of the record prints its numbers as sent and its contained performer by name', async () => {
    const doctor = `Practitioner/fidelity-dr-${randomUUID().slice(0, 8)}`;
    const team = await fhir(his, 'POST', 'CareTeam', { resourceType: 'CareTeam', status: 'active', subject: { reference: `Patient/${patient.id}` }, participant: [{ member: { reference: doctor } }] });
    expect(team.status).toBe(201);
    const attending = await server.token({ sub: doctor.split('/')[1], roles: ['attending'], licence: 'licensed', fhirUser: doctor });
    const res = await fetch(`${server.fhirBase}/Observation/${observation.id}/$print`, { headers: { authorization: `Bearer ${attending}` } });
    expect(res.status).toBe(200);
    const text = (await pdfPages(Buffer.from(await res.arrayBuffer()))).join('').replace(/\s+/g, '');
    for (const t of ['结果value:1.50mmol/L', '执行者performer:李护士', '一:1.0', '二:1e-30', '三:100', '四:-0.0', '五:1E-30']) expect(text).toContain(t);
    expect(text).not.toContain('#nurse');
    const { rows } = await db.query<{ subtype: string; outcome: number; patient: string }>('SELECT subtype, outcome, patient FROM audit_entry WHERE request_id = $1', [res.headers.get('x-request-id')]);
    expect(rows).toEqual([{ subtype: 'print', outcome: 0, patient: patient.id }]);
  });
});
