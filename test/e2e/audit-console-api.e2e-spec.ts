import type { Bundle, Composition } from '@medplum/fhirtypes';
import type { AccessReport } from '../../src/audit/access-report.js';
import type { AuditRow } from '../support/database-rows.js';
import { httpRequest, type HttpResult } from '../support/http.js';
import { connectTestDatabase, startTestServer, type TestServer } from '../support/test-app.js';
import { seedInpatientStay } from '../browser/support/record-room-data.js';
import type pg from 'pg';

/**
 * What the auditors' console reads from the access report (issue #18, R-20, R-04): each row
 * (one actor, one day) also says why they looked (the purposes of use they gave) and how many
 * of their accesses broke the glass, refused ones included, so the timeline can mark them.
 */

const BTG_CATEGORY = 'http://terminology.hl7.org/CodeSystem/v3-ActReason#BTG; scheme="http://hl7.org/fhir/tag/security"';

describe('Access report for the auditors\' console (issue #18): purposes of use and break-the-glass per row', () => {
  let server: TestServer;
  let db: pg.Client;
  let auditor: string;
  let stay: Awaited<ReturnType<typeof seedInpatientStay>>;
  let admission: string;

  const token = (sub: string, roles: string[], department?: string) => server.token({ sub, roles, fhirUser: `Practitioner/${sub}`, ...(department ? { department } : {}) });
  const entriesOf = async (res: HttpResult<unknown>) =>
    (await db.query<AuditRow>('SELECT * FROM audit_entry WHERE request_id = $1', [res.headers.get('x-request-id')])).rows;

  beforeAll(async () => {
    server = await startTestServer();
    db = await connectTestDatabase();
    auditor = await token('acapi-auditor', ['auditor']);
    stay = await seedInpatientStay(server, 'Practitioner/dr-wang');
    const docs = await httpRequest<Bundle<Composition>>(`${server.fhirBase}/Composition?patient=${stay.patient.id}`, 'GET', { token: await server.token() });
    admission = docs.body.entry?.find((e) => e.resource?.title === '入院记录')?.resource?.id as string;
  });
  afterAll(async () => {
    await db?.end();
    await server?.close();
  });

  it('R-20/R-04: a treating read, a refused read and a break-the-glass read give purposes and breakGlass per actor; the trail holds the same', async () => {
    const wang = await token('dr-wang', ['attending'], 'dept-cardiology');
    const zhao = await token('dr-zhao', ['chief'], 'dept-surgery');
    const ma = await token('dr-ma', ['resident'], 'dept-surgery');
    const treating = await httpRequest(`${server.fhirBase}/Composition/${admission}`, 'GET', { token: wang });
    expect(treating.status).toBe(200);
    const refused = await httpRequest(`${server.fhirBase}/Composition/${admission}`, 'GET', { token: zhao });
    expect(refused.status).toBe(403);
    const glass = await httpRequest(`${server.fhirBase}/Composition/${admission}`, 'GET', {
      token: ma,
      headers: { category: BTG_CATEGORY, 'x-break-glass-reason': encodeURIComponent('急诊抢救，患者意识不清') },
    });
    expect(glass.status).toBe(200);
    const [glassEntry] = await entriesOf(glass);
    expect(JSON.parse(glassEntry.content)).toMatchObject({ purpose: 'BTG', breakGlass: { reason: '急诊抢救，患者意识不清' }, patient: stay.patient.id });
    expect((await entriesOf(refused)).map((r) => [r.outcome, r.patient])).toEqual([[4, stay.patient.id]]);

    const res = await httpRequest<AccessReport>(`${server.root}/audit/access-report?patient=Patient/${stay.patient.id}`, 'GET', { token: auditor, headers: { accept: 'application/json' } });
    expect(res.status).toBe(200);
    const byActor = Object.fromEntries(res.body.rows.map((r) => [r.actor, r]));
    expect(byActor['dr-wang']).toMatchObject({ reads: 1, refused: 0, breakGlass: 0, practitioner: 'Practitioner/dr-wang' });
    expect(byActor['dr-zhao']).toMatchObject({ reads: 0, refused: 1, breakGlass: 0 });
    expect(byActor['dr-ma']).toMatchObject({ reads: 1, refused: 0, breakGlass: 1, purposes: ['BTG'] });
    // Purposes as the entries hold them (a read without a stated purpose has none; the HIS seeding has its own).
    for (const row of res.body.rows) {
      const { rows } = await db.query<{ purpose: string }>(
        `SELECT DISTINCT content::jsonb ->> 'purpose' AS purpose FROM audit_entry WHERE patient = $1 AND coalesce(actor, '(unidentified)') = $2 AND content::jsonb ? 'purpose' ORDER BY 1`,
        [stay.patient.id, row.actor],
      );
      expect(row.purposes).toEqual(rows.map((r) => r.purpose));
      expect(row.breakGlass).toBe(row.actor === 'dr-ma' ? 1 : 0);
    }
    // The CSV keeps its columns: the new fields are JSON only.
    const csv = await httpRequest(`${server.root}/audit/access-report?patient=Patient/${stay.patient.id}&_format=csv`, 'GET', { token: auditor });
    expect(csv.status).toBe(200);
    expect(csv.text.split('\r\n')[0]).toBe('day,actor,practitioner,roles,department,accesses,reads,searches,writes,refused,first,last');
  });

  it('R-20: the report as the record room reads it for one patient carries the same fields; a clinician is refused in words', async () => {
    const clerk = await token('acapi-clerk', ['record-room']);
    const res = await httpRequest<AccessReport>(`${server.root}/audit/access-report?patient=${stay.patient.id}`, 'GET', { token: clerk, headers: { accept: 'application/json' } });
    expect(res.status).toBe(200);
    expect(res.body.rows.find((r) => r.actor === 'dr-ma')).toMatchObject({ breakGlass: 1, purposes: ['BTG'] });
    const doctor = await token('acapi-dr', ['attending'], 'dept-cardiology');
    const refused = await httpRequest(`${server.root}/audit/access-report?patient=${stay.patient.id}`, 'GET', { token: doctor, headers: { accept: 'application/json' } });
    expect([refused.status, refused.body.resourceType, refused.body.issue?.[0]?.code]).toEqual([403, 'OperationOutcome', 'forbidden']);
    expect((await entriesOf(refused)).map((r) => r.outcome)).toEqual([4]);
  });
});
