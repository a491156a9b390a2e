import { randomUUID } from 'node:crypto';
import pg from 'pg';
import type { Composition, Patient, Resource } from '@medplum/fhirtypes';
import { fhirApi, seedAs } from '../support/http.js';
import { closeAll, connectTestDatabase, startTestServer, type TestServer } from '../support/test-app.js';

/**
 * R-16 end to end: a passage of 50 characters or more copied verbatim from another patient's
 * document is refused (422, naming the source only to someone who may read it); within the
 * same patient it is allowed and the version is flagged in the edit ledger.
 */
const run = randomUUID().slice(0, 8);
const PASSAGE = `患者${run}主诉反复胸闷气短三年，加重伴夜间阵发性呼吸困难一周，活动后明显，休息后可缓解，无发热咳嗽。`;

describe('R-16 copy-paste between patients (e2e, real HTTP + PostgreSQL)', () => {
  let server: TestServer;
  let db: pg.Client;
  let his: string;
  let admin: string;

  const fhir = fhirApi(() => server.fhirBase);
  const seed = async <T extends Resource>(resource: T): Promise<string> => (await seedAs(server.fhirBase, his, resource)).id;
  const note = (patient: string, text: string): Composition => ({
    resourceType: 'Composition',
    status: 'preliminary',
    type: { coding: [{ system: 'http://loinc.org', code: '11506-3' }] },
    subject: { reference: `Patient/${patient}` },
    date: new Date().toISOString(),
    author: [{ reference: 'Practitioner/dr-copy' }],
    title: '病程记录',
    section: [{ title: '主诉', text: { status: 'generated', div: `<div xmlns="http://www.w3.org/1999/xhtml"><p>${text}</p></div>` } }],
  });

  beforeAll(async () => {
    server = await startTestServer();
    db = await connectTestDatabase();
    his = await server.token();
    admin = await server.token({ sub: `admin-${run}`, roles: ['admin'] });
    expect(PASSAGE.length).toBeGreaterThanOrEqual(50);
  });
  afterAll(() => closeAll(db, server));

  it('R-16: the same passage in another patient\'s note is refused (422) naming the source; nothing is stored', async () => {
    const a = await seed<Patient>({ resourceType: 'Patient', name: [{ family: `甲${run}` }] });
    const b = await seed<Patient>({ resourceType: 'Patient', name: [{ family: `乙${run}` }] });
    const source = await fhir<Composition>(his, 'POST', 'Composition', note(a, PASSAGE));
    expect(source.status).toBe(201);
    const before = await db.query('SELECT count(*)::int AS n FROM fhir_resource WHERE resource_type = $1', ['Composition']);
    const copy = await fhir(his, 'POST', 'Composition', note(b, `今日查房：${PASSAGE}继续治疗。`));
    expect(copy.status).toBe(422);
    expect(copy.body.issue?.[0]).toMatchObject({ code: 'business-rule', details: { coding: [{ code: 'governance.copied-from-other-patient' }] } });
    expect(copy.body.issue?.[0].diagnostics).toContain(`Composition/${source.body.id}`);
    expect((await db.query('SELECT count(*)::int AS n FROM fhir_resource WHERE resource_type = $1', ['Composition'])).rows).toEqual(before.rows);
    // An update that pastes it into another patient's existing note is refused too.
    const other = await fhir<Composition>(his, 'POST', 'Composition', note(b, '患者今日一般情况可，饮食睡眠可，二便正常，继续当前治疗方案，密切观察病情变化。'));
    expect(other.status).toBe(201);
    const pasted = await fhir(his, 'PUT', `Composition/${other.body.id}`, { ...other.body, section: note(b, PASSAGE).section });
    expect(pasted.status).toBe(422);
    expect((await fhir<Composition>(his, 'GET', `Composition/${other.body.id}`)).body.meta?.versionId).toBe('1');
  });

  it('R-16: within the same patient it is allowed and the version is flagged in the ledger with its source', async () => {
    const a = await seed<Patient>({ resourceType: 'Patient', name: [{ family: `丙${run}` }] });
    const text = `同一患者${run}：入院后予抗感染、化痰、平喘等对症支持治疗，患者症状逐渐好转，复查血常规较前明显改善。`;
    expect(text.length).toBeGreaterThanOrEqual(50);
    const first = await fhir<Composition>(his, 'POST', 'Composition', note(a, text));
    const second = await fhir<Composition>(his, 'POST', 'Composition', note(a, `复制自前次：${text}`));
    expect(second.status).toBe(201);
    const rows = await db.query<{ entry: string }>(`SELECT entry FROM edit_ledger WHERE resource_type = 'Composition' AND resource_id = $1`, [second.body.id]);
    expect(JSON.parse(rows.rows[0].entry)).toMatchObject({ copiedFrom: [`Composition/${first.body.id}`] });
  });

  it('R-16: a short common phrase shared by two patients\' notes is not a copy; a role the policy refuses never reaches the check (403)', async () => {
    const a = await seed<Patient>({ resourceType: 'Patient', name: [{ family: `丁${run}` }] });
    const b = await seed<Patient>({ resourceType: 'Patient', name: [{ family: `戊${run}` }] });
    const phrase = `神志清楚，精神可${run}`;
    expect((await fhir(his, 'POST', 'Composition', note(a, `${phrase}，心肺听诊未见明显异常，腹软无压痛，双下肢不肿。患者甲。`))).status).toBe(201);
    expect((await fhir(his, 'POST', 'Composition', note(b, `${phrase}，今日诉轻度头晕，测血压偏高，已调整降压药物剂量，嘱低盐饮食。患者乙。`))).status).toBe(201);
    expect((await fhir(admin, 'POST', 'Composition', note(b, PASSAGE))).status).toBe(403);
  });
});
