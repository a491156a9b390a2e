import { randomUUID } from 'node:crypto';
import type { Bundle, Condition, Observation, OperationOutcome, OperationOutcomeIssue, Patient } from '@medplum/fhirtypes';
import pg from 'pg';
import { ERROR_CODE_SYSTEM } from '../../src/fhir/operation-outcome.mapper.js';
import { expectStatus, editable } from '../support/fhir-expect.js';
import { httpRequest, seedAs, type HttpResult } from '../support/http.js';
import { closeAll, connectTestDatabase, startTestServer, type TestServer } from '../support/test-app.js';

/**
 * Issue #12, items 7 (unknown elements named like `Object.prototype` members) and 8 (invalid
 * codes were stored), over real HTTP and PostgreSQL. R-17: a record is not stored corrupted —
 * a resource with a code outside a required R4 binding, or with an element such as
 * `__proto__` or `constructor`, is refused with 400 naming the element (and the allowed
 * codes), nothing is stored, an update leaves the version as it was, and the refusal is
 * audited. The same resources with valid codes are created.
 *
 * Every resource carries an identifier in this run's system, so searches see only this file's data.
 */

const run = randomUUID();
const ID_SYSTEM = `urn:chartwarden-e2e:hardening-validation:${run}`;
const CODE_SYSTEM = `urn:chartwarden-e2e:hardening-validation-code:${run}`;
const CONDITION_CLINICAL = 'http://terminology.hl7.org/CodeSystem/condition-clinical';
const VALIDATION_FAILED = 'fhir.validation-failed';

const identifier = (value: string) => [{ system: ID_SYSTEM, value }];
const patient = (value: string, extra: Record<string, unknown> = {}) => ({ resourceType: 'Patient', identifier: identifier(value), ...extra }) as Patient;
const observation = (value: string, subject: string, extra: Record<string, unknown> = {}) =>
  ({ resourceType: 'Observation', identifier: identifier(value), status: 'final', code: { coding: [{ system: CODE_SYSTEM, code: value }] },
    subject: { reference: subject }, ...extra }) as Observation;
const condition = (value: string, subject: string, clinicalStatus: unknown) =>
  ({ resourceType: 'Condition', identifier: identifier(value), subject: { reference: subject }, code: { text: 'x' }, clinicalStatus }) as Condition;

describe('R-17 hardening: invalid codes and prototype-named elements are refused (issue #12 items 7 and 8, e2e)', () => {
  let server: TestServer;
  let his: string;
  let db: pg.Client;
  let subject: string;

  const send = async <T = OperationOutcome>(method: string, path: string, body?: unknown) => {
    const rid = `hv-${randomUUID()}`;
    const res = await httpRequest<T>(`${server.fhirBase}/${path}`, method, { token: his, body, headers: { 'x-request-id': rid } });
    return { ...res, rid };
  };
  /** How many resources of `type` carry this run's identifier `value`: proves nothing was stored. */
  const stored = async (type: string, value: string) => {
    const res = await send<Bundle>('GET', `${type}?${new URLSearchParams({ identifier: `${ID_SYSTEM}|${value}` })}`);
    expectStatus(res, 200);
    return res.body.total;
  };

  /**
   * A 400 ValidationFailed naming `expression` with issue code `code` (and, for codes, the allowed
   * ones), every issue carrying ChartWarden's code; and the refusal is in the audit trail.
   */
  async function expectRefused(res: HttpResult<unknown> & { rid: string }, code: 'code-invalid' | 'structure' | 'value', expression: string, allowed: string[] = []) {
    expectStatus(res, 400);
    const outcome = res.body as OperationOutcome;
    expect(outcome.resourceType).toBe('OperationOutcome');
    const issue = outcome.issue?.find((i) => i.expression?.includes(expression)) as OperationOutcomeIssue;
    expect(issue).toMatchObject({ severity: 'error', code });
    expect(issue.details?.coding).toContainEqual({ system: ERROR_CODE_SYSTEM, code: VALIDATION_FAILED });
    for (const a of allowed) expect(issue.details?.text).toContain(a);
    const audit = await db.query<{ outcome: number; content: string }>('SELECT outcome, content FROM audit_entry WHERE request_id = $1', [res.rid]);
    expect(audit.rows).toHaveLength(1);
    expect(audit.rows[0].outcome).toBe(4);
    expect(JSON.parse(audit.rows[0].content)).toMatchObject({ status: 400, error: VALIDATION_FAILED });
    return issue;
  }

  beforeAll(async () => {
    server = await startTestServer();
    his = await server.token();
    db = await connectTestDatabase();
    subject = `Patient/${(await seedAs(server.fhirBase, his, patient(`subject-${run}`))).id}`;
  });
  afterAll(() => closeAll(db, server));

  it('R-17: Patient.gender "robot" is 400 code-invalid naming Patient.gender and the allowed codes; nothing is stored; "female" is created', async () => {
    const value = `gender-${randomUUID()}`;
    const issue = await expectRefused(await send('POST', 'Patient', patient(value, { gender: 'robot' })), 'code-invalid', 'Patient.gender', [
      'male', 'female', 'other', 'unknown', 'http://hl7.org/fhir/ValueSet/administrative-gender',
    ]);
    expect(issue.details?.text).toContain('"robot"');
    expect(await stored('Patient', value)).toBe(0);

    const ok = await send<Patient>('POST', 'Patient', patient(value, { gender: 'female' }));
    expectStatus(ok, 201);
    expect(ok.body.gender).toBe('female');
    expect(await stored('Patient', value)).toBe(1);
  });

  it('R-17: Observation.status "whatever" is 400 naming Observation.status; nothing is stored; "final" is created', async () => {
    const value = `status-${randomUUID()}`;
    await expectRefused(await send('POST', 'Observation', observation(value, subject, { status: 'whatever' })), 'code-invalid', 'Observation.status', [
      'registered', 'preliminary', 'final', 'amended', 'entered-in-error',
    ]);
    expect(await stored('Observation', value)).toBe(0);
    expectStatus(await send('POST', 'Observation', observation(value, subject)), 201);
    expect(await stored('Observation', value)).toBe(1);
  });

  it('R-17 / R-03: a relative reference that names no record ("Patient/") is 400 naming the element; nothing is stored, in a transaction neither', async () => {
    const value = `reference-${randomUUID()}`;
    // Stored, it would be the record of no patient: outside every decision, seal and copy of the patient's record.
    const issue = await expectRefused(await send('POST', 'Observation', observation(value, 'Patient/')), 'value', 'Observation.subject.reference', ['"Patient/"', 'Type/id']);
    expect(issue.severity).toBe('error');
    await expectRefused(await send('POST', 'Observation', observation(value, subject, { performer: [{ reference: 'Practitioner/dr wang' }] })), 'value', 'Observation.performer[0].reference', ['"Practitioner/dr wang"']);
    const bundle = await send('POST', '', {
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [
        { request: { method: 'POST', url: 'Observation' }, resource: observation(value, subject) },
        { request: { method: 'POST', url: 'Observation' }, resource: observation(value, 'Patient/1/2') },
      ],
    });
    expect(bundle.status).toBe(400);
    expect(JSON.stringify(bundle.body)).toContain('Observation.subject.reference');
    expect(await stored('Observation', value)).toBe(0);
    expectStatus(await send('POST', 'Observation', observation(value, subject)), 201);
    expect(await stored('Observation', value)).toBe(1);
  });

  it('R-17: nested codes are enforced: Patient.telecom[1].system "pager2", Observation.valueQuantity.comparator ">>", Narrative.status', async () => {
    const value = `nested-${randomUUID()}`;
    const telecom = [{ system: 'phone', value: '1' }, { system: 'pager2', value: '2' }];
    await expectRefused(await send('POST', 'Patient', patient(value, { telecom })), 'code-invalid', 'Patient.telecom[1].system', [
      'phone', 'fax', 'email', 'pager', 'url', 'sms', 'other',
    ]);
    await expectRefused(await send('POST', 'Observation', observation(value, subject, { valueQuantity: { value: 1, comparator: '>>' } })), 'code-invalid',
      'Observation.valueQuantity.comparator', ['<', '<=', '>=', '>']);
    const text = { status: 'made-up', div: '<div xmlns="http://www.w3.org/1999/xhtml">x</div>' };
    const statuses = ['generated', 'extensions', 'additional', 'empty'];
    await expectRefused(await send('POST', 'Patient', patient(value, { text })), 'code-invalid', 'Patient.text.status', statuses);
    expect(await stored('Patient', value)).toBe(0);
    expect(await stored('Observation', value)).toBe(0);

    telecom[1].system = 'pager';
    expectStatus(await send('POST', 'Patient', patient(value, { telecom, text: { ...text, status: 'generated' } })), 201);
    expectStatus(await send('POST', 'Observation', observation(value, subject, { valueQuantity: { value: 1, comparator: '>=' } })), 201);
    expect(await stored('Patient', value)).toBe(1);
    expect(await stored('Observation', value)).toBe(1);
  });

  it('R-17: a required CodeableConcept (Condition.clinicalStatus) needs a coding of the value set; a wrong code of its system is refused', async () => {
    const value = `cc-${randomUUID()}`;
    const allowed = ['active', 'recurrence', 'relapse', 'inactive', 'remission', 'resolved', 'http://hl7.org/fhir/ValueSet/condition-clinical'];
    const asleep = condition(value, subject, { coding: [{ system: CONDITION_CLINICAL, code: 'asleep' }] });
    await expectRefused(await send('POST', 'Condition', asleep), 'code-invalid', 'Condition.clinicalStatus.coding[0]', allowed);
    await expectRefused(await send('POST', 'Condition', condition(value, subject, { text: 'active' })), 'code-invalid', 'Condition.clinicalStatus', ['active']);
    await expectRefused(await send('POST', 'Condition', condition(value, subject, { coding: [{ system: 'urn:local', code: 'active' }] })), 'code-invalid',
      'Condition.clinicalStatus', ['active']);
    expect(await stored('Condition', value)).toBe(0);

    // A coding of the value set, with a local translation beside it.
    const translated = { coding: [{ system: 'urn:local', code: 'A' }, { system: CONDITION_CLINICAL, code: 'active' }] };
    const ok = await send<Condition>('POST', 'Condition', condition(value, subject, translated));
    expectStatus(ok, 201);
    expect(await stored('Condition', value)).toBe(1);
  });

  it.each(['__proto__', 'constructor', 'toString', 'hasOwnProperty'])(
    'R-17: an element named "%s" is refused as an unknown element (400, at the root and nested), not accepted and not a 500',
    async (key) => {
      const value = `proto-${randomUUID()}`;
      // Raw JSON: an object literal's `__proto__` would set the prototype instead of sending the key.
      const root = `{"resourceType":"Patient","identifier":[{"system":"${ID_SYSTEM}","value":"${value}"}],"${key}":{"polluted":true}}`;
      const rootIssue = await expectRefused(await send('POST', 'Patient', root), 'structure', `Patient.${key}`);
      expect(rootIssue.details?.text).toContain(`"${key}"`);
      const nested = `{"resourceType":"Patient","identifier":[{"system":"${ID_SYSTEM}","value":"${value}"}],"name":[{"family":"x","${key}":"y"}]}`;
      await expectRefused(await send('POST', 'Patient', nested), 'structure', `Patient.name[0].${key}`);
      expect(await stored('Patient', value)).toBe(0);
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    },
  );

  it('R-17 / R-12: a refused update leaves the record at its version: invalid code, "__proto__" and "constructor"', async () => {
    const value = `update-${randomUUID()}`;
    const created = await seedAs(server.fhirBase, his, patient(value, { gender: 'female' }));
    const path = `Patient/${created.id}`;

    await expectRefused(await send('PUT', path, { ...editable(created), gender: 'robot' }), 'code-invalid', 'Patient.gender', ['female']);
    const body = JSON.stringify(editable(created)).slice(0, -1);
    await expectRefused(await send('PUT', path, `${body},"__proto__":{"gender":"male"}}`), 'structure', 'Patient.__proto__');
    await expectRefused(await send('PUT', path, `${body},"constructor":"x"}`), 'structure', 'Patient.constructor');

    const now = await send<Patient>('GET', path);
    expectStatus(now, 200);
    expect(now.body).toMatchObject({ gender: 'female', meta: { versionId: '1' } });
    expect(now.body).not.toHaveProperty('constructor', 'x');
    const history = await send<Bundle>('GET', `${path}/_history`);
    expect(history.body.entry?.map((e) => e.resource?.meta?.versionId)).toEqual(['1']);

    const ok = await send<Patient>('PUT', path, { ...editable(created), gender: 'other' });
    expectStatus(ok, 200);
    expect(ok.body).toMatchObject({ gender: 'other', meta: { versionId: '2' } });
  });

  it('R-17: a transaction with one invalid code is 400 naming Bundle.entry[1] and the element, and stores nothing of the bundle', async () => {
    const value = `tx-${randomUUID()}`;
    const bundle: Bundle = {
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [
        { resource: patient(`${value}-good`, { gender: 'male' }), request: { method: 'POST', url: 'Patient' } },
        { resource: patient(`${value}-bad`, { gender: 'robot' }), request: { method: 'POST', url: 'Patient' } },
      ],
    };
    const res = await httpRequest(server.fhirBase, 'POST', { token: his, body: bundle });
    expectStatus(res, 400);
    const issue = res.body.issue?.find((i) => i.expression?.includes('Patient.gender'));
    expect(issue).toMatchObject({ severity: 'error', code: 'code-invalid', expression: ['Bundle.entry[1]', 'Patient.gender'] });
    expect(await stored('Patient', `${value}-good`)).toBe(0);
    expect(await stored('Patient', `${value}-bad`)).toBe(0);
  });
});
