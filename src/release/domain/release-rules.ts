/**
 * The record room's own rules, as pure functions: which pinned version a copy for a patient may
 * hold (the version rule of issue #12, R-07, R-30), and who may approve a request (separation
 * of duties, policy `copyRequests.separationOfDuties`, R-34).
 */

import { refusedBy, type JudgedVersion } from '../../fhir/fhir-access.port.js';

export type { JudgedVersion };

/**
 * Why a copy for `patient` may not hold `pinned` (a version of the record whose current version
 * is `current`), or undefined when it may. The stricter of both decides: the pinned version by
 * its own facts AND the current version by its facts, each allowed to the office by the policy
 * and each the record of the copy's patient. A version written before the record was labelled
 * R, or before it was moved to another patient, is therefore not copied (nor handed out later).
 */
export function copyRefusal(patient: string, pinned: JudgedVersion, current: JudgedVersion): string | undefined {
  const of = (p: string | undefined) => (p ? `Patient/${p}` : 'no patient');
  if (pinned.patient !== patient) {
    return `version ${pinned.version} is the record of ${of(pinned.patient)}, not of Patient/${patient}: a copy holds only the patient's own record (R-30)`;
  }
  if (current.patient !== patient) {
    return (
      `moved to ${of(current.patient)} since (current version ${current.version}): ` +
      `a copy for Patient/${patient} holds only what is still its record (R-30)`
    );
  }
  // The access policy's version rule, the one every path that returns a version applies.
  const side = refusedBy({ version: pinned, current });
  if (!side) return undefined;
  const refused = side === 'current' ? current : pinned;
  const which = refused === current && current.version !== pinned.version ? `its current version ${current.version}` : `version ${refused.version}`;
  const rule = refused.rule ? `rule ${refused.rule}` : 'no rule of the office allows it';
  return (
    `not copyable by this office under the access policy (${which}: ${rule}): ` +
    'a confidentiality label its rules do not cover, or withheld under a dispute (R-07, R-44); ' +
    'a version is copied only when it and the current version both are'
  );
}

/** Who did the steps before approval (R-34): the clerk who received the request, and the one who verified it. */
export interface IntakeClerks {
  receivedBy: string;
  verifiedBy?: string;
}

/**
 * Separation of duties (policy `copyRequests.separationOfDuties`, default on): the approver is
 * neither the clerk who received the request nor the one who verified its documents. Returns
 * what the approver did already, in words, or undefined when they may approve. A refusal is
 * not subject to it: it hands nothing out, carries its reason, and closes the request.
 */
export function separationBreach(approver: string, clerks: IntakeClerks): string | undefined {
  const did: string[] = [];
  const others: string[] = [];
  if (clerks.receivedBy === approver) did.push('received');
  else others.push(`received by ${clerks.receivedBy}`);
  if (clerks.verifiedBy === approver) did.push('verified');
  else if (clerks.verifiedBy) others.push(`verified by ${clerks.verifiedBy}`);
  if (did.length === 0) return undefined;
  return `${approver} ${did.join(' and ')} this request${others.length ? ` (${others.join(', ')})` : ''}`;
}
