import { DemoSeedError, type DemoApi } from './demo-api.js';
import { demoVisitors, type DemoPerson, type PatientKey } from './demo-people.js';
import type { SeededRecords } from './demo-records.js';
import { evidenceScan } from './demo-scans.js';
import type { StayKey } from './demo-stays.js';
import type { DemoTimeline } from './demo-timeline.js';

/** The record-room clerk at the desk: receives, checks the evidence, produces and hands out copies. */
const DESK = 'clerk-liu';
/** The other clerk, who approves or refuses (separation of duties, policy copyRequests.separationOfDuties, R-34). */
const APPROVER = 'clerk-sun';

/** How far a request is taken: each status of its life. */
type Stage = 'received' | 'verified' | 'approved' | 'refused' | 'produced' | 'partially-delivered' | 'delivered' | 'closed';

/** One demo request: for which patient, who asks and as whom, why, for what, what they bring, and how far it goes. */
interface DemoRequest {
  patient: PatientKey;
  requesterType: string;
  requester: DemoPerson & { organization?: string; contact?: string };
  purpose: string;
  scope: { all?: true; encounters?: StayKey[] };
  evidence: string[];
  stage: Stage;
  /** A refusal's or a closing's reason. */
  reason?: string;
}

/** A request as the API shows it (the fields the seed reads). */
interface CopyRequestView {
  id: string;
  status: string;
}

/** The requests the demo leaves at the desk: one at each status of a request's life (R-30…R-34). */
function demoRequests(records: SeededRecords, t: DemoTimeline): DemoRequest[] {
  const patient = (key: PatientKey): DemoPerson => {
    const p = records.patients.get(key);
    if (!p) throw new Error(`no demo patient ${key}`);
    return { name: p.name, idNumber: p.idNumber };
  };
  const v = demoVisitors(t);
  return [
    {
      patient: 'li-xiuying',
      requesterType: 'agent',
      requester: { ...v.liJun, contact: '13601107729' },
      purpose: '医保报销（代母亲办理）',
      scope: { all: true },
      evidence: ['id-card', 'agent-id'],
      stage: 'received',
    },
    { patient: 'wang-qiang', requesterType: 'patient', requester: patient('wang-qiang'), purpose: '单位报销', scope: { encounters: ['wang-qiang-clinic'] }, evidence: ['id-card'], stage: 'verified' },
    {
      patient: 'zhang-wei',
      requesterType: 'social-insurance',
      requester: { ...v.officerGao, organization: '北京市医疗保险事务管理中心' },
      purpose: '医保基金使用情况稽核',
      scope: { encounters: ['zhang-wei-stemi'] },
      evidence: ['legal-request', 'officer-id', 'work-id'],
      stage: 'approved',
    },
    {
      patient: 'li-xiuying',
      requesterType: 'agent',
      requester: { ...v.liJun, contact: '13601107729' },
      purpose: '商业保险理赔',
      scope: { all: true },
      evidence: ['id-card', 'agent-id', 'proof-of-agency'],
      stage: 'refused',
      reason: '授权委托书未经患者本人签字，代理关系无法确认；请补充患者签字的授权委托书后重新申请',
    },
    {
      patient: 'zhang-wei',
      requesterType: 'commercial-insurer',
      requester: { ...v.adjusterXu, organization: '中国平安人寿保险股份有限公司北京分公司' },
      purpose: '重大疾病保险理赔',
      scope: { all: true },
      evidence: ['legal-request', 'officer-id', 'work-id', 'insurance-contract', 'patient-consent'],
      stage: 'produced',
    },
    { patient: 'zhao-li', requesterType: 'patient', requester: patient('zhao-li'), purpose: '医保报销', scope: { all: true }, evidence: ['id-card'], stage: 'partially-delivered' },
    { patient: 'zhang-wei', requesterType: 'patient', requester: patient('zhang-wei'), purpose: '单位报销及门诊复查', scope: { all: true }, evidence: ['id-card'], stage: 'delivered' },
    {
      patient: 'liu-yang',
      requesterType: 'patient',
      requester: patient('liu-yang'),
      purpose: '咨询律师',
      scope: { all: true },
      evidence: ['id-card'],
      stage: 'closed',
      reason: '申请人改为申请封存病历（已转医患关系办公室），撤回复印申请',
    },
  ];
}

/** The order of a request's life: each stage is reached through the ones before it. */
const PATH: readonly Stage[] = ['received', 'verified', 'approved', 'produced', 'delivered'];

/**
 * The record room's queue (issue #6, R-30…R-34), one request at each status: each received at
 * the desk by one clerk with the scans of what the requester presented, checked, approved by the
 * other clerk, produced and handed to the requester (identity checked again) as far as its stage;
 * one refused with its reason and one closed (withdrawn). Returns the requests' ids by status.
 */
export async function seedCopyRequests(api: DemoApi, records: SeededRecords, t: DemoTimeline): Promise<Map<string, string>> {
  const made = new Map<string, string>();
  let scans = 0;
  for (const r of demoRequests(records, t)) {
    const patient = records.patients.get(r.patient)?.id;
    const encounters = r.scope.encounters?.map((k) => records.encounters.get(k));
    const step = (what: string) => `copy request (${r.stage}) for ${r.patient}: ${what}`;
    const opened = await api.workflow<CopyRequestView>(DESK, step('receiving it'), 'POST', '/copy-requests', {
      patient: `Patient/${patient}`,
      requesterType: r.requesterType,
      requester: r.requester,
      purpose: r.purpose,
      scope: encounters ? { encounters } : { all: true },
    });
    const at = `/copy-requests/${opened.id}`;
    for (const kind of r.evidence) {
      await api.upload(DESK, step(`scanning the ${kind}`), `${at}/evidence?proves=${kind}&filename=${kind}.png`, evidenceScan(kind, ++scans), 'image/png');
    }
    // As far along the path as the stage, then the refusal or the closing.
    const target = r.stage === 'partially-delivered' ? 'delivered' : r.stage;
    const reach = PATH.includes(target) ? PATH.indexOf(target) : 0;
    if (reach >= 1) await api.workflow(DESK, step('checking the evidence'), 'POST', `${at}/verify`, { identityChecked: true });
    if (reach >= 2) await api.workflow(APPROVER, step('approving it'), 'POST', `${at}/approve`, {});
    if (reach >= 3) await api.workflow(DESK, step('producing the copy'), 'POST', `${at}/produce`);
    if (reach >= 4) {
      const recipient = { name: r.requester.name, idNumber: r.requester.idNumber };
      await api.workflow(DESK, step('handing it out'), 'POST', `${at}/deliver`, { recipient, identityChecked: true, requesterChecked: true, method: 'in-person' });
    }
    if (r.stage === 'refused') await api.workflow(APPROVER, step('refusing it'), 'POST', `${at}/refuse`, { reason: r.reason });
    if (r.stage === 'closed') await api.workflow(DESK, step('closing it'), 'POST', `${at}/close`, { reason: r.reason });
    const final = await api.workflow<CopyRequestView>(DESK, step('reading it back'), 'GET', at);
    if (final.status !== r.stage) throw new DemoSeedError(`copy request ${opened.id} for ${r.patient} is ${final.status}, not ${r.stage}`);
    made.set(r.stage, opened.id);
  }
  return made;
}
