/**
 * Everything an actor can be allowed to do. FHIR interactions (`read`, `search`, `create`,
 * `update`) and the workflow actions later features add rules for (R-10…R-44), defined
 * together so a policy can name any of them today.
 */
export const ACTIONS = [
  'read',
  'search',
  'create',
  'update',
  'sign',
  'cosign',
  'amend',
  'archive',
  'print',
  'export',
  'copy',
  'seal',
  'unseal',
  'audit',
  // workflow subjects: AccessGrant, BreakGlass, Policy, Amendment, Dispute, CopyRequest
  'request',
  'approve',
  'review',
  'list',
  'explain',
  // confirming for the hospital side, at the table, with one's own request (Dispute).
  'witness',
] as const;

export type Action = (typeof ACTIONS)[number];

/** Subjects that are not FHIR resources: the access workflow's own records. */
export const WORKFLOW_SUBJECTS = ['AccessGrant', 'BreakGlass', 'Policy', 'Amendment', 'Dispute', 'CopyRequest'] as const;
export type WorkflowSubject = (typeof WORKFLOW_SUBJECTS)[number];

/** v3-Confidentiality codes, least to most restricted. */
export const CONFIDENTIALITY = ['U', 'L', 'M', 'N', 'R', 'V'] as const;
export type Confidentiality = (typeof CONFIDENTIALITY)[number];
export const CONFIDENTIALITY_SYSTEM = 'http://terminology.hl7.org/CodeSystem/v3-Confidentiality';
