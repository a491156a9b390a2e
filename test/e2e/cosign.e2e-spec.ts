import { randomUUID } from 'node:crypto';
import pg from 'pg';
import type { Composition, OperationOutcome, Patient, Provenance, Resource } from '@medplum/fhirtypes';
import type { PendingCosign } from '../../src/governance/signing.service.js';
import { inpatientStay } from '../support/fhir-builders.js';
import { fhirApi, httpRequest, seedAs } from '../support/http.js';
import { closeAll, connectTestDatabase, startTestServer, type TestServer } from '../support/test-app.js';

/**
 * R-14 end to end: an intern's note stays provisional, waits in the department's co-signature
 * queue, and is co-signed by a licensed physician of the department (after a review edit),
 * with a Provenance naming the authors and the co-signer; the ledger and the trail record it.
 */
const run = randomUUID().slice(0, 8);
const DEPT = `cw-cosign-${run}`;
const OTHER = `cw-other-${run}`;
const INTERN = `Practitioner/intern-${run}`;
const DR = `Practitioner/dr-${run}`;

describe('R-14 co-signing (e2e, real HTTP + PostgreSQL)', () => {
  let server: TestServer;
  let db: pg.Client;
  let his: string;
  let intern: string;
  let attending: string;
  let unlicensed: string;
  let otherDept: string;
  let medicalAffairs: string;
  let nurse: string;

  const fhir = fhirApi(() => server.fhirBase);
  const queue = (token: string, dept?: string) => httpRequest<PendingCosign[] | OperationOutcome>(`${server.root}/governance/pending-cosign${dept ? `?dept=${dept}` : ''}`, 'GET', { token, headers: { accept: 'application/json' } });

  const seed = async <T extends Resource>(resource: T): Promise<string> => (await seedAs(server.fhirBase, his, resource)).id;

  /** A patient admitted to `dept` with the intern and the attending on the encounter, and an intern's progress note. */
  const admitWithInternNote = async (dept = DEPT) => {
    const patient = await seed<Patient>({ resourceType: 'Patient', name: [{ family: `患者${run}` }] });
    const encounter = await seed(inpatientStay(patient, dept, [INTERN, DR]));
    const note: Composition = {
      resourceType: 'Composition',
      status: 'preliminary',
      type: { coding: [{ system: 'http://loinc.org', code: '11506-3' }] },
      subject: { reference: `Patient/${patient}` },
      encounter: { reference: `Encounter/${encounter}` },
      date: new Date().toISOString(),
      author: [{ reference: INTERN }],
      title: '首次病程记录',
    };
    const created = await fhir<Composition>(intern, 'POST', 'Composition', note);
    expect(created.status).toBe(201);
    return { patient, encounter, id: created.body.id as string };
  };

  beforeAll(async () => {
    server = await startTestServer();
    db = await connectTestDatabase();
    his = await server.token();
    intern = await server.token({ sub: `intern-${run}`, roles: ['intern'], department: DEPT, licence: 'intern', fhirUser: INTERN });
    attending = await server.token({ sub: `dr-${run}`, roles: ['attending'], department: DEPT, licence: 'licensed', fhirUser: DR });
    unlicensed = await server.token({ sub: `visiting-${run}`, roles: ['attending'], department: DEPT, licence: 'visiting' });
    otherDept = await server.token({ sub: `dr-other-${run}`, roles: ['attending'], department: OTHER, licence: 'licensed' });
    medicalAffairs = await server.token({ sub: `ma-${run}`, roles: ['medical-affairs'] });
    nurse = await server.token({ sub: `nurse-${run}`, roles: ['nurse'], department: DEPT, licence: 'licensed' });
    for (const id of [DEPT, OTHER]) {
      const res = await fhir(his, 'PUT', `Organization/${id}`, { resourceType: 'Organization', id, name: id });
      expect([200, 201]).toContain(res.status);
    }
  });
  afterAll(() => closeAll(db, server));

  it('R-14: an intern cannot sign their note: 422 cosign-required, and it stays preliminary in the same version', async () => {
    const { id } = await admitWithInternNote();
    const res = await fhir(intern, 'POST', `Composition/${id}/$sign`);
    expect(res.status).toBe(422);
    expect(res.body.issue?.[0]).toMatchObject({ code: 'business-rule', details: { coding: [{ code: 'governance.cosign-required' }] } });
    const now = await fhir<Composition>(his, 'GET', `Composition/${id}`);
    expect(now.body).toMatchObject({ status: 'preliminary', meta: { versionId: '1' } });
  });

  it('R-14: the note waits in its department\'s queue (intern, licence, time); another department\'s physician and a nurse may not read that queue', async () => {
    const { id } = await admitWithInternNote();
    const mine = await queue(attending);
    expect(mine.status).toBe(200);
    const item = (mine.body as PendingCosign[]).find((p) => p.document === `Composition/${id}`);
    expect(item).toMatchObject({ docType: 'daily-progress-note', title: '首次病程记录', authors: [INTERN], writtenBy: `intern-${run}`, licence: 'intern', waitingHours: 0 });
    expect((await queue(medicalAffairs, DEPT)).status).toBe(200);
    const foreign = await queue(otherDept, DEPT);
    expect(foreign.status).toBe(403);
    expect((foreign.body as OperationOutcome).issue?.[0].code).toBe('forbidden');
    expect((await queue(nurse)).status).toBe(403);
    // Not in the other department's queue.
    expect(((await queue(otherDept)).body as PendingCosign[]).some((p) => p.document === `Composition/${id}`)).toBe(false);
  });

  it('R-14: review with an edit (a version in the ledger), then co-sign: final, attested by the co-signer; Provenance with verifier and author; queue empty for it; ledger and trail record each step', async () => {
    const { id } = await admitWithInternNote();
    const current = (await fhir<Composition>(attending, 'GET', `Composition/${id}`)).body;
    const reviewed = await fhir<Composition>(attending, 'PUT', `Composition/${id}`, { ...current, title: '首次病程记录（已审阅）' });
    expect(reviewed.status).toBe(200);
    expect(reviewed.body.meta?.versionId).toBe('2');

    const res = await fhir<Provenance>(attending, 'POST', `Composition/${id}/$cosign`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-location')).toMatch(new RegExp(`/Composition/${id}/_history/3$`));
    const provenance = res.body;
    expect(provenance).toMatchObject({
      resourceType: 'Provenance',
      target: [{ reference: `Composition/${id}/_history/3` }],
      activity: { coding: [{ code: 'LA' }] },
      agent: [
        { type: { coding: [{ code: 'verifier' }] }, who: { reference: DR } },
        { type: { coding: [{ code: 'author' }] }, who: { reference: INTERN } },
      ],
      signature: [{ type: [{ system: 'urn:iso-astm:E1762-95:2013', code: '1.2.840.10065.1.12.1.5' }], who: { reference: DR } }],
    });
    expect((await fhir<Provenance>(his, 'GET', `Provenance/${provenance.id}`)).status).toBe(200);

    const signed = (await fhir<Composition>(his, 'GET', `Composition/${id}`)).body;
    expect(signed).toMatchObject({ status: 'final', title: '首次病程记录（已审阅）', meta: { versionId: '3' } });
    expect(signed.attester).toEqual([{ mode: 'legal', time: provenance.recorded, party: { reference: DR } }]);
    expect(((await queue(attending)).body as PendingCosign[]).some((p) => p.document === `Composition/${id}`)).toBe(false);

    const ledger = await db.query<{ version_id: number; kind: string; editor: string }>(
      `SELECT version_id, kind, editor FROM edit_ledger WHERE resource_type = 'Composition' AND resource_id = $1 ORDER BY version_id`,
      [id],
    );
    expect(ledger.rows).toEqual([
      { version_id: 1, kind: 'create', editor: `intern-${run}` },
      { version_id: 2, kind: 'update', editor: `dr-${run}` },
      { version_id: 3, kind: 'cosign', editor: `dr-${run}` },
    ]);
    const requestId = res.headers.get('x-request-id');
    const audit = await db.query<{ subtype: string; entity_type: string; outcome: number }>(
      'SELECT subtype, entity_type, outcome FROM audit_entry WHERE request_id = $1 ORDER BY seq',
      [requestId],
    );
    expect(audit.rows).toEqual([
      { subtype: 'cosign', entity_type: 'Composition', outcome: 0 },
      { subtype: 'create', entity_type: 'Provenance', outcome: 0 },
    ]);

    // Once co-signed, a second co-signature or a signature is refused.
    const again = await fhir(attending, 'POST', `Composition/${id}/$cosign`);
    expect(again.status).toBe(409);
    expect(again.body.issue?.[0].details?.coding?.[0].code).toBe('governance.already-signed');
  });

  it('R-14: a licensed co-author cannot finish an intern\'s note with $sign (409 awaiting-cosign); a withdrawn (entered-in-error) note is signed by nobody', async () => {
    const { id } = await admitWithInternNote();
    const current = (await fhir<Composition>(his, 'GET', `Composition/${id}`)).body;
    expect((await fhir(his, 'PUT', `Composition/${id}`, { ...current, author: [{ reference: INTERN }, { reference: DR }] })).status).toBe(200);
    const res = await fhir(attending, 'POST', `Composition/${id}/$sign`);
    expect(res.status).toBe(409);
    expect(res.body.issue?.[0].details?.coding?.[0].code).toBe('governance.awaiting-cosign');
    expect(res.body.issue?.[0].diagnostics).toContain('written by an intern');
    expect((await fhir<Composition>(his, 'GET', `Composition/${id}`)).body).toMatchObject({ status: 'preliminary', meta: { versionId: '2' } });

    const withdrawn = await fhir<Composition>(attending, 'POST', 'Composition', { ...current, id: undefined, meta: undefined, status: 'entered-in-error', author: [{ reference: DR }] });
    expect(withdrawn.status).toBe(201);
    const signWithdrawn = await fhir(attending, 'POST', `Composition/${withdrawn.body.id}/$sign`);
    expect(signWithdrawn.status).toBe(409);
    expect(signWithdrawn.body.issue?.[0].details?.coding?.[0].code).toBe('governance.already-signed');
    expect(signWithdrawn.body.issue?.[0].diagnostics).toContain('a withdrawn document is not signed');
  });

  it('R-14: a physician not licensed here, or of another department, cannot co-sign; nothing changes', async () => {
    const { id } = await admitWithInternNote();
    const visiting = await fhir(unlicensed, 'POST', `Composition/${id}/$cosign`);
    expect(visiting.status).toBe(403);
    expect(visiting.body.issue?.[0].details?.coding?.[0].code).toBe('governance.cosigner-not-licensed');
    const foreign = await fhir(otherDept, 'POST', `Composition/${id}/$cosign`);
    expect(foreign.status).toBe(403);
    expect(foreign.body.issue?.[0].details?.coding?.[0].code).toBe('access.forbidden');
    expect((await fhir<Composition>(his, 'GET', `Composition/${id}`)).body).toMatchObject({ status: 'preliminary', meta: { versionId: '1' } });
  });

  it('R-13/R-14: a licensed physician\'s own note is not co-signed (409): its author signs it', async () => {
    const { id } = await admitWithInternNote();
    const own = await fhir<Composition>(attending, 'POST', 'Composition', {
      ...(await fhir<Composition>(his, 'GET', `Composition/${id}`)).body,
      id: undefined,
      meta: undefined,
      author: [{ reference: DR }],
    });
    expect(own.status).toBe(201);
    const res = await fhir(attending, 'POST', `Composition/${own.body.id}/$cosign`);
    expect(res.status).toBe(409);
    expect(res.body.issue?.[0].details?.coding?.[0].code).toBe('governance.not-awaiting-cosign');
    expect((await fhir(attending, 'POST', `Composition/${own.body.id}/$sign`)).status).toBe(200);
  });
});
