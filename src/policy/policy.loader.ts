import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { packageRoot } from '../common/package-root.js';
import { WORKFLOW_SUBJECTS } from './domain/actions.js';
import { policySchema, type PolicyDocument, type PolicySource } from './domain/policy-document.js';
import { PatientCompartment } from '../store/patient-compartment.js';
import { DocumentTypes } from './domain/document-types.js';
import { PolicyLoadError } from './policy.errors.js';

/** The policy shipped with ChartWarden (`policy/default.policy.yaml`), encoding R-01…R-07 of docs/rules.md. */
export function defaultPolicyPath(): string {
  return join(packageRoot(), 'policy', 'default.policy.yaml');
}

/**
 * Reads and validates a policy document (YAML or JSON). Every problem is reported with its
 * path in the document (`roles.nurse.rules[2].when.onCareTeam: …`), so a bad policy stops
 * start-up with a message that says exactly what to fix.
 */
export function loadPolicy(path: string, resourceTypes: ReadonlySet<string>): PolicyDocument {
  let raw: unknown;
  try {
    raw = parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new PolicyLoadError(`Policy ${path} cannot be read: ${e instanceof Error ? e.message : String(e)}`);
  }
  return validatePolicy(raw, resourceTypes, path);
}

/** Validates a parsed policy document; `source` names it in errors. */
export function validatePolicy(raw: unknown, resourceTypes: ReadonlySet<string>, source = 'policy'): PolicyDocument {
  const parsed = policySchema.safeParse(raw);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${formatPath(i.path)}: ${i.message}`);
    throw new PolicyLoadError(`Policy ${source} is invalid:\n  ${issues.join('\n  ')}`);
  }
  const problems: string[] = [];
  const subjects = new Set<string>([...resourceTypes, ...WORKFLOW_SUBJECTS, 'AuditEvent']);
  const policy: PolicyDocument = { ...parsed.data, groups: resolveGroups(parsed.data.groups, subjects, problems) };
  for (const [roleName, role] of Object.entries(policy.roles)) {
    const ids = new Set<string>();
    role.rules.forEach((rule, i) => {
      const at = `roles.${roleName}.rules[${i}]`;
      if (ids.has(rule.id)) problems.push(`${at}.id: "${rule.id}" is used twice`);
      ids.add(rule.id);
      rule.on.forEach((name, j) => {
        if (!policy.groups[name] && !subjects.has(name)) problems.push(`${at}.on[${j}]: "${name}" is neither a group nor a resource type`);
      });
    });
  }
  policy.governance?.resources.forEach((t, i) => resourceTypes.has(t) || problems.push(`governance.resources[${i}]: "${t}" is not a FHIR R4 resource type`));
  const known = new Set(DocumentTypes.fromProfiles().all().map((t) => t.code));
  const notAType = (t: string) => `"${t}" is not a document type (fhir-profiles/chartwarden-document-types.json)`;
  policy.governance?.documentTypeMap?.forEach((m, i) => known.has(m.type) || problems.push(`governance.documentTypeMap[${i}].type: ${notAType(m.type)}`));
  policy.copyRequests?.parts?.forEach((p, i) => {
    if (!known.has(p.part)) problems.push(`copyRequests.parts[${i}].part: ${notAType(p.part)}`);
    if (!resourceTypes.has(p.resourceType)) problems.push(`copyRequests.parts[${i}].resourceType: "${p.resourceType}" is not a FHIR R4 resource type`);
  });
  Object.keys(policy.governance?.writingDeadlines ?? {}).forEach((t) => known.has(t) || problems.push(`governance.writingDeadlines.${t}: ${notAType(t)}`));
  const roles = new Set(Object.keys(policy.roles));
  policy.governance?.editWindows?.forEach((w, i) => {
    w.roles.forEach((r, j) => roles.has(r) || problems.push(`governance.editWindows[${i}].roles[${j}]: no role "${r}"`));
    if (w.types !== '*') w.types.forEach((t, j) => known.has(t) || problems.push(`governance.editWindows[${i}].types[${j}]: ${notAType(t)}`));
  });
  policy.settings.breakGlass.roles.forEach((r, i) => roles.has(r) || problems.push(`settings.breakGlass.roles[${i}]: no role "${r}"`));
  policy.settings.idNumbersVisibleTo?.forEach((r, i) => roles.has(r) || problems.push(`settings.idNumbersVisibleTo[${i}]: no role "${r}"`));
  if (problems.length) throw new PolicyLoadError(`Policy ${source} is invalid:\n  ${problems.join('\n  ')}`);
  return policy;
}

function formatPath(path: PropertyKey[]): string {
  return path.reduce<string>((acc, k) => (typeof k === 'number' ? `${acc}[${k}]` : acc ? `${acc}.${String(k)}` : String(k)), '') || '(document)';
}

/**
 * Every group as the list of types it names: `{ compartment: Patient }` is the R4 Patient
 * compartment's member types (those with a link to a patient), less `except` (decision 0016).
 */
function resolveGroups(groups: PolicySource['groups'], subjects: ReadonlySet<string>, problems: string[]): Record<string, string[]> {
  const resolved: Record<string, string[]> = {};
  let compartment: string[] | undefined;
  for (const [group, spec] of Object.entries(groups)) {
    if (Array.isArray(spec)) {
      spec.forEach((t, i) => subjects.has(t) || problems.push(`groups.${group}[${i}]: "${t}" is not a FHIR R4 resource type`));
      resolved[group] = spec;
      continue;
    }
    const members = (compartment ??= PatientCompartment.fromProfiles().memberTypes());
    spec.except?.forEach((t, i) => members.includes(t) || problems.push(`groups.${group}.except[${i}]: "${t}" is not a type of the Patient compartment`));
    resolved[group] = members.filter((t) => !spec.except?.includes(t) && subjects.has(t));
  }
  return resolved;
}
