import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { parse } from 'yaml';
import type { Bundle, BundleEntry, Composition, Observation, OperationOutcome, Patient, Resource } from '@medplum/fhirtypes';
import type { ChangeHistory, VersionDiff } from '../../src/governance/ledger.service.js';
import { ERROR_CODE_SYSTEM } from '../../src/fhir/operation-outcome.mapper.js';
import { clinicalBuilders, keyOf } from '../support/fhir-builders.js';
import { expectOutcome, expectStatus } from '../support/fhir-expect.js';
import { httpRequest, type HttpResult } from '../support/http.js';
import { closeAll, connectTestDatabase, startTestServer, type TestServer } from '../support/test-app.js';

/**
 * Issue #12, items 1–3, attacked over real HTTP: leaks through older versions and through
 * conditional-request probes.
 *
 * The version rule (docs/decisions/0010-version-readability.md): a version is readable only
 * if the caller may read that version by its own facts AND the current version by its facts.
 * It holds for vread, batch and transaction vread, instance and type history and `$changes`;
 * `$everything` and `_include` serve current versions only. Conditional creates probe only
 * what the caller may search: a hidden record (another team's, or withheld by a public
 * incident, R-44) counts as no match.
 *
 * Every secret is a marker string: a leak is caught wherever it hides in a response.
 */

const run = randomUUID().slice(0, 8);
const ID_SYSTEM = `urn:chartwarden-e2e:hardening-versions:${run}`;
const CODE_SYSTEM = `urn:chartwarden-e2e:hardening-versions-code:${run}`;
const CARDIO = `ver-cardio-${run}`;
const NEURO = `ver-neuro-${run}`;
const DR_CARDIO = `Practitioner/ver-dr-cardio-${run}`;
const DR_NEURO = `Practitioner/ver-dr-neuro-${run}`;
const CONFIDENTIALITY = 'http://terminology.hl7.org/CodeSystem/v3-Confidentiality';
const RESTRICTED = { meta: { security: [{ system: CONFIDENTIALITY, code: 'R' }] } };
const LOINC = 'http://loinc.org';
/** Text of version 1 of an Observation that is labelled R from version 2 on. */
const SECRET_V1 = `SECRET-V1-${run}`;
const SECRET_V2 = `SECRET-V2-${run}`;
/** Text of a Composition while it belonged to patient P2 (version 1), before it was moved to P1. */
const SECRET_P2 = `SECRET-P2-${run}`;
/** Text of a Composition's R-labelled version 1, later relabelled to normal. */
const SECRET_R = `SECRET-R-${run}`;
/** Text of the R-labelled middle version of a Composition whose first and last versions are normal. */
const SECRET_MIDDLE = `SECRET-MIDDLE-${run}`;
/** Text of a patient-P2 Observation that conditional creates probe for. */
const SECRET_PROBE = `SECRET-PROBE-${run}`;
/** How `$changes` shows the HIS's version 2 to someone who may read it but not version 1 (decision 0010). */
const WITHHELD_V2 = {
  version: 2,
  recorded: expect.any(String),
  editor: 'his-test',
  practitioner: 'Practitioner/his-test',
  kind: 'update',
  changes: [],
  diff: [],
  withheld: true,
};

type Res<T = OperationOutcome> = HttpResult<T> & { rid: string };

interface AuditRow {
  patient: string | null;
  subtype: string;
  outcome: number;
  content: string;
}

const query = (params: Record<string, string>) => new URLSearchParams(params).toString();
const narrative = (text: string) => ({ status: 'generated' as const, div: `<div xmlns="http://www.w3.org/1999/xhtml">${text}</div>` });
const versionKeys = (b: Bundle) => (b.entry ?? []).map((e) => `${keyOf(e.resource)}/_history/${e.resource?.meta?.versionId}`);

/** The resource without the server's own meta (version, time), keeping its labels: ready to be PUT back with changes. */
function editable<T extends Resource>(resource: T): T {
  const { meta, ...rest } = resource;
  const { versionId: _v, lastUpdated: _l, ...kept } = meta ?? {};
  return (Object.keys(kept).length ? { ...rest, meta: kept } : rest) as T;
}

describe('Issue #12 items 1–3: versions and conditional probes (e2e, real HTTP + PostgreSQL)', () => {
  let server: TestServer;
  /** The same database behind a server whose policy hides existence (`hiddenRecords: not-found`). */
  let hiding: TestServer;
  let db: pg.Client;
  let seedStart: string;
  const tokens = { his: '', drCardio: '', chiefCardio: '', drNeuro: '', officer: '', hidingCardio: '', hidingHis: '' };
  const P1 = { patient: '', encounter: '' };
  const P2 = { patient: '', encounter: '' };
  const P3 = { patient: '', encounter: '' };
  /** Observation of P1: version 1 unlabelled, version 2 labelled R. */
  let labelledLater = '';
  /** Composition moved from P2 (version 1) to P1 (version 2). */
  let moved = '';
  /** Composition of P1: version 1 labelled R, version 2 unlabelled, version 3 retitled. */
  let relabelled = '';
  /** Composition of P1: version 1 normal, version 2 labelled R, version 3 normal again. */
  let middle = '';
  /** P2's Observations (hidden from dr-cardio) that conditional creates probe for. */
  const probe = {
    hiddenId: `hidden-${run}`,
    hiddenTx: `hidden-tx-${run}`,
    hiddenA: '',
    hiddenB: '',
    visibleP1: `visible-p1-${run}`,
    visibleP3: `visible-p3-${run}`,
  };

  async function send<T = OperationOutcome>(
    srv: TestServer,
    token: string,
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<Res<T>> {
    const rid = `ver-${randomUUID()}`;
    const url = path.startsWith('http') ? path : path ? `${srv.fhirBase}/${path}` : srv.fhirBase;
    const accept = 'application/fhir+json, application/json';
    const res = await httpRequest<T>(url, method, { token, body, headers: { accept, 'x-request-id': rid, ...headers } });
    return { ...res, rid };
  }
  const fhir = <T = OperationOutcome>(token: string, method: string, path: string, body?: unknown, headers?: Record<string, string>) =>
    send<T>(server, token, method, path, body, headers);
  const seed = async <T extends Resource>(resource: T): Promise<string> => {
    const res = await fhir<T>(tokens.his, 'POST', resource.resourceType, resource);
    expectStatus(res, 201);
    return res.body.id as string;
  };
  /** PUTs a new version as the HIS. */
  const revise = async <T extends Resource>(resource: T): Promise<T> => {
    const res = await fhir<T>(tokens.his, 'PUT', `${resource.resourceType}/${resource.id}`, editable(resource));
    expectStatus(res, 200);
    return res.body;
  };
  const hisRead = async <T extends Resource>(type: string, id: string) => {
    const res = await fhir<T>(tokens.his, 'GET', `${type}/${id}`);
    expectStatus(res, 200);
    return res.body;
  };
  const changes = <T = ChangeHistory>(token: string, type: string, id: string, q = '', srv = server) =>
    send<T>(srv, token, 'GET', `${type}/${id}/$changes${q}`);
  const auditOf = async (rid: string) =>
    (await db.query<AuditRow>('SELECT patient, subtype, outcome, content FROM audit_entry WHERE request_id = $1 ORDER BY chain, seq', [rid])).rows;
  /** Ground truth past every policy: how many Observations carry this identifier value. */
  const storedWith = async (value: string) =>
    (
      await db.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM fhir_resource WHERE resource_type = 'Observation' AND content->'identifier' @> $1::jsonb`,
        [JSON.stringify([{ system: ID_SYSTEM, value }])],
      )
    ).rows[0].n;
  const versionCount = async (type: string, id: string) =>
    (await db.query<{ n: number }>('SELECT count(*)::int AS n FROM fhir_resource_version WHERE resource_type = $1 AND id = $2', [type, id])).rows[0].n;

  const expectNoText = (body: unknown, ...secrets: string[]) => {
    const text = JSON.stringify(body ?? null);
    for (const s of secrets) expect(text).not.toContain(s);
  };
  const expectForbidden = (res: HttpResult<unknown>, ...secrets: string[]) => {
    expectOutcome(res, 403, 'forbidden', 'access.forbidden');
    expect(res.headers.get('etag')).toBeNull();
    expectNoText(res.body, ...secrets);
  };

  const build = clinicalBuilders({ identifier: ID_SYSTEM, code: CODE_SYSTEM, family: 'Ver' });
  const encounterOf = (patient: string, dept: string, practitioner: string) => build.encounter(patient, dept, practitioner);
  const observation = (patient: string, encounter: string, value: string, note: string, extra: Partial<Observation> = {}): Observation =>
    build.observation({ patient, encounter, code: 'hr', identifier: value, note }, extra);
  const progressNote = (patient: string, encounter: string, author: string, text: string, extra: Partial<Composition> = {}): Composition => ({
    resourceType: 'Composition',
    status: 'preliminary',
    type: { coding: [{ system: LOINC, code: '11506-3', display: 'Progress note' }] },
    subject: { reference: `Patient/${patient}` },
    encounter: { reference: `Encounter/${encounter}` },
    date: new Date().toISOString(),
    author: [{ reference: author }],
    title: '日常病程记录',
    section: [{ title: '病情记录', text: narrative(text) }],
    ...extra,
  });

  beforeAll(async () => {
    server = await startTestServer();
    const policyFile = fileURLToPath(new URL('../../policy/default.policy.yaml', import.meta.url));
    const document = parse(readFileSync(policyFile, 'utf8')) as { settings: Record<string, unknown> };
    document.settings.hiddenRecords = 'not-found';
    hiding = await startTestServer({ policy: document as unknown as Record<string, unknown> });
    db = await connectTestDatabase();
    tokens.his = await server.token();
    tokens.drCardio = await server.token({ sub: `ver-dr-cardio-${run}`, roles: ['attending'], department: CARDIO, fhirUser: DR_CARDIO });
    tokens.chiefCardio = await server.token({ sub: `ver-chief-${run}`, roles: ['chief'], department: CARDIO, fhirUser: `Practitioner/ver-chief-${run}` });
    tokens.drNeuro = await server.token({ sub: `ver-dr-neuro-${run}`, roles: ['attending'], department: NEURO, fhirUser: DR_NEURO });
    tokens.officer = await server.token({ sub: `ver-officer-${run}`, roles: ['disputes-officer'] });
    tokens.hidingCardio = await hiding.token({ sub: `ver-dr-cardio-${run}`, roles: ['attending'], department: CARDIO, fhirUser: DR_CARDIO });
    tokens.hidingHis = await hiding.token();
    seedStart = new Date(Date.now() - 1000).toISOString();

    for (const id of [CARDIO, NEURO]) expectStatus(await fhir(tokens.his, 'PUT', `Organization/${id}`, { resourceType: 'Organization', id, name: id }), 201);
    for (const [p, dept, dr] of [
      [P1, CARDIO, DR_CARDIO],
      [P2, NEURO, DR_NEURO],
      [P3, CARDIO, DR_CARDIO],
    ] as const) {
      p.patient = await seed<Patient>({ resourceType: 'Patient', name: [{ family: `Ver${run}` }] });
      p.encounter = await seed(encounterOf(p.patient, dept, dr));
    }

    // Observation of P1, unlabelled, then labelled R: dr-cardio may no longer read it.
    labelledLater = await seed(observation(P1.patient, P1.encounter, `labelled-${run}`, SECRET_V1));
    await revise({ ...(await hisRead<Observation>('Observation', labelledLater)), ...RESTRICTED, note: [{ text: SECRET_V2 }] });

    // A Composition written for P2, then moved to P1 (a HIS correcting the wrong patient).
    moved = await seed(progressNote(P2.patient, P2.encounter, DR_NEURO, SECRET_P2));
    await revise(progressNote(P1.patient, P1.encounter, DR_CARDIO, '已更正患者。', { id: moved }));

    // A Composition of P1 written under R, then relabelled normal, then retitled.
    relabelled = await seed(progressNote(P1.patient, P1.encounter, DR_CARDIO, SECRET_R, RESTRICTED));
    const v2 = await revise(progressNote(P1.patient, P1.encounter, DR_CARDIO, '患者病情平稳。', { id: relabelled }));
    await revise({ ...v2, title: '日常病程记录（补记）' });

    // A Composition of P1 whose version 2 alone was labelled R.
    middle = await seed(progressNote(P1.patient, P1.encounter, DR_CARDIO, '入院第一天。'));
    await revise(progressNote(P1.patient, P1.encounter, DR_CARDIO, SECRET_MIDDLE, { id: middle, ...RESTRICTED }));
    await revise(progressNote(P1.patient, P1.encounter, DR_CARDIO, '入院第三天。', { id: middle }));

    // What conditional creates probe: P2's records (hidden from dr-cardio) and records of P1 and P3 (visible to dr-cardio).
    await seed(observation(P2.patient, P2.encounter, probe.hiddenId, SECRET_PROBE));
    await seed(observation(P2.patient, P2.encounter, probe.hiddenTx, SECRET_PROBE));
    probe.hiddenA = await seed(observation(P2.patient, P2.encounter, `hidden-a-${run}`, SECRET_PROBE));
    probe.hiddenB = await seed(observation(P2.patient, P2.encounter, `hidden-b-${run}`, SECRET_PROBE));
    await seed(observation(P1.patient, P1.encounter, probe.visibleP1, 'visible'));
    await seed(observation(P3.patient, P3.encounter, probe.visibleP3, 'visible'));
  }, 120_000);

  afterAll(() => closeAll(db, hiding, server));

  it('R-07: the seed is what the attacks assume (positive controls): the chief reads R versions, dr-cardio reads P1, dr-neuro reads P2', async () => {
    for (const v of ['1', '2']) expectStatus(await fhir(tokens.chiefCardio, 'GET', `Observation/${labelledLater}/_history/${v}`), 200);
    const v1 = await fhir<Observation>(tokens.chiefCardio, 'GET', `Observation/${labelledLater}/_history/1`);
    expect(JSON.stringify(v1.body)).toContain(SECRET_V1);
    expectStatus(await fhir(tokens.drCardio, 'GET', `Composition/${moved}`), 200);
    expectStatus(await fhir(tokens.drCardio, 'GET', `Composition/${relabelled}`), 200);
    expectStatus(await fhir(tokens.drNeuro, 'GET', `Encounter/${P2.encounter}`), 200);
    // The HIS reads every version: the versions the attacks aim at really hold the secrets.
    expect(JSON.stringify((await fhir(tokens.his, 'GET', `Composition/${moved}/_history/1`)).body)).toContain(SECRET_P2);
    expect(JSON.stringify((await fhir(tokens.his, 'GET', `Composition/${relabelled}/_history/1`)).body)).toContain(SECRET_R);
  });

  describe('item 1: the version rule (R-03, R-07) for vread, batch, transaction and history', () => {
    it('R-07: Observation labelled R from version 2: dr-cardio, refused the current version, is refused version 1 too (403, audited)', async () => {
      expectForbidden(await fhir(tokens.drCardio, 'GET', `Observation/${labelledLater}`), SECRET_V1, SECRET_V2);
      const res = await fhir(tokens.drCardio, 'GET', `Observation/${labelledLater}/_history/1`);
      expectForbidden(res, SECRET_V1, SECRET_V2);
      expectForbidden(await fhir(tokens.drCardio, 'GET', `Observation/${labelledLater}/_history/2`), SECRET_V1, SECRET_V2);
      expectForbidden(await fhir(tokens.drCardio, 'GET', `Observation/${labelledLater}/_history`), SECRET_V1, SECRET_V2);
      expect(await auditOf(res.rid)).toEqual([expect.objectContaining({ subtype: 'vread', outcome: 4, patient: P1.patient })]);
      expect(await versionCount('Observation', labelledLater)).toBe(2);
    });

    it('R-07: the same vread inside a batch answers 403 in its entry, and inside a transaction fails the transaction; no version text in either', async () => {
      const batch = await fhir<Bundle>(tokens.drCardio, 'POST', '', {
        resourceType: 'Bundle',
        type: 'batch',
        entry: [
          { request: { method: 'GET', url: `Observation/${labelledLater}/_history/1` } },
          { request: { method: 'GET', url: `Composition/${relabelled}/_history/2` } },
        ],
      });
      expectStatus(batch, 200);
      const [refused, allowed] = batch.body.entry as BundleEntry[];
      expect(refused.response?.status).toBe('403 Forbidden');
      expect(refused.resource).toBeUndefined();
      expect((refused.response?.outcome as OperationOutcome).issue?.[0]).toMatchObject({
        code: 'forbidden',
        details: { coding: [{ system: ERROR_CODE_SYSTEM, code: 'access.forbidden' }] },
      });
      expect(allowed.response?.status).toBe('200 OK');
      expect(allowed.resource).toMatchObject({ resourceType: 'Composition', id: relabelled, meta: { versionId: '2' } });
      expectNoText(batch.body, SECRET_V1, SECRET_V2, SECRET_R);

      const transaction = await fhir(tokens.drCardio, 'POST', '', {
        resourceType: 'Bundle',
        type: 'transaction',
        entry: [{ request: { method: 'GET', url: `Observation/${labelledLater}/_history/1` } }],
      });
      expectForbidden(transaction, SECRET_V1, SECRET_V2);
      expect(transaction.body.issue?.[0].expression?.[0]).toBe('Bundle.entry[0]');
    });

    it('R-03: a Composition moved from P2 to P1: P1\'s team reads the current version but not version 1 (P2\'s), in vread and in history', async () => {
      const current = await fhir<Composition>(tokens.drCardio, 'GET', `Composition/${moved}`);
      expectStatus(current, 200);
      expectNoText(current.body, SECRET_P2);
      expectForbidden(await fhir(tokens.drCardio, 'GET', `Composition/${moved}/_history/1`), SECRET_P2);
      const history = await fhir<Bundle>(tokens.drCardio, 'GET', `Composition/${moved}/_history`);
      expectStatus(history, 200);
      expect(versionKeys(history.body)).toEqual([`Composition/${moved}/_history/2`]);
      expect(history.body.total).toBe(1);
      expectNoText(history.body, SECRET_P2);
    });

    it('R-03: the stricter of both: P2\'s team, who could read version 1 by its own facts, is refused it now that the record is P1\'s', async () => {
      expectForbidden(await fhir(tokens.drNeuro, 'GET', `Composition/${moved}`), SECRET_P2);
      const res = await fhir(tokens.drNeuro, 'GET', `Composition/${moved}/_history/1`);
      expectForbidden(res, SECRET_P2);
      // Refused on the current version, recorded against the patient it belongs to now.
      expect(await auditOf(res.rid)).toEqual([expect.objectContaining({ subtype: 'vread', outcome: 4, patient: P1.patient })]);
      expectForbidden(await fhir(tokens.drNeuro, 'GET', `Composition/${moved}/_history`), SECRET_P2);
    });

    it('R-07: relabelled normal at version 2: dr-cardio reads versions 2 and 3, not the R version 1 (vread 403, history without it)', async () => {
      expectForbidden(await fhir(tokens.drCardio, 'GET', `Composition/${relabelled}/_history/1`), SECRET_R);
      expectStatus(await fhir(tokens.drCardio, 'GET', `Composition/${relabelled}/_history/2`), 200);
      const history = await fhir<Bundle>(tokens.drCardio, 'GET', `Composition/${relabelled}/_history`);
      expectStatus(history, 200);
      expect(versionKeys(history.body)).toEqual([`Composition/${relabelled}/_history/3`, `Composition/${relabelled}/_history/2`]);
      expect(history.body.total).toBe(2);
      expectNoText(history.body, SECRET_R);
      // The chief, whose rules cover R, sees all three.
      const chief = await fhir<Bundle>(tokens.chiefCardio, 'GET', `Composition/${relabelled}/_history`);
      expect(chief.body.total).toBe(3);
    });

    it.each(['Observation', 'Composition'])('R-03 / R-07: type history %s/_history shows only versions the version rule allows', async (type) => {
      const res = await fhir<Bundle>(tokens.drCardio, 'GET', `${type}/_history?${query({ _since: seedStart, _count: '100' })}`);
      expectStatus(res, 200);
      const keys = versionKeys(res.body);
      expectNoText(res.body, SECRET_V1, SECRET_V2, SECRET_P2, SECRET_R, SECRET_PROBE);
      if (type === 'Observation') {
        expect(keys.filter((k) => k.startsWith(`Observation/${labelledLater}/`))).toEqual([]);
      } else {
        expect(keys.filter((k) => k.startsWith(`Composition/${moved}/`))).toEqual([`Composition/${moved}/_history/2`]);
        const shown = keys.filter((k) => k.startsWith(`Composition/${relabelled}/`)).sort();
        expect(shown).toEqual([`Composition/${relabelled}/_history/2`, `Composition/${relabelled}/_history/3`]);
      }
    });

    it('R-20: $everything exports current versions: P1\'s holds the moved Composition without P2\'s text; P2\'s does not hold it', async () => {
      const p1 = await fhir<Bundle>(tokens.drCardio, 'GET', `Patient/${P1.patient}/$everything?_count=100`);
      expectStatus(p1, 200);
      expect(versionKeys(p1.body)).toContain(`Composition/${moved}/_history/2`);
      expect(versionKeys(p1.body)).toContain(`Composition/${relabelled}/_history/3`);
      expectNoText(p1.body, SECRET_P2, SECRET_R, SECRET_V1);
      const p2 = await fhir<Bundle>(tokens.drNeuro, 'GET', `Patient/${P2.patient}/$everything?_count=100`);
      expectStatus(p2, 200);
      expect((p2.body.entry ?? []).map((e) => keyOf(e.resource))).not.toContain(`Composition/${moved}`);
      expectNoText(p2.body, SECRET_P2);
    });

    it('R-03: _include and _revinclude bring current versions only: nothing of an older version comes along', async () => {
      const rev = await fhir<Bundle>(tokens.drCardio, 'GET', `Encounter?${query({ _id: P1.encounter, _revinclude: 'Composition:encounter' })}`);
      expectStatus(rev, 200);
      expect(versionKeys(rev.body)).toEqual(expect.arrayContaining([`Composition/${moved}/_history/2`, `Composition/${relabelled}/_history/3`]));
      expectNoText(rev.body, SECRET_P2, SECRET_R);
      const inc = await fhir<Bundle>(tokens.drCardio, 'GET', `Composition?${query({ _id: moved, _include: 'Composition:encounter' })}`);
      expectStatus(inc, 200);
      expect(versionKeys(inc.body).sort()).toEqual([`Composition/${moved}/_history/2`, `Encounter/${P1.encounter}/_history/1`].sort());
      expectNoText(inc.body, SECRET_P2);
    });

    it('R-03 (decision 0005): where the policy hides existence, a hidden record or version answers exactly as a missing one', async () => {
      const missing = randomUUID();
      const same = async (hidden: string, absent: string, replace: [string, string]) => {
        const [a, b] = [await send(hiding, tokens.hidingCardio, 'GET', hidden), await send(hiding, tokens.hidingCardio, 'GET', absent)];
        expectOutcome(a, 404, 'not-found', 'store.not-found');
        expect(a.headers.get('etag')).toBeNull();
        expect(a.text.split(replace[0]).join(replace[1])).toBe(b.text);
        expect(a.headers.get('content-type')).toBe(b.headers.get('content-type'));
        return a;
      };
      // The current version is hidden (R): read, vread and history look like an unknown id.
      await same(`Observation/${labelledLater}`, `Observation/${missing}`, [labelledLater, missing]);
      const vread = await same(`Observation/${labelledLater}/_history/1`, `Observation/${missing}/_history/1`, [labelledLater, missing]);
      expectNoText(vread.body, SECRET_V1);
      await same(`Observation/${labelledLater}/_history`, `Observation/${missing}/_history`, [labelledLater, missing]);
      // The current version is readable, version 1 is not: it looks like a version the record never had.
      await same(`Composition/${relabelled}/_history/1`, `Composition/${relabelled}/_history/9`, ['version 1', 'version 9']);
      // $changes from/to naming the hidden version: as a missing version.
      const [hidden, absent] = [
        await changes(tokens.hidingCardio, 'Composition', relabelled, '?from=1&to=3', hiding),
        await changes(tokens.hidingCardio, 'Composition', relabelled, '?from=9&to=3', hiding),
      ];
      expectOutcome(hidden, 404, 'not-found', 'governance.version-not-found');
      expect(hidden.text.split('version 1').join('version 9')).toBe(absent.text);
      expectNoText(hidden.body, SECRET_R);
      // Inside a batch too.
      const batch = await send<Bundle>(hiding, tokens.hidingCardio, 'POST', '', {
        resourceType: 'Bundle',
        type: 'batch',
        entry: [
          { request: { method: 'GET', url: `Composition/${relabelled}/_history/1` } },
          { request: { method: 'GET', url: `Composition/${relabelled}/_history/9` } },
        ],
      });
      expectStatus(batch, 200);
      const [e0, e1] = (batch.body.entry ?? []).map((e) => JSON.stringify(e).split('version 1').join('version 9'));
      expect(e0).toBe(e1);
      expect(batch.body.entry?.[0].response?.status).toBe('404 Not Found');
    });
  });

  describe('item 2: $changes shows only versions the caller may read (R-12 under R-03, R-07)', () => {
    it('R-12 / R-07: relabelled document: the change from the R version is a bare fact (version, time, editor), the next one in full', async () => {
      const res = await changes(tokens.drCardio, 'Composition', relabelled);
      expectStatus(res, 200);
      expectNoText(res.body, SECRET_R);
      const [v2, v3] = res.body.versions;
      expect(res.body.versions).toHaveLength(2);
      expect(v2).toEqual(WITHHELD_V2);
      expect(v3).toMatchObject({ version: 3, kind: 'update', docType: 'daily-progress-note', changes: ['replaced /title: "日常病程记录" → "日常病程记录（补记）"'] });
      expect(v3.withheld).toBeUndefined();
      // The ledger's own record of version 2 is what the bare fact repeats.
      const sql = 'SELECT entry FROM edit_ledger WHERE resource_type = $1 AND resource_id = $2 AND version_id = 2';
      const [ledger] = (await db.query<{ entry: string }>(sql, ['Composition', relabelled])).rows;
      expect(v2.recorded).toBe((JSON.parse(ledger.entry) as { recorded: string }).recorded);
      // The read of the changes is audited for P1.
      expect(await auditOf(res.rid)).toEqual([expect.objectContaining({ outcome: 0, patient: P1.patient })]);
      // The chief sees all three in full (positive control: the secret is really in the ledger's diffs).
      const chief = await changes(tokens.chiefCardio, 'Composition', relabelled);
      expect(chief.body.versions.map((v) => [v.version, v.withheld])).toEqual([[1, undefined], [2, undefined], [3, undefined]]);
      expect(JSON.stringify(chief.body)).toContain(SECRET_R);
    });

    it('R-12 / R-03: moved document: P1\'s team sees that version 2 changed it, not P2\'s text; P2\'s team is refused', async () => {
      const res = await changes(tokens.drCardio, 'Composition', moved);
      expectStatus(res, 200);
      expectNoText(res.body, SECRET_P2, `Patient/${P2.patient}`, `Encounter/${P2.encounter}`);
      expect(res.body.versions).toEqual([WITHHELD_V2]);
      expectForbidden(await changes(tokens.drNeuro, 'Composition', moved), SECRET_P2);
    });

    it('R-12 / R-07: an R version between two normal ones: both changes touching it are bare facts; from=1&to=3 skips it and is shown', async () => {
      const res = await changes(tokens.drCardio, 'Composition', middle);
      expectStatus(res, 200);
      expectNoText(res.body, SECRET_MIDDLE);
      expect(res.body.versions.map((v) => [v.version, v.withheld ?? false, v.diff.length > 0])).toEqual([
        [1, false, true],
        [2, true, false],
        [3, true, false],
      ]);
      expect(res.body.versions[1]).toEqual(WITHHELD_V2);
      expect(res.body.versions[2]).toEqual({ ...WITHHELD_V2, version: 3 });
      const across = await changes<VersionDiff>(tokens.drCardio, 'Composition', middle, '?from=1&to=3');
      expectStatus(across, 200);
      expect(across.body.changes).toContainEqual(expect.stringMatching(/^replaced \/section\/0\/text\/div: .*入院第一天。.* → .*入院第三天。/));
      expectNoText(across.body, SECRET_MIDDLE);
      expectForbidden(await changes(tokens.drCardio, 'Composition', middle, '?from=2&to=3'), SECRET_MIDDLE);
    });

    it('R-12: from/to naming a version the caller may not read → 403 as a hidden version, never its content; readable ones → the diff', async () => {
      for (const q of ['?from=1&to=3', '?from=3&to=1', '?from=1&to=1']) {
        const res = await changes<VersionDiff>(tokens.drCardio, 'Composition', relabelled, q);
        expectForbidden(res, SECRET_R);
        expect((res.body as unknown as VersionDiff).diff).toBeUndefined();
      }
      expectForbidden(await changes(tokens.drCardio, 'Composition', moved, '?from=1&to=2'), SECRET_P2);
      const ok = await changes<VersionDiff>(tokens.drCardio, 'Composition', relabelled, '?from=2&to=3');
      expectStatus(ok, 200);
      expect(ok.body).toEqual({
        resource: `Composition/${relabelled}`,
        from: 2,
        to: 3,
        changes: ['replaced /title: "日常病程记录" → "日常病程记录（补记）"'],
        diff: [{ op: 'replace', path: '/title', value: '日常病程记录（补记）' }],
      });
    });
  });

  describe('item 3: conditional creates probe only what the caller may search (R-03, R-44)', () => {
    const newObservation = (patient: typeof P1, value: string) => observation(patient.patient, patient.encounter, value, 'probe');
    /** POSTs a new Observation of `patient` carrying `value`, with `If-None-Exist: condition`. */
    const conditionalCreate = (token: string, patient: typeof P1, value: string, condition: string) =>
      fhir<Observation>(token, 'POST', 'Observation', newObservation(patient, value), { 'if-none-exist': condition });

    it('R-03: If-None-Exist matching only P2\'s hidden record answers as no match: 201, a new P1 record (the intended duplicate)', async () => {
      const before = await storedWith(probe.hiddenId);
      const hidden = await conditionalCreate(tokens.drCardio, P1, probe.hiddenId, `identifier=${ID_SYSTEM}|${probe.hiddenId}`);
      const nothing = `nothing-${randomUUID()}`;
      const none = await conditionalCreate(tokens.drCardio, P1, nothing, `identifier=${ID_SYSTEM}|${nothing}`);
      for (const res of [hidden, none]) {
        expectStatus(res, 201);
        expect(res.body).toMatchObject({ resourceType: 'Observation', subject: { reference: `Patient/${P1.patient}` }, meta: { versionId: '1' } });
        expectNoText(res.body, SECRET_PROBE, P2.patient);
      }
      expect(await storedWith(probe.hiddenId)).toBe(before + 1);
      // The trail names the patient written for, never the one probed.
      const audit = await auditOf(hidden.rid);
      expect(audit.map((a) => a.patient)).toEqual([P1.patient]);
      expect(audit.map((a) => a.content).join()).not.toContain(P2.patient);
    });

    it('R-03: If-None-Exist _id=a,b over two hidden records → 201 as no match (was 412); the HIS, who sees both, gets 412', async () => {
      const value = `ids-${randomUUID()}`;
      const res = await conditionalCreate(tokens.drCardio, P1, value, `_id=${probe.hiddenA},${probe.hiddenB}`);
      expectStatus(res, 201);
      expectNoText(res.body, SECRET_PROBE);
      expect(await storedWith(value)).toBe(1);
      const hisValue = `ids-his-${randomUUID()}`;
      const his = await conditionalCreate(tokens.his, P1, hisValue, `_id=${probe.hiddenA},${probe.hiddenB}`);
      expectOutcome(his, 412, 'multiple-matches', 'store.multiple-matches');
      expect(await storedWith(hisValue)).toBe(0);
      // The refused request is in the trail (a failure is one entry, for the first patient the request concerned).
      expect(await auditOf(his.rid)).toEqual([expect.objectContaining({ outcome: 4 })]);
    });

    it('R-20: a probe matching a record the caller may read answers 200 with it, creates nothing, and the audit entry names its patient', async () => {
      const before = await storedWith(probe.visibleP1);
      const res = await conditionalCreate(tokens.drCardio, P1, probe.visibleP1, `identifier=${ID_SYSTEM}|${probe.visibleP1}`);
      expectStatus(res, 200);
      expect(res.body).toMatchObject({ resourceType: 'Observation', identifier: [{ system: ID_SYSTEM, value: probe.visibleP1 }], note: [{ text: 'visible' }] });
      expect(await storedWith(probe.visibleP1)).toBe(before);
      expect((await auditOf(res.rid)).map((a) => a.patient)).toEqual([P1.patient]);
    });

    it('R-03 / R-20: transaction: an entry matching a hidden record creates; entries matching two patients\' records name both in the trail', async () => {
      const before = await storedWith(probe.hiddenTx);
      const entry = (patient: typeof P1, value: string) => ({
        resource: newObservation(patient, value),
        request: { method: 'POST', url: 'Observation', ifNoneExist: `identifier=${ID_SYSTEM}|${value}` },
      });
      const entries = [entry(P1, probe.hiddenTx), entry(P1, probe.visibleP1), entry(P3, probe.visibleP3)];
      const res = await fhir<Bundle>(tokens.drCardio, 'POST', '', { resourceType: 'Bundle', type: 'transaction', entry: entries });
      expectStatus(res, 200);
      expect(res.body.entry?.map((e) => e.response?.status)).toEqual(['201 Created', '200 OK', '200 OK']);
      expectNoText(res.body, SECRET_PROBE, P2.patient);
      expect(await storedWith(probe.hiddenTx)).toBe(before + 1);
      const patients = (await auditOf(res.rid)).map((a) => a.patient);
      expect(new Set(patients)).toEqual(new Set([P1.patient, P3.patient]));
    });

    it('R-44: records withheld by a public incident count as no match for everyone off the case team (201, not 403)', async () => {
      const P4 = { patient: await seed<Patient>({ resourceType: 'Patient', name: [{ family: `Sealed${run}` }] }), encounter: '' };
      P4.encounter = await seed(encounterOf(P4.patient, CARDIO, DR_CARDIO));
      const sealedValue = `sealed-${run}`;
      await seed(observation(P4.patient, P4.encounter, sealedValue, SECRET_PROBE));
      const opened = await httpRequest<{ status: string }>(`${server.root}/disputes`, 'POST', {
        token: tokens.officer,
        contentType: 'application/json',
        headers: { accept: 'application/json' },
        body: {
          patient: `Patient/${P4.patient}`,
          reason: '舆情事件',
          scope: { kind: 'whole-record' },
          trigger: 'public-incident',
          team: [`Practitioner/ver-team-${run}`],
        },
      });
      expectStatus(opened, 201);
      expect(opened.body.status).toBe('sealed');
      // dr-cardio, on P4's care team but not on the case team, no longer sees the record.
      expectForbidden(await fhir(tokens.drCardio, 'GET', `Encounter/${P4.encounter}`));
      const res = await conditionalCreate(tokens.drCardio, P1, sealedValue, `identifier=${ID_SYSTEM}|${sealedValue}`);
      expectStatus(res, 201);
      expect(res.body.subject?.reference).toBe(`Patient/${P1.patient}`);
      expectNoText(res.body, SECRET_PROBE, P4.patient);
      expect(await storedWith(sealedValue)).toBe(2);
      expect((await auditOf(res.rid)).map((a) => a.patient)).toEqual([P1.patient]);
    });
  });
});
