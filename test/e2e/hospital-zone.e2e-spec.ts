import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import type { Encounter, Patient, Resource } from '@medplum/fhirtypes';
import type { AccessReport } from '../../src/audit/access-report.js';
import type { InventoryLine } from '../../src/disputes/domain/dispute-case.js';
import type { DisputeView } from '../../src/disputes/dto/dispute.view.js';
import { expectStatus } from '../support/fhir-expect.js';
import { httpRequest, seedAs } from '../support/http.js';
import { startTestServer, TestClock, type TestServer } from '../support/test-app.js';

/**
 * Issue #18 (G5): a hospital whose policy says Europe/Berlin counts its days on Berlin's clock,
 * not on a fixed UTC+8. A dispute's date range covers the visits of the hospital's days,
 * and the access report groups accesses by the hospital's day and bounds its period by
 * them. Each visit and access below falls on one day in Berlin and on another in Beijing (or in
 * UTC), so a fixed offset would give other answers.
 */
const run = randomUUID().slice(0, 8);

/** The shipped policy, its zone set to Berlin. */
function berlinPolicy(): Record<string, unknown> {
  const file = fileURLToPath(new URL('../../policy/default.policy.yaml', import.meta.url));
  const document = parse(readFileSync(file, 'utf8')) as { settings: Record<string, unknown> };
  return { ...document, settings: { ...document.settings, timeZone: 'Europe/Berlin' } };
}

/** The local day of an instant on a zone's clock, as Intl reads it (not the server's code). */
const dayIn = (zone: string, iso: string) => new Intl.DateTimeFormat('en-CA', { timeZone: zone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(new Date(iso));

describe("The hospital's days in its own zone (e2e, a policy in Europe/Berlin, issue #18 G5)", () => {
  const clock = new TestClock();
  let server: TestServer;
  let his: string;
  let officer: string;
  let auditor: string;

  const seed = <T extends Resource>(resource: T): Promise<T & { id: string }> => seedAs(server.fhirBase, his, resource);
  const disputes = <T = DisputeView>(method: string, path: string, body?: unknown) =>
    httpRequest<T>(`${server.root}/disputes${path}`, method, { token: officer, body, contentType: 'application/json', headers: { accept: 'application/json' } });
  const visit = (patient: string, start: string, end: string): Encounter => ({
    resourceType: 'Encounter',
    status: 'finished',
    class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'AMB' },
    subject: { reference: `Patient/${patient}` },
    period: { start, end },
  });

  beforeAll(async () => {
    server = await startTestServer({ clock, policy: berlinPolicy() });
    his = await server.token();
    officer = await server.token({ sub: `officer-zone-${run}`, roles: ['disputes-officer'] });
    auditor = await server.token({ sub: `auditor-zone-${run}`, roles: ['auditor'] });
  });
  afterAll(async () => {
    await server?.close();
  });

  it("R-40: a date-range case covers the visits of the hospital's days on its own clock, not of UTC+8's", async () => {
    const patient = await seed<Patient>({ resourceType: 'Patient', name: [{ text: `时区-${run}` }] });
    // 15 January 2026 in Berlin (UTC+1) runs from 14 Jan 23:00Z to 15 Jan 22:59:59.999Z.
    const visits = {
      /** 00:30–00:50 on the 15th in Berlin; 07:30 on the 15th in Beijing. */
      earlyOn15th: await seed(visit(patient.id, '2026-01-14T23:30:00Z', '2026-01-14T23:50:00Z')),
      /** 22:00–22:30 on the 14th in Berlin; 05:00 on the 15th in Beijing. */
      lateOn14th: await seed(visit(patient.id, '2026-01-14T21:00:00Z', '2026-01-14T21:30:00Z')),
      /** 23:30–23:50 on the 15th in Berlin; 06:30 on the 16th in Beijing. */
      lateOn15th: await seed(visit(patient.id, '2026-01-15T22:30:00Z', '2026-01-15T22:50:00Z')),
      /** 00:10 on the 16th in Berlin: the day after. */
      on16th: await seed(visit(patient.id, '2026-01-15T23:10:00Z', '2026-01-15T23:20:00Z')),
    };
    for (const [name, v] of Object.entries(visits)) {
      expect({ name, berlin: dayIn('Europe/Berlin', v.period?.start as string) }).toEqual({ name, berlin: name === 'lateOn14th' ? '2026-01-14' : name === 'on16th' ? '2026-01-16' : '2026-01-15' });
    }

    const opened = await disputes('POST', '', { patient: `Patient/${patient.id}`, reason: '患方对门诊诊疗有异议', scope: { kind: 'date-range', from: '2026-01-15', to: '2026-01-15' } });
    expectStatus(opened, 201);
    expect(opened.body.scope).toEqual({ kind: 'date-range', from: '2026-01-15', to: '2026-01-15' });
    const inventory = await disputes<{ status: string; lines: InventoryLine[] }>('GET', `/${opened.body.id}/inventory`);
    expectStatus(inventory, 200);
    const encounters = inventory.body.lines.filter((l) => l.type === 'Encounter').map((l) => l.id);
    expect(encounters.sort()).toEqual([visits.earlyOn15th.id, visits.lateOn15th.id].sort());

    // Two days in Berlin take the 16th's first visit too, and still not the 14th's.
    const wider = await disputes('POST', '', { patient: `Patient/${patient.id}`, reason: '患方对门诊诊疗有异议', scope: { kind: 'date-range', from: '2026-01-15', to: '2026-01-16' } });
    expectStatus(wider, 201);
    const widerLines = (await disputes<{ lines: InventoryLine[] }>('GET', `/${wider.body.id}/inventory`)).body.lines;
    expect(widerLines.filter((l) => l.type === 'Encounter').map((l) => l.id).sort()).toEqual([visits.earlyOn15th.id, visits.lateOn15th.id, visits.on16th.id].sort());
  });

  it("R-20: the access report groups accesses by the hospital's day and bounds its period by the hospital's days", async () => {
    const patient = await seed<Patient>({ resourceType: 'Patient', name: [{ text: `时区报告-${run}` }] });
    const reader = await server.token({ sub: `reader-zone-${run}` });
    const read = () => httpRequest(`${server.fhirBase}/Patient/${patient.id}`, 'GET', { token: reader });
    // 23:30 on 15 January 2031 in Berlin, then 00:30 on the 16th: one day apart there, the same day in Beijing (the 16th) and in UTC (the 15th).
    const before = '2031-01-15T22:30';
    const after = '2031-01-15T23:30';
    expect([dayIn('Europe/Berlin', `${before}:00Z`), dayIn('Europe/Berlin', `${after}:00Z`)]).toEqual(['2031-01-15', '2031-01-16']);
    expect([dayIn('Asia/Shanghai', `${before}:00Z`), dayIn('Asia/Shanghai', `${after}:00Z`)]).toEqual(['2031-01-16', '2031-01-16']);
    clock.advanceTo(Date.parse(`${before}:00Z`));
    expectStatus(await read(), 200);
    clock.advanceTo(Date.parse(`${after}:00Z`));
    expectStatus(await read(), 200);
    expectStatus(await read(), 200);

    const report = async (query = '') => {
      const res = await httpRequest<AccessReport>(`${server.root}/audit/access-report?patient=Patient/${patient.id}${query}`, 'GET', { token: auditor, headers: { accept: 'application/json' } });
      expect(res.status).toBe(200);
      // The server's clock runs on from where it was moved: the minute of the first and last access is where it was put.
      return res.body.rows.filter((r) => r.actor === `reader-zone-${run}`).map((r) => ({ day: r.day, reads: r.reads, first: r.first.slice(0, 16), last: r.last.slice(0, 16) }));
    };
    expect(await report()).toEqual([
      { day: '2031-01-15', reads: 1, first: before, last: before },
      { day: '2031-01-16', reads: 2, first: after, last: after },
    ]);
    // A day named in from/to is the hospital's day: the 16th in Berlin holds only the two reads after its midnight.
    expect(await report('&from=2031-01-16&to=2031-01-16')).toEqual([{ day: '2031-01-16', reads: 2, first: after, last: after }]);
    expect(await report('&from=2031-01-15&to=2031-01-15')).toEqual([{ day: '2031-01-15', reads: 1, first: before, last: before }]);
    // The trail search reads a day the same way.
    const search = await httpRequest<{ total: number }>(`${server.fhirBase}/AuditEvent?patient=Patient/${patient.id}&agent=reader-zone-${run}&date=2031-01-15`, 'GET', { token: auditor });
    expect(search.status).toBe(200);
    expect(search.body.total).toBe(1);
  });
});
