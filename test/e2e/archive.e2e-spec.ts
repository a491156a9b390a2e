import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import pg from 'pg';
import type { Composition, Encounter, Patient, Resource } from '@medplum/fhirtypes';
import type { Amendment } from '../../src/governance/amendment.service.js';
import { fhirApi, jsonApi, seedAs } from '../support/http.js';
import { closeAll, connectTestDatabase, startTestServer, type TestServer } from '../support/test-app.js';

/**
 * R-15 end to end: an outpatient record archives on the doctor's call once its documents are
 * signed; an inpatient one after discharge on a senior physician's review. Archived records
 * are read-only for every role; the exception is an amendment approved by medical affairs,
 * and it stays in the ledger and the trail.
 */
const run = randomUUID().slice(0, 8);
const DEPT = `cw-archive-${run}`;
const DR = `Practitioner/dr-arch-${run}`;
const ARCHIVED = { system: 'https://chartwarden.dev/fhir/CodeSystem/record-state', code: 'archived' };

describe('R-15 archiving (e2e, real HTTP + PostgreSQL)', () => {
  let server: TestServer;
  let db: pg.Client;
  let his: string;
  let attending: string;
  let chief: string;
  let medicalAffairs: string;
  let nurse: string;

  const fhir = fhirApi(() => server.fhirBase);
  const gov = jsonApi<Amendment>(() => `${server.root}/governance/`);
  const seed = async <T extends Resource>(resource: T): Promise<string> => (await seedAs(server.fhirBase, his, resource)).id;
  const encounterOf = async (cls: 'AMB' | 'IMP', status: Encounter['status']) => {
    const patient = await seed<Patient>({ resourceType: 'Patient', name: [{ family: `归档${run}` }] });
    const encounter = await seed<Encounter>({
      resourceType: 'Encounter',
      status,
      class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: cls },
      // A finished encounter ends now: the department keeps access during the care window.
      period: status === 'finished' ? { start: new Date(Date.now() - 3_600_000).toISOString(), end: new Date().toISOString() } : { start: new Date().toISOString() },
      subject: { reference: `Patient/${patient}` },
      serviceProvider: { reference: `Organization/${DEPT}` },
      participant: [{ individual: { reference: DR } }],
    });
    return { patient, encounter };
  };
  const note = (patient: string, encounter: string): Composition => ({
    resourceType: 'Composition',
    status: 'preliminary',
    type: { coding: [{ system: 'http://loinc.org', code: '34108-1' }] },
    subject: { reference: `Patient/${patient}` },
    encounter: { reference: `Encounter/${encounter}` },
    date: new Date().toISOString(),
    author: [{ reference: DR }],
    title: '门诊病历',
  });

  beforeAll(async () => {
    server = await startTestServer();
    db = await connectTestDatabase();
    his = await server.token();
    attending = await server.token({ sub: `dr-arch-${run}`, roles: ['attending'], department: DEPT, licence: 'licensed', fhirUser: DR });
    chief = await server.token({ sub: `chief-arch-${run}`, roles: ['chief'], department: DEPT, licence: 'licensed' });
    medicalAffairs = await server.token({ sub: `ma-arch-${run}`, roles: ['medical-affairs'] });
    nurse = await server.token({ sub: `nurse-arch-${run}`, roles: ['nurse'], department: DEPT });
    expect((await fhir(his, 'PUT', `Organization/${DEPT}`, { resourceType: 'Organization', id: DEPT, name: DEPT })).status).toBeLessThan(300);
  });
  afterAll(() => closeAll(db, server));

  it('R-15: an outpatient record archives only once its documents are signed; then every role\'s change and any new document are refused', async () => {
    const { patient, encounter } = await encounterOf('AMB', 'finished');
    const doc = await fhir<Composition>(attending, 'POST', 'Composition', note(patient, encounter));
    expect(doc.status).toBe(201);
    const early = await fhir(attending, 'POST', `Encounter/${encounter}/$archive`);
    expect(early.status).toBe(409);
    expect(early.body.issue?.[0].details?.coding?.[0].code).toBe('governance.not-archivable');
    expect(early.body.issue?.[0].details?.text).toContain(`Composition/${doc.body.id}`);

    expect((await fhir(attending, 'POST', `Composition/${doc.body.id}/$sign`)).status).toBe(200);
    const archived = await fhir<Encounter>(attending, 'POST', `Encounter/${encounter}/$archive`);
    expect(archived.status).toBe(200);
    expect(archived.body.meta?.tag).toEqual(expect.arrayContaining([expect.objectContaining(ARCHIVED)]));
    expect((await fhir(attending, 'POST', `Encounter/${encounter}/$archive`)).status).toBe(409);

    const signed = (await fhir<Composition>(his, 'GET', `Composition/${doc.body.id}`)).body;
    for (const [who, token] of [['author', attending], ['chief', chief], ['HIS', his]] as const) {
      const res = await fhir(token, 'PUT', `Composition/${doc.body.id}`, { ...signed, title: `${who} 改` }, { 'x-edit-reason': encodeURIComponent('更正') });
      expect({ who, status: res.status, code: res.body.issue?.[0].details?.coding?.[0].code }).toEqual({ who, status: 422, code: 'governance.archived' });
    }
    const added = await fhir(his, 'POST', 'Composition', note(patient, encounter));
    expect(added.status).toBe(422);
    expect(added.body.issue?.[0].details?.coding?.[0].code).toBe('governance.archived');
    expect((await fhir<Composition>(his, 'GET', `Composition/${doc.body.id}`)).body.meta?.versionId).toBe(signed.meta?.versionId);
    // Reading continues.
    expect((await fhir(attending, 'GET', `Composition/${doc.body.id}`)).status).toBe(200);
  });

  it('R-15: an inpatient record archives after discharge, on a senior physician\'s review only', async () => {
    const { encounter } = await encounterOf('IMP', 'in-progress');
    const byAttending = await fhir(attending, 'POST', `Encounter/${encounter}/$archive`);
    expect(byAttending.status).toBe(403);
    expect(byAttending.body.issue?.[0].details?.coding?.[0].code).toBe('governance.senior-review-required');
    const notDischarged = await fhir(chief, 'POST', `Encounter/${encounter}/$archive`);
    expect(notDischarged.status).toBe(409);
    const current = (await fhir<Encounter>(his, 'GET', `Encounter/${encounter}`)).body;
    expect((await fhir(his, 'PUT', `Encounter/${encounter}`, { ...current, status: 'finished', period: { ...current.period, end: new Date().toISOString() } })).status).toBe(200);
    expect((await fhir(nurse, 'POST', `Encounter/${encounter}/$archive`)).status).toBe(403);
    const res = await fhir<Encounter>(chief, 'POST', `Encounter/${encounter}/$archive`);
    expect(res.status).toBe(200);
    const audit = await db.query<{ subtype: string; actor: string }>('SELECT subtype, actor FROM audit_entry WHERE request_id = $1', [res.headers.get('x-request-id')]);
    expect(audit.rows).toEqual([{ subtype: 'archive', actor: `chief-arch-${run}` }]);
  });

  it('R-15: the exception is an amendment medical affairs approved; a chief\'s approval does not open an archived record', async () => {
    const { patient, encounter } = await encounterOf('AMB', 'finished');
    const doc = await fhir<Composition>(attending, 'POST', 'Composition', note(patient, encounter));
    expect((await fhir(attending, 'POST', `Composition/${doc.body.id}/$sign`)).status).toBe(200);
    expect((await fhir(attending, 'POST', `Encounter/${encounter}/$archive`)).status).toBe(200);
    const signed = (await fhir<Composition>(his, 'GET', `Composition/${doc.body.id}`)).body;
    const ask = () => fhir<Amendment>(attending, 'POST', `Composition/${doc.body.id}/$amend-request`, { reason: '归档后更正诊断' }, { 'content-type': 'application/json' });

    const byChief = await ask();
    expect((await gov(chief, 'POST', `amendments/${byChief.body.id}/approve`, {})).status).toBe(200);
    expect((await fhir(attending, 'PUT', `Composition/${doc.body.id}`, { ...signed, title: '更正' })).status).toBe(422);

    const byMa = await ask();
    expect((await gov(medicalAffairs, 'POST', `amendments/${byMa.body.id}/approve`, { note: '医务处同意' })).status).toBe(200);
    const amended = await fhir<Composition>(attending, 'PUT', `Composition/${doc.body.id}`, { ...signed, status: 'amended', title: '更正' });
    expect(amended.status).toBe(200);
    const entry = await db.query<{ kind: string; reason: string; entry: string }>(
      `SELECT kind, reason, entry FROM edit_ledger WHERE resource_type = 'Composition' AND resource_id = $1 AND version_id = $2`,
      [doc.body.id, Number(amended.body.meta?.versionId)],
    );
    expect(entry.rows[0]).toMatchObject({ kind: 'amend', reason: '归档后更正诊断' });
    expect(JSON.parse(entry.rows[0].entry)).toMatchObject({ amendment: { id: byMa.body.id, approvedBy: `ma-arch-${run}` } });
    // One change only.
    expect((await fhir(attending, 'PUT', `Composition/${doc.body.id}`, { ...amended.body, title: '再改' }, { 'x-edit-reason': 'again' })).status).toBe(422);
  });

  it('R-15: with governance.archiveOutpatientOnSigning, an outpatient record archives itself when its last document is signed (not before)', async () => {
    const document = parse(readFileSync(fileURLToPath(new URL('../../policy/default.policy.yaml', import.meta.url)), 'utf8')) as { governance: Record<string, unknown> };
    document.governance.archiveOutpatientOnSigning = true;
    const auto = await startTestServer({ policy: document as unknown as Record<string, unknown> });
    try {
      const call = fhirApi(() => auto.fhirBase);
      const hisAuto = await auto.token();
      const dr = await auto.token({ sub: `dr-arch-${run}`, roles: ['attending'], department: DEPT, licence: 'licensed', fhirUser: DR });
      const patient = (await call<Patient>(hisAuto, 'POST', 'Patient', { resourceType: 'Patient', name: [{ family: `自动${run}` }] })).body.id as string;
      const encounter = (
        await call<Encounter>(hisAuto, 'POST', 'Encounter', {
          resourceType: 'Encounter',
          status: 'finished',
          class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'AMB' },
          subject: { reference: `Patient/${patient}` },
          serviceProvider: { reference: `Organization/${DEPT}` },
          period: { start: new Date(Date.now() - 3_600_000).toISOString(), end: new Date().toISOString() },
          participant: [{ individual: { reference: DR } }],
        })
      ).body.id as string;
      const first = (await call<Composition>(dr, 'POST', 'Composition', note(patient, encounter))).body.id as string;
      const second = (await call<Composition>(dr, 'POST', 'Composition', { ...note(patient, encounter), title: '门诊处方说明' })).body.id as string;
      expect((await call(dr, 'POST', `Composition/${first}/$sign`)).status).toBe(200);
      expect((await call<Encounter>(hisAuto, 'GET', `Encounter/${encounter}`)).body.meta?.tag ?? []).not.toEqual(expect.arrayContaining([expect.objectContaining(ARCHIVED)]));
      const last = await call(dr, 'POST', `Composition/${second}/$sign`);
      expect(last.status).toBe(200);
      expect((await call<Encounter>(hisAuto, 'GET', `Encounter/${encounter}`)).body.meta?.tag).toEqual(expect.arrayContaining([expect.objectContaining(ARCHIVED)]));
      const audit = await db.query<{ subtype: string }>('SELECT subtype FROM audit_entry WHERE request_id = $1 ORDER BY seq', [last.headers.get('x-request-id')]);
      expect(audit.rows.map((r) => r.subtype)).toEqual(['sign', 'create', 'archive']);
      expect((await call(hisAuto, 'POST', 'Composition', note(patient, encounter))).status).toBe(422);
    } finally {
      await auto.close();
    }
  });
});
