/**
 * The evidence a copy requester presents: who may ask, what each piece of evidence
 * proves, and the regulation's table of what each requester presents. The policy states it
 * (`copyRequests.evidence` overrides the shipped table per requester type); release checks a
 * request against it.
 */

/** Who may ask for a copy. */
export const REQUESTER_TYPES = ['patient', 'agent', 'heir', 'heir-agent', 'police', 'court', 'social-insurance', 'malpractice-assessment', 'commercial-insurer'] as const;
export type RequesterType = (typeof REQUESTER_TYPES)[number];

/** What a piece of evidence proves. `id-card` is the ID of the person the copy is for: the patient, or the heir. */
export const EVIDENCE_KINDS = [
  'id-card',
  'agent-id',
  'power-of-attorney',
  'proof-of-agency',
  'death-certificate',
  'proof-of-relationship',
  'legal-request',
  'officer-id',
  'work-id',
  'insurance-contract',
  'patient-consent',
  'heir-consent',
] as const;
export type EvidenceKind = (typeof EVIDENCE_KINDS)[number];

/** One required item of a checklist: one kind, or any one of several (e.g. the patient's or, after death, the heir's consent). */
export type ChecklistItem = EvidenceKind | readonly EvidenceKind[];

/** R-30 as shipped: what each requester presents (the policy's `copyRequests.evidence` may change it). */
export const DEFAULT_CHECKLISTS: Readonly<Record<RequesterType, readonly ChecklistItem[]>> = {
  patient: ['id-card'],
  agent: ['id-card', 'agent-id', 'proof-of-agency', 'power-of-attorney'],
  heir: ['death-certificate', 'id-card', 'proof-of-relationship'],
  'heir-agent': ['death-certificate', 'id-card', 'proof-of-relationship', 'agent-id', 'proof-of-agency', 'power-of-attorney'],
  police: ['legal-request', 'officer-id', 'work-id'],
  court: ['legal-request', 'officer-id', 'work-id'],
  'social-insurance': ['legal-request', 'officer-id', 'work-id'],
  'malpractice-assessment': ['legal-request', 'officer-id', 'work-id'],
  'commercial-insurer': ['legal-request', 'officer-id', 'work-id', 'insurance-contract', ['patient-consent', 'heir-consent']],
};
