/**
 * Label values for the metrics (issue #14): every one comes from a fixed set, so a caller
 * cannot grow the number of series by sending new paths, and no label ever holds an id,
 * patient data or a token.
 */

/**
 * The audit subtypes an HTTP request can be labelled with (src/audit/domain/interaction.ts):
 * several of them are built from a path segment (`grant-<step>`, `copy-<step>`, `$<op>`), so
 * only the ones ChartWarden's routes produce are kept; anything else is `other`.
 */
export const INTERACTIONS: ReadonlySet<string> = new Set([
  // FHIR REST (BALP restful interactions) and operations.
  'read', 'vread', 'search-type', 'create', 'update', 'delete', 'history-type', 'history-instance', 'transaction', 'batch',
  'everything', 'print', 'changes', 'cosign', 'amend-request', 'archive', 'sign', 'http-request',
  // Access workflow.
  'grant-request', 'grant-list', 'grant-read', 'grant-approve', 'grant-refuse', 'grant-extend',
  'break-glass-list', 'break-glass-read', 'break-glass-review', 'explain',
  // Governance.
  'pending-cosign', 'overdue', 'amendment-list', 'amendment-read', 'amendment-approve', 'amendment-refuse',
  // Copy requests.
  'copy-request', 'copy-request-list', 'copy-request-read', 'copy-evidence', 'copy-verify', 'copy-approve', 'copy-refuse',
  'copy-produce', 'copy-deliver', 'copy-close', 'copy-copies',
  // Disputes.
  'dispute-open', 'dispute-list', 'dispute-read', 'dispute-confirm', 'dispute-seal', 'dispute-supplement', 'dispute-unseal',
  'dispute-inventory', 'dispute-copies', 'dispute-confirmations',
  // Audit trail.
  'access-report', 'integrity-state', 'integrity-run-start', 'integrity-run-read',
]);

/**
 * The label of a request: its audit subtype when it is one of `INTERACTIONS`; requests the
 * trail does not record are named by what they are (`capabilities`, `health`, `metrics`) or
 * `unaudited`.
 */
export function interactionLabel(subtype: string | undefined, path: string): string {
  if (subtype !== undefined) return INTERACTIONS.has(subtype) ? subtype : 'other';
  if (/\/fhir\/metadata\/?$/.test(path)) return 'capabilities';
  if (/^\/health(\/|$)/.test(path)) return 'health';
  if (/^\/metrics\/?$/.test(path)) return 'metrics';
  return 'unaudited';
}

/** A rule named by code rather than by the policy (e.g. `copyRequests.separationOfDuties`): letters and one dot, no digits. */
const CODE_RULE = /^[a-z][A-Za-z]{0,40}\.[a-z][A-Za-z]{0,40}$/;
/** A withholding names its case (`dispute <id> (R-44)`): labelled by the rule id alone. */
const RULE_ID_SUFFIX = /\((R-\d{2})\)$/;

/**
 * The label of a decision's rule: a rule id of the policy in force (bounded by the policy),
 * a rule named in code, the regulation's rule id when the reason names a record (a dispute
 * withholding: `R-44`), `none` when no rule allowed (R-02: denied by default), else `other`.
 */
export function ruleLabel(rule: string | undefined, policyRuleIds: ReadonlySet<string>): string {
  if (rule === undefined || rule === '') return 'none';
  if (policyRuleIds.has(rule) || CODE_RULE.test(rule)) return rule;
  const id = RULE_ID_SUFFIX.exec(rule);
  return id ? id[1] : 'other';
}

/** Every rule id a policy document defines (its roles' rules). */
export function policyRuleIds(document: { roles: Record<string, { rules: readonly { id: string }[] }> }): Set<string> {
  return new Set(Object.values(document.roles).flatMap((role) => role.rules.map((r) => r.id)));
}
