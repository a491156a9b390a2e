import { EVIDENCE_KINDS, REQUESTER_TYPES, type EvidenceKind, type RequesterType } from '../policy/domain/copy-checklists.js';
import type { LoadedPolicy } from '../policy/loaded-policy.js';
import type { ConsoleSignIn } from './console-settings.js';

/**
 * What the console reads before anyone signs in (`GET /console/config.json`): how staff sign
 * in, and the policy's settings it displays. Read from the policy in force at each request, so
 * a reloaded policy shows at the next page load. Holds no record and no person.
 */
export interface ConsoleConfig {
  signIn: ConsoleSignIn;
  /** The hospital's name (policy `settings.hospitalName`). */
  hospitalName: string;
  /** The zone people read times in (policy `settings.timeZone`). */
  timeZone: string;
  policyVersion: string;
  /** The document types and parts of a record (the shipped CodeSystem's): code, English display, Chinese name. */
  documentTypes: { code: string; display: string; zh?: string }[];
  copyRequests: {
    requesterTypes: readonly RequesterType[];
    evidenceKinds: readonly EvidenceKind[];
    /** R-30 for each requester type: each item is one kind of evidence, or any one of several. */
    checklists: Record<RequesterType, EvidenceKind[][]>;
  };
  /** how long a confirmation stays usable, and after how many years with no claim the hospital may unseal alone. */
  disputes: { confirmationMinutes: number; unilateralUnsealAfterYears: number };
  /** how long a grant lasts by default and at most, in days. */
  grants: { defaultDays: number; maxDays: number };
  /**
   * How staff know a patient: the identifier systems whose value is the 病案号 (policy
   * `settings.medicalRecordNumberSystems`, first match wins, as on the papers), for finding a
   * patient by it and showing it instead of the record's id.
   */
  patients: { medicalRecordNumberSystems: readonly string[] };
}

export function consoleConfig(signIn: ConsoleSignIn, policy: LoadedPolicy): ConsoleConfig {
  const checklists = Object.fromEntries(
    REQUESTER_TYPES.map((type) => [type, policy.copyChecklist(type).map((item) => (typeof item === 'string' ? [item] : [...item]))]),
  ) as Record<RequesterType, EvidenceKind[][]>;
  return {
    signIn,
    hospitalName: policy.hospitalName,
    timeZone: policy.timeZone,
    policyVersion: policy.version,
    documentTypes: policy.documentTypes.all().map(({ code, display, zh }) => ({ code, display, ...(zh ? { zh } : {}) })),
    copyRequests: { requesterTypes: REQUESTER_TYPES, evidenceKinds: EVIDENCE_KINDS, checklists },
    disputes: { confirmationMinutes: policy.disputeConfirmationMinutes, unilateralUnsealAfterYears: policy.unilateralUnsealAfterYears },
    grants: { defaultDays: policy.document.settings.grants.defaultDays, maxDays: policy.document.settings.grants.maxDays },
    patients: { medicalRecordNumberSystems: policy.medicalRecordNumberSystems },
  };
}
