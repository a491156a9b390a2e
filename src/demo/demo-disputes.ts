import { DemoSeedError, type DemoApi } from './demo-api.js';
import { demoVisitors, type PatientKey } from './demo-people.js';
import type { SeededPatient, SeededRecords } from './demo-records.js';
import type { DemoTimeline } from './demo-timeline.js';

/** The disputes officer who opens and seals cases. */
const OFFICER = 'officer-zhou';
/** Medical affairs: the hospital side's witness of a seal and the approver of access requests. */
const WITNESS = 'affairs-wu';

/** A case as the API shows it (the fields the seed reads). */
interface DisputeView {
  id: string;
  status: string;
  inventory: { sealed: number; pending: number };
}

/** What the disputes office holds after the seed. */
export interface SeededDisputes {
  sealed: DisputeView;
  publicIncident: DisputeView;
  open: DisputeView;
}

/**
 * The disputes office's board (issue #7, R-40…R-44): a case sealed with both sides present (the
 * inventory shown, medical affairs confirming it as the hospital's witness, the patient confirming
 * at the seal), a public-opinion incident sealed at once and hidden from everyone outside its team
 * and a case just opened, for a newcomer to seal from the console.
 */
export async function seedDisputes(api: DemoApi, records: SeededRecords, t: DemoTimeline): Promise<SeededDisputes> {
  const patient = (key: PatientKey): SeededPatient => {
    const p = records.patients.get(key);
    if (!p) throw new Error(`no demo patient ${key}`);
    return p;
  };
  const liu = patient('liu-yang');
  const opened = await api.workflow<DisputeView>(OFFICER, 'opening the dispute case of liu-yang', 'POST', '/disputes', {
    patient: `Patient/${liu.id}`,
    reason: '患者对腹腔镜阑尾切除术后切口感染有异议，要求封存病历',
    scope: { kind: 'encounters', encounters: [records.encounters.get('liu-yang-appendix')] },
  });
  const shown = await api.workflow<{ digest: string }>(OFFICER, 'showing both sides the inventory of liu-yang', 'GET', `/disputes/${opened.id}/inventory`);
  await api.workflow(WITNESS, 'the hospital witness confirming the inventory of liu-yang', 'POST', `/disputes/${opened.id}/confirmations`, { step: 'seal', inventoryDigest: shown.digest });
  const sealed = await api.workflow<DisputeView>(OFFICER, 'sealing the record of liu-yang', 'POST', `/disputes/${opened.id}/seal`, {
    inventoryDigest: shown.digest,
    patientWitness: { name: liu.name, relationship: 'self', idDocument: { type: 'resident-id-card', number: liu.idNumber }, confirmed: true },
  });
  expectStatus(sealed, 'sealed', 'liu-yang');

  const huang = patient('huang-lei');
  const incident = await api.workflow<DisputeView>(OFFICER, 'sealing the record of huang-lei (public incident)', 'POST', '/disputes', {
    patient: `Patient/${huang.id}`,
    trigger: 'public-incident',
    reason: `患者家属${demoVisitors(t).linNa.name}在短视频平台发布救治过程视频，引发网络舆情，按规定立即封存病历`,
    team: ['Practitioner/dr-zhao', 'Practitioner/dr-ma'],
  });
  expectStatus(incident, 'sealed', 'huang-lei');

  const zhao = patient('zhao-li');
  const open = await api.workflow<DisputeView>(OFFICER, 'opening the dispute case of zhao-li', 'POST', '/disputes', {
    patient: `Patient/${zhao.id}`,
    reason: '患者对腹腔镜胆囊切除术后疼痛处理有异议，申请封存病历',
    scope: { kind: 'date-range', from: t.day(8), to: t.day(5) },
  });
  expectStatus(open, 'open', 'zhao-li');
  return { sealed, publicIncident: incident, open };
}

/**
 * What waits in medical affairs' inbox (R-04, R-05): a break-the-glass use to review (an
 * on-call cardiologist reading a surgical patient's record at night, with the reason stated)
 * and an access grant requested for a quality review.
 */
export async function seedAccessRequests(api: DemoApi, records: SeededRecords, t: DemoTimeline): Promise<void> {
  const zhao = records.patients.get('zhao-li')?.id;
  const liu = records.patients.get('liu-yang')?.id;
  await api.fhir('dr-li', 'breaking the glass on zhao-li', 'GET', `Patient/${zhao}`, undefined, {
    category: 'http://terminology.hl7.org/CodeSystem/v3-ActReason#BTG; scheme="http://hl7.org/fhir/tag/security"',
    'x-break-glass-reason': encodeURIComponent('夜间急诊会诊：患者胆囊术后返院诉胸闷，需查阅既往住院病历'),
  });
  const until = new Date(t.now.getTime() + 7 * 86_400_000).toISOString();
  await api.workflow('dr-wang', 'requesting an access grant to liu-yang', 'POST', '/access/grants', {
    grantee: 'dr-wang',
    patient: `Patient/${liu}`,
    purpose: 'quality-review',
    reason: '医疗质量与安全管理委员会：术后切口感染病例讨论',
    until,
  });
}

function expectStatus(view: DisputeView, status: string, patient: string): void {
  if (view.status !== status) throw new DemoSeedError(`the dispute case of ${patient} is ${view.status}, not ${status}`);
}
