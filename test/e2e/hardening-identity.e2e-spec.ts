import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Bundle, Encounter, Observation, OperationOutcome, Organization, Patient } from '@medplum/fhirtypes';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type JWTPayload } from 'jose';
import pg from 'pg';
import { DEFAULT_AUDIENCE, DEFAULT_MAX_TOKEN_LIFETIME_MINUTES, DEV_ISSUER } from '../../src/config/chartwarden.options.js';
import { DEV_KEY_ALG, loadOrCreateDevKey } from '../../src/identity/dev-signing-key.js';
import { issueDevToken } from '../../src/identity/dev-token.issuer.js';
import type { Explanation } from '../../src/policy/explain.service.js';
import type { AuditRow as AuditEntryRow } from '../support/database-rows.js';
import { expectOutcome, expectStatus } from '../support/fhir-expect.js';
import { fhirApi, httpRequest, type HttpResult, seedAs } from '../support/http.js';
import { closeAll, connectTestDatabase, startTestServer, type TestServer } from '../support/test-app.js';

/**
 * Issue #12, items 4, 7 (identity and explain) and 13, over real HTTP and PostgreSQL:
 * - R-01: a token must expire, and within the maximum lifetime; a token signed with another
 *   data dir's key is refused with a hint at the data dir (and no path).
 * - R-02: roles named after Object.prototype members are unknown roles (403, never 500), and
 *   `/access/explain` refuses them with the policy's roles (400).
 * - R-02/R-20: `/access/explain` tells a caller who may not read the record only the decision
 *   and the rule ids, answers an unknown id exactly like that, and its audit entry names the
 *   record's patient.
 * Tokens below are signed with the server's real dev key (the one in its data dir), so only
 * the claim under test differs from a token the server accepts.
 */

const run = randomUUID();
const ID_SYSTEM = `urn:chartwarden-e2e:hardening-identity:${run}`;
const CARDIO = `cardio-${run.slice(0, 8)}`;
const DR_CARDIO = `Practitioner/dr-cardio-${run.slice(0, 8)}`;
const PROTOTYPE_ROLES = ['__proto__', 'constructor', 'toString'];
const LABEL_SYSTEM = 'http://terminology.hl7.org/CodeSystem/v3-Confidentiality';

/** The columns of an audit entry these tests select. */
type AuditRow = Pick<AuditEntryRow, 'actor' | 'patient' | 'action' | 'subtype' | 'outcome' | 'entity_type' | 'content'>;

type Res<T = OperationOutcome> = HttpResult<T>;

describe('R-01 / R-02 / R-20 hardening of identity and explanations (e2e, real HTTP + PostgreSQL)', () => {
  let server: TestServer;
  let db: pg.Client;
  let his: string;
  let admin: string;
  let auditor: string;
  /** May explain and may read every record, R-labelled ones included: the one caller who sees the facts. */
  let recordsAuditor: string;
  let nurse: string;
  const A = { patient: '', encounter: '', obs: '' };

  /** Signs `claims` with the server's own dev key, as-is (no iat or exp unless given). */
  async function signed(claims: JWTPayload): Promise<string> {
    const key = await loadOrCreateDevKey(server.dataDir);
    return new SignJWT({ roles: ['his-system'], ...claims })
      .setProtectedHeader({ alg: DEV_KEY_ALG, kid: key.kid, typ: 'JWT' })
      .setIssuer(DEV_ISSUER)
      .setAudience(DEFAULT_AUDIENCE)
      .sign(key.privateKey);
  }
  const nowSeconds = () => Math.floor(Date.now() / 1000);

  const fhir = fhirApi(() => server.fhirBase);
  const explain = <T = Explanation>(token: string, params: Record<string, string>) =>
    httpRequest<T>(`${server.root}/access/explain?${new URLSearchParams(params)}`, 'GET', { token, headers: { accept: 'application/json' } });
  const explainParams = (resource: string, over: Record<string, string> = {}) => ({
    actor: 'dr-neuro',
    roles: 'attending',
    dept: 'neuro',
    action: 'read',
    resource,
    ...over,
  });

  async function entriesOf(res: Res<unknown>): Promise<AuditRow[]> {
    const rid = res.headers.get('x-request-id');
    expect(rid).toEqual(expect.any(String));
    const sql = 'SELECT actor, patient, action, subtype, outcome, entity_type, content FROM audit_entry WHERE request_id = $1';
    return (await db.query<AuditRow>(sql, [rid])).rows;
  }
  async function onlyEntryOf(res: Res<unknown>): Promise<AuditRow & { entry: { status: number; error?: string; rule?: string } }> {
    const rows = await entriesOf(res);
    expect(rows).toHaveLength(1);
    return { ...rows[0], entry: JSON.parse(rows[0].content) };
  }
  /** Patients stored with this marker identifier: none may exist after a refused create. */
  async function storedWith(marker: string): Promise<number> {
    const res = await fhir<Bundle>(his, 'GET', `Patient?identifier=${encodeURIComponent(`${ID_SYSTEM}|${marker}`)}`);
    expectStatus(res, 200);
    return res.body.total ?? (res.body.entry ?? []).length;
  }

  beforeAll(async () => {
    server = await startTestServer();
    db = await connectTestDatabase();
    his = await server.token({ sub: 'his-hardening' });
    admin = await server.token({ sub: 'admin-hardening', roles: ['admin'] });
    auditor = await server.token({ sub: 'auditor-hardening', roles: ['auditor'] });
    recordsAuditor = await server.token({ sub: 'records-auditor-hardening', roles: ['auditor', 'medical-affairs'] });
    nurse = await server.token({ sub: 'nurse-hardening', roles: ['nurse'], department: CARDIO });
    const org: Organization = { resourceType: 'Organization', id: CARDIO, name: 'Cardiology (hardening e2e)' };
    expect([200, 201]).toContain((await fhir(his, 'PUT', `Organization/${CARDIO}`, org)).status);
    const patient = await seedAs<Patient>(server.fhirBase, his, { resourceType: 'Patient', identifier: [{ system: ID_SYSTEM, value: 'patient-a' }] });
    const encounter = await seedAs<Encounter>(server.fhirBase, his, {
      resourceType: 'Encounter',
      status: 'in-progress',
      class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'IMP' },
      subject: { reference: `Patient/${patient.id}` },
      serviceProvider: { reference: `Organization/${CARDIO}` },
      participant: [{ individual: { reference: DR_CARDIO } }],
    });
    const obs = await seedAs<Observation>(server.fhirBase, his, {
      resourceType: 'Observation',
      meta: { security: [{ system: LABEL_SYSTEM, code: 'R' }] },
      status: 'final',
      code: { coding: [{ system: ID_SYSTEM, code: 'hr' }] },
      subject: { reference: `Patient/${patient.id}` },
      encounter: { reference: `Encounter/${encounter.id}` },
      valueQuantity: { value: 72, unit: '/min' },
    });
    Object.assign(A, { patient: patient.id, encounter: encounter.id, obs: obs.id });
  }, 60_000);
  afterAll(() => closeAll(db, server));

  describe('R-01 token expiry and lifetime (item 13)', () => {
    const createWith = async (token: string) => {
      const marker = `anon-${randomUUID()}`;
      const res = await fhir(token, 'POST', 'Patient', { resourceType: 'Patient', identifier: [{ system: ID_SYSTEM, value: marker }] });
      return { res, marker };
    };

    it('R-01: a validly signed token without exp is refused with 401 identity.no-expiry; nothing is stored; the refusal is audited', async () => {
      for (const claims of [{ sub: 'no-exp' }, { sub: 'no-exp-with-iat', iat: nowSeconds() }]) {
        const { res, marker } = await createWith(await signed(claims));
        expectOutcome(res, 401, 'login', 'identity.no-expiry');
        expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/);
        expect(await storedWith(marker)).toBe(0);
        const entry = await onlyEntryOf(res);
        expect(entry).toMatchObject({ actor: null, action: 'C', subtype: 'create', outcome: 4 });
        expect(entry.entry).toMatchObject({ status: 401, error: 'identity.no-expiry' });
      }
    });

    it(`R-01: a lifetime over ${DEFAULT_MAX_TOKEN_LIFETIME_MINUTES} min is refused with 401 lifetime-too-long, from iat or, without, from now`, async () => {
      const max = DEFAULT_MAX_TOKEN_LIFETIME_MINUTES * 60;
      const now = nowSeconds();
      const tooLong = [
        { sub: 'long-iat', iat: now, exp: now + max + 60 },
        { sub: 'long-no-iat', exp: now + max + 600 },
        // An iat in the future does not buy a longer life: counted from now, this token lives ten years.
        { sub: 'long-future-iat', iat: now + 10 * 365 * 86_400, exp: now + 10 * 365 * 86_400 + 3600 },
      ];
      for (const claims of tooLong) {
        const { res, marker } = await createWith(await signed(claims));
        const outcome = expectOutcome(res, 401, 'login', 'identity.lifetime-too-long');
        expect(outcome.issue?.[0].diagnostics).toContain(`at most ${DEFAULT_MAX_TOKEN_LIFETIME_MINUTES}`);
        expect(await storedWith(marker)).toBe(0);
        expect((await onlyEntryOf(res)).entry).toMatchObject({ status: 401, error: 'identity.lifetime-too-long' });
      }
      // The maximum itself is accepted (the same key and claims: only the lifetime differed).
      const { res, marker } = await createWith(await signed({ sub: 'exactly-max', iat: now, exp: now + max }));
      expectStatus(res, 201);
      expect(await storedWith(marker)).toBe(1);
    });

    it('R-01: dev tokens always carry iat and exp, and a ttl beyond the maximum is refused when issuing, not signed', async () => {
      const token = await issueDevToken(server.dataDir, { sub: 'dev-ttl', roles: ['his-system'], ttl: '12h' });
      const claims = JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString('utf8')) as JWTPayload;
      expect((claims.exp as number) - (claims.iat as number)).toBe(12 * 3600);
      expectStatus(await fhir(token, 'GET', `Patient/${A.patient}`), 200);
      await expect(issueDevToken(server.dataDir, { sub: 'dev-ttl', roles: ['his-system'], ttl: '721m' })).rejects.toThrow(/maximum token lifetime/);
    });

    it('R-01: a token signed with another data dir\'s dev key is refused with 401, hinting at another data dir without naming either path', async () => {
      const otherDir = await mkdtemp(join(tmpdir(), 'chartwarden-other-data-dir-'));
      try {
        const token = await issueDevToken(otherDir, { sub: 'his-elsewhere', roles: ['his-system'], ttl: '1h' });
        const { res, marker } = await createWith(token);
        const outcome = expectOutcome(res, 401, 'login', 'identity.invalid-token');
        const text = outcome.issue?.[0].diagnostics ?? '';
        expect(text).toMatch(/another data dir/);
        expect(text).toMatch(/npx chartwarden token/);
        for (const secret of [otherDir, server.dataDir, tmpdir()]) expect(res.text).not.toContain(secret);
        expect(await storedWith(marker)).toBe(0);
        // A token that is merely malformed gets no such hint: the hint is for a signature that does not verify.
        const malformed = expectOutcome(await fhir('not-a.jwt', 'GET', `Patient/${A.patient}`), 401, 'login', 'identity.invalid-token');
        expect(malformed.issue?.[0].diagnostics).not.toMatch(/data dir/);
      } finally {
        await rm(otherDir, { recursive: true, force: true });
      }
    });
  });

  describe('R-02 roles named after Object.prototype members (item 7)', () => {
    it.each(PROTOTYPE_ROLES)('R-02: a token with role %s is an actor without rules: 403 on read and create, never 500; nothing stored', async (role) => {
      const token = await server.token({ sub: `proto-${role}`, roles: [role] });
      expectOutcome(await fhir(token, 'GET', `Observation/${A.obs}`), 403, 'forbidden', 'access.forbidden');
      const marker = `proto-${randomUUID()}`;
      const created = await fhir(token, 'POST', 'Patient', { resourceType: 'Patient', identifier: [{ system: ID_SYSTEM, value: marker }] });
      expectOutcome(created, 403, 'forbidden', 'access.forbidden');
      expect(await storedWith(marker)).toBe(0);
      const searched = await fhir<Bundle>(token, 'GET', `Observation?subject=Patient/${A.patient}`);
      expect(searched.status).toBeLessThan(500);
      expect((searched.body.entry ?? []).length).toBe(0);
      expectOutcome(await explain(token, explainParams(`Observation/${A.obs}`)), 403, 'forbidden', 'access.forbidden');
      expect((await onlyEntryOf(created)).entry).toMatchObject({ status: 403, error: 'access.forbidden' });
    });

    it('R-02: beside a real role, the prototype names add nothing and take nothing away', async () => {
      const token = await server.token({ sub: 'proto-mixed', roles: ['constructor', '__proto__', 'his-system', 'toString'] });
      expectStatus(await fhir(token, 'GET', `Observation/${A.obs}`), 200);
    });

    it.each(PROTOTYPE_ROLES)('R-02: /access/explain?roles=%s answers 400 invalid naming the policy\'s roles', async (role) => {
      const res = await explain(auditor, explainParams(`Observation/${A.obs}`, { roles: `attending,${role}` }));
      const outcome = expectOutcome(res, 400, 'invalid', 'grant.invalid');
      const text = outcome.issue?.[0].diagnostics ?? '';
      expect(text).toContain(`unknown role "${role}"`);
      for (const known of ['attending', 'nurse', 'record-room', 'admin', 'auditor']) expect(text).toContain(known);
    });
  });

  describe('R-01 / R-02 the same rules for tokens verified against a JWKS (production mode)', () => {
    const ISSUER = 'https://idp.example/hardening';
    let jwks: Server;
    let prod: TestServer;
    let sign: (claims: JWTPayload) => Promise<string>;

    beforeAll(async () => {
      const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
      const kid = `idp-${run.slice(0, 8)}`;
      const body = JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' }] });
      jwks = createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(body));
      await new Promise<void>((resolve) => jwks.listen(0, '127.0.0.1', resolve));
      const { port } = jwks.address() as AddressInfo;
      prod = await startTestServer({ identity: { jwksUrl: `http://127.0.0.1:${port}/jwks.json`, issuer: ISSUER } });
      sign = (claims) =>
        new SignJWT({ roles: ['his-system'], ...claims })
          .setProtectedHeader({ alg: 'ES256', kid, typ: 'JWT' })
          .setIssuer(ISSUER)
          .setAudience(DEFAULT_AUDIENCE)
          .sign(privateKey);
    }, 60_000);
    afterAll(async () => {
      await prod?.close();
      await new Promise((resolve) => jwks?.close(resolve));
    });

    /** Both servers share the database: patient A's Observation is there, readable by the HIS, by no one without rules. */
    const read = (token: string, path = `Observation/${A.obs}`) => httpRequest(`${prod.fhirBase}/${path}`, 'GET', { token });

    it.each(PROTOTYPE_ROLES)('R-02: a JWKS token with role %s is an actor without rules: 403, never 500', async (role) => {
      const now = nowSeconds();
      expectOutcome(await read(await sign({ sub: `idp-${role}`, roles: [role], iat: now, exp: now + 600 })), 403, 'forbidden', 'access.forbidden');
    });

    it('R-01: a JWKS token without exp, or living longer than the maximum, is refused with 401; a good one is not', async () => {
      const now = nowSeconds();
      expectOutcome(await read(await sign({ sub: 'idp-no-exp', iat: now })), 401, 'login', 'identity.no-expiry');
      expectOutcome(await read(await sign({ sub: 'idp-long', iat: now, exp: now + 24 * 3600 })), 401, 'login', 'identity.lifetime-too-long');
      // The accepted control: same key, same claims, a sane lifetime.
      expectStatus(await read(await sign({ sub: 'idp-ok', iat: now, exp: now + 600 })), 200);
    });

    it('R-01: with a JWKS, a signature that does not verify is refused without the dev data-dir hint', async () => {
      const devSigned = await issueDevToken(server.dataDir, { sub: 'dev-at-prod', roles: ['his-system'], ttl: '10m' });
      const outcome = expectOutcome(await read(devSigned), 401, 'login', 'identity.invalid-token');
      expect(outcome.issue?.[0].diagnostics).not.toMatch(/data dir/);
    });
  });

  describe('R-02 explanations without the facts for those who may not read (item 4)', () => {
    const REFUSED_SHAPE = ['allowed', 'detail', 'explanation', 'policyVersion', 'rules'];

    it('R-02: admin (no clinical access) gets the decision and the rule ids only: no patient, care team, label or facts', async () => {
      const res = await explain(admin, explainParams(`Observation/${A.obs}`));
      expectStatus(res, 200);
      expect(Object.keys(res.body).sort()).toEqual(REFUSED_SHAPE);
      expect(res.body).toMatchObject({ allowed: false, detail: 'decision-only', policyVersion: expect.any(String) });
      expect(res.body.rules.map((r) => r.rule).sort()).toEqual(['attending.break-glass', 'attending.care-team', 'attending.department', 'attending.grant']);
      for (const rule of res.body.rules) expect(Object.keys(rule).sort()).toEqual(['effect', 'rule']);
      for (const secret of [A.patient, A.encounter, DR_CARDIO, CARDIO, '"label"', 'careTeam', 'departments']) expect(res.text).not.toContain(secret);
      // The auditor has no clinical access either in the default policy: the same answer.
      const byAuditor = await explain(auditor, explainParams(`Observation/${A.obs}`));
      expect(byAuditor.body).toEqual(res.body);
    });

    it('R-02: a caller who may read the record (auditor + medical-affairs) gets the facts and every rule\'s conditions', async () => {
      const res = await explain(recordsAuditor, explainParams(`Observation/${A.obs}`));
      expectStatus(res, 200);
      const facts = { patient: A.patient, careTeam: [DR_CARDIO], departments: [CARDIO], label: 'R' };
      expect(res.body).toMatchObject({ allowed: false, detail: 'full', facts });
      expect(res.body.rules.every((r) => r.matched === false && typeof r.conditions === 'object')).toBe(true);
    });

    it('R-02: an unknown id answers exactly like a record the caller may not read: same status, same body (no 404)', async () => {
      const unknown = `no-such-${randomUUID().slice(0, 8)}`;
      for (const params of [explainParams, (r: string) => explainParams(r, { actor: 'dr-cardio', dept: CARDIO, practitioner: DR_CARDIO })]) {
        const known = await explain(admin, params(`Observation/${A.obs}`));
        const missing = await explain(admin, params(`Observation/${unknown}`));
        expectStatus(missing, known.status);
        expect(missing.body).toEqual(known.body);
      }
      // A target whose rules need no facts (the HIS) is allowed on both alike; only the echoed id differs.
      const known = await explain(admin, explainParams(`Observation/${A.obs}`, { actor: 'his', roles: 'his-system' }));
      const missing = await explain(admin, explainParams(`Observation/${unknown}`, { actor: 'his', roles: 'his-system' }));
      expectStatus(known, 200);
      expect(known.body.allowed).toBe(true);
      expect({ ...missing.body, explanation: missing.body.explanation.replace(unknown, A.obs) }).toEqual(known.body);
      // A type that is not stored at all answers alike too.
      const oddType = await explain(admin, explainParams(`Basic/${unknown}`));
      expectStatus(oddType, 200);
      expect(Object.keys(oddType.body).sort()).toEqual(REFUSED_SHAPE);
    });

    it('R-20: the explain call is audited against the patient of the explained record, though the answer does not name it', async () => {
      const res = await explain(admin, explainParams(`Observation/${A.obs}`));
      expect(res.text).not.toContain(A.patient);
      const entry = await onlyEntryOf(res);
      expect(entry).toMatchObject({ actor: 'admin-hardening', patient: A.patient, action: 'E', subtype: 'explain', entity_type: 'Policy', outcome: 0 });
      expect(entry.entry.rule).toBe('admin.explain');
      // An unknown id concerns no patient.
      const missing = await explain(admin, explainParams(`Observation/no-such-${run.slice(0, 8)}`));
      expect((await onlyEntryOf(missing)).patient).toBeNull();
      // A refused explain (a nurse may not explain) is recorded against the patient it asked about, and says nothing else.
      const refused = await explain(nurse, explainParams(`Observation/${A.obs}`));
      expectOutcome(refused, 403, 'forbidden', 'access.forbidden');
      expect(refused.text).not.toContain(A.patient);
      expect(await onlyEntryOf(refused)).toMatchObject({ actor: 'nurse-hardening', patient: A.patient, outcome: 4 });
    });

    it('R-44: a record withheld by a public-incident seal is explained to a non-reader without the case; a reader on the team sees it', async () => {
      const patient = await seedAs<Patient>(server.fhirBase, his, { resourceType: 'Patient', identifier: [{ system: ID_SYSTEM, value: 'patient-withheld' }] });
      const obs = await seedAs<Observation>(server.fhirBase, his, {
        resourceType: 'Observation',
        status: 'final',
        code: { coding: [{ system: ID_SYSTEM, code: 'hb' }] },
        subject: { reference: `Patient/${patient.id}` },
        valueQuantity: { value: 132, unit: 'g/L' },
      });
      const officer = await server.token({ sub: 'officer-hardening', roles: ['disputes-officer'] });
      const opened = await httpRequest<{ id: string; status: string }>(`${server.root}/disputes`, 'POST', {
        token: officer,
        headers: { 'content-type': 'application/json', accept: 'application/json' },
        body: {
          patient: `Patient/${patient.id}`,
          reason: '舆情事件',
          scope: { kind: 'whole-record' },
          trigger: 'public-incident',
          team: ['Practitioner/records-auditor-hardening'],
        },
      });
      expectStatus(opened, 201);
      expect(opened.body.status).toBe('sealed');
      const params = explainParams(`Observation/${obs.id}`, { actor: 'his', roles: 'his-system' });
      const refused = await explain(admin, params);
      expectStatus(refused, 200);
      expect(refused.body).toMatchObject({ allowed: false, detail: 'decision-only', decidedBy: expect.stringContaining('R-44') });
      expect(refused.text).not.toContain(opened.body.id);
      expect(refused.text).not.toContain(patient.id);
      const onTeam = await explain(recordsAuditor, params);
      expect(onTeam.body).toMatchObject({ allowed: false, detail: 'full', decidedBy: `dispute ${opened.body.id} (R-44)`, facts: { patient: patient.id } });
    });

    it('R-02: an unknown action is 400 invalid naming the actions, before any record is looked at', async () => {
      const outcome = expectOutcome(await explain(admin, explainParams(`Observation/${A.obs}`, { action: 'constructor' })), 400, 'invalid', 'grant.invalid');
      expect(outcome.issue?.[0].diagnostics).toContain('read, search');
    });
  });
});
