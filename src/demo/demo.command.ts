import type { Bundle, Organization } from '@medplum/fhirtypes';
import type { ServerSettings } from '../config/env.config.js';
import { hospitalTime, zoneLabel } from '../common/hospital-time.js';
import { maskedUrl } from '../database/database-unreachable.js';
import { DEMO_HIS, DemoAlreadySeeded, DemoApi, DemoSeedError } from './demo-api.js';
import { seedCopyRequests } from './demo-copy-requests.js';
import { seedAccessRequests, seedDisputes, type SeededDisputes } from './demo-disputes.js';
import { DEMO_HOSPITAL_ID, DEMO_SYSTEMS, organizations } from './demo-people.js';
import { seedRecords, type SeededRecords } from './demo-records.js';
import { startDemoServer } from './demo-server.js';
import { DemoTimeline } from './demo-timeline.js';
import { DEMO_DEPARTMENTS, DEMO_USERS } from './demo-users.js';

/** What `demo seed` made, for its summary. */
export interface DemoSeedReport {
  /** Where: the data dir, or the masked DATABASE_URL. */
  where: string;
  hospitalName: string;
  records: SeededRecords['counts'];
  patients: { name: string; recordNumber: string }[];
  /** Copy request ids by status. */
  copyRequests: ReadonlyMap<string, string>;
  disputes: SeededDisputes;
  ms: number;
}

/**
 * `npx chartwarden demo seed` (issue #18): fills a fresh data dir (or DATABASE_URL's database)
 * with a small hospital through ChartWarden's own API, on a server started in this process for
 * the purpose (`startDemoServer`). Refuses, changing nothing, when a server runs on the data
 * dir, when a seed began and did not finish, or when the database already holds patients (a
 * demo never mixes with real records); a data dir seeded before is left as it is
 * (`DemoAlreadySeeded`: the hospital Organization marks it), which is no failure.
 */
export async function seedDemoHospital(settings: ServerSettings, progress: (line: string) => void = () => undefined): Promise<DemoSeedReport> {
  const started = Date.now();
  const server = await startDemoServer(settings, progress);
  const where = settings.databaseUrl ? maskedUrl(settings.databaseUrl) : settings.dataDir;
  const stop = () => {
    server.expectStop();
    void server.close().finally(() => process.exit(130));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    const api = await DemoApi.connect(server.root, settings.dataDir, settings.options.identity?.maxTokenLifetimeMinutes);
    await refuseUnlessFresh(api, where, server.policy.timeZone);
    const hospitalName = server.policy.hospitalName;
    const t = new DemoTimeline(new Date(), server.policy.timeZone);
    progress('the hospital, its staff, patients, visits, notes, labs, orders and vital signs');
    const records = await seedRecords(api, t, hospitalName);
    progress("medical affairs' inbox");
    await seedAccessRequests(api, records, t);
    progress("the record room's copy requests");
    const copyRequests = await seedCopyRequests(api, records, t);
    progress("the disputes office's cases");
    const disputes = await seedDisputes(api, records, t);
    await api.fhir(DEMO_HIS, 'marking the seed complete', 'PUT', `Organization/${DEMO_HOSPITAL_ID}`, organizations(hospitalName, 'complete')[0]);
    const patients = [...records.patients.values()].map((p) => ({ name: p.name, recordNumber: p.recordNumber }));
    return { where, hospitalName, records: records.counts, patients, copyRequests, disputes, ms: Date.now() - started };
  } finally {
    process.removeListener('SIGINT', stop);
    process.removeListener('SIGTERM', stop);
    await server.close();
  }
}

/** A database seeded before, or holding any patient, is left alone. */
async function refuseUnlessFresh(api: DemoApi, where: string, timeZone: string): Promise<void> {
  const when = (o?: Organization) => `${hospitalTime(o?.meta?.lastUpdated, timeZone) ?? ''} ${zoneLabel(timeZone)}`;
  const hospital = await api.find<Organization>(DEMO_HIS, `Organization/${DEMO_HOSPITAL_ID}`);
  const state = hospital?.identifier?.find((i) => i.system === DEMO_SYSTEMS.demoSeed)?.value;
  if (state === 'complete') {
    throw new DemoAlreadySeeded(
      `${where} is already seeded (the demo hospital ${hospital?.name ?? ''}, seeded ${when(hospital)}); nothing was changed. ` +
        'Start the server (npm start) and open /console, or seed a fresh data dir (CHARTWARDEN_DATA_DIR)',
    );
  }
  if (hospital) {
    throw new DemoSeedError(
      `a demo seed began on ${where} (${when(hospital)}) and did not finish; nothing was changed. Seed a fresh data dir (CHARTWARDEN_DATA_DIR) instead`,
    );
  }
  const found = await api.fhir<Bundle>(DEMO_HIS, 'looking for patients', 'GET', 'Patient?_summary=count&_total=accurate');
  if ((found.total ?? 0) > 0) {
    throw new DemoSeedError(`${where} already holds ${found.total} patients: the demo hospital goes into a fresh data dir only; nothing was changed`);
  }
}

/** The summary `demo seed` prints: what was made, where, and how to look at it. */
export function seedSummary(report: DemoSeedReport, port: number): string {
  const c = report.records;
  const byRole = (role: string) => DEMO_USERS.filter((u) => u.roles.includes(role)).map((u) => `${u.id} (${u.name})`).join(', ');
  const lines = [
    `demo seed: ${report.hospitalName} is ready in ${report.where} (${(report.ms / 1000).toFixed(1)} s)`,
    `  ${c.staff} staff in ${DEMO_DEPARTMENTS.length} departments (${DEMO_DEPARTMENTS.map((d) => d.name).join(', ')}); ${c.patients} patients: ${report.patients.map((p) => `${p.name} 病案号 ${p.recordNumber}`).join(', ')}`,
    `  ${c.encounters} visits, ${c.documents} notes (${c.signed} signed, ${c.documents - c.signed} awaiting signature), ${c.reports} lab and pathology reports, ` +
      `${c.orders} orders, ${c.vitalSigns} vital signs; ${c.archived} records archived`,
    `  copy requests, one in each status: ${[...report.copyRequests.keys()].join(', ')}`,
    `  disputes: a sealed case (${report.disputes.sealed.inventory.sealed} records sealed), a public incident sealed at once (R-44), an open case to seal`,
    "  medical affairs' inbox: a break-the-glass use to review, an access grant to approve",
    '',
    `Next: npm start, open ${port ? `http://localhost:${port}/console` : '/console on the port the server reports'} and sign in (development sign-in) as`,
    `  record room (病案室), the copy queue: ${byRole('record-room')}`,
    `  disputes office (医患办), the case board: ${byRole('disputes-officer')}`,
    `  medical affairs (医务处), approvals and the hospital's witness at a seal: ${byRole('medical-affairs')}`,
    `  audit (审计): ${byRole('auditor')}`,
    `  the wards: ${['chief', 'attending', 'resident', 'nurse'].map(byRole).join(', ')}`,
  ];
  return lines.join('\n') + '\n';
}
