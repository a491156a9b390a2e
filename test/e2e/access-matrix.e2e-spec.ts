import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type {
  Appointment,
  Bundle,
  CareTeam,
  ChargeItem,
  CompartmentDefinition,
  Extension,
  Encounter,
  Identifier,
  ImagingStudy,
  Observation,
  OperationOutcome,
  Organization,
  Patient,
  Practitioner,
  Resource,
} from '@medplum/fhirtypes';
import { parse } from 'yaml';
import { FhirStore } from '../../src/store/fhir-store.port.js';
import { SearchParameterRegistry } from '../../src/store/search/search-parameter.registry.js';
import { parseSearchRequest } from '../../src/store/search/search-request.js';
import { httpRequest, type HttpResult } from '../support/http.js';
import { startTestServer, type TestServer } from '../support/test-app.js';

/**
 * The access policy matrix (issue #3, R-02…R-07): every role of the shipped
 * `policy/default.policy.yaml` × read / search / create / update × the actor's relation to
 * the patient × confidentiality label × the care window, asserted over real HTTP.
 *
 * The EXPECTED results are computed here, from this file's own encoding of the YAML
 * (`POLICY` below, checked rule by rule against the YAML file itself) and of the fact
 * derivation documented in `src/store/access-facts.ts` (`factsOf` below). No product code
 * decides an expectation.
 *
 * The data (one cardiology inpatient stay per window, all in `Organization/cardio`):
 * - `open`: patient with an in-progress encounter; `Practitioner/<run>-care` participates.
 * - `10d`: patient with an encounter finished 10 days ago; `care` participates.
 * - `40d`: patient with an encounter finished 40 days ago (outside the 30-day window);
 *   `care` and `past` participate; `care` is also a member of the patient's active
 *   CareTeam, `former` of an inactive one. So after 40 days only `care` is still on the care
 *   team (through the CareTeam), while nobody has the department any more.
 * - In each encounter, Observations labelled N (no `meta.security`: N by default), R and V.
 * - Decision 0016 (the R4 Patient compartment is `patient-record`): in the `open` and `40d`
 *   windows, an ImagingStudy (`subject`, in the encounter), a ChargeItem (`subject`, encounter
 *   as `context`) and an Appointment (the patient only as `participant.actor`, no encounter),
 *   judged on the same facts as the Observation; and resources of no patient from the
 *   `definitions` (Questionnaire) and wider `directory` (HealthcareService, Device) groups,
 *   judged by role alone.
 *
 * The actors (one token per role and relation):
 * - `care`: on the care team — deliberately a consultant from `neuro`, so the care
 *   relationship alone links them (the department rules cannot apply).
 * - `dept`: in `cardio`, the patient's department, not on the care team.
 * - `other`: in `neuro`, not on the care team: same department as `care`, so
 *   `care` vs `other` differ only in the care relationship, `dept` vs `other` only in the department.
 * - `past` / `former`: a participant of the 40-day-old encounter only / a member of the inactive CareTeam.
 *
 * Seeding: the HIS integration token (`his-system`, whose rule names every label) writes
 * everything over HTTP. The store (the `FhirStore` port, which has no access checks) is the
 * ground truth for "nothing was stored" and "the version is unchanged" (an HTTP check would
 * itself be filtered by the policy under test).
 */

// ---------------------------------------------------------------------------------------
// The default policy, as this suite reads it (compared with the YAML in the first test).
// ---------------------------------------------------------------------------------------

const ROLES = [
  'attending',
  'resident',
  'chief',
  'intern',
  'nurse',
  'record-room',
  'medical-affairs',
  'disputes-officer',
  'auditor',
  'admin',
  'his-system',
] as const;
type Role = (typeof ROLES)[number];

const ACTIONS = ['read', 'search', 'create', 'update'] as const;
type Action = (typeof ACTIONS)[number];

type Label = 'U' | 'L' | 'M' | 'N' | 'R' | 'V';

interface When {
  onCareTeam?: true;
  sameDepartment?: true;
  withinCareWindow?: true;
  hasGrant?: true;
  breakGlass?: true;
}

interface PolicyRule {
  id: string;
  allow: string[];
  on: string[];
  when?: When;
  labels?: Label[];
  rule: string;
}

const ALL: string[] = ['read', 'search', 'create', 'update'];
const RS: string[] = ['read', 'search'];
const UP_TO_R: Label[] = ['U', 'L', 'M', 'N', 'R'];
const PR = ['patient-record'];
const DIR = ['directory'];
const DEF = ['definitions'];

/**
 * `patient-record` as the YAML writes it (decision 0016): the R4 Patient compartment, less two
 * types. `POLICY.groups` spells out the types this means, by hand from
 * https://hl7.org/fhir/R4/compartmentdefinition-patient.html; the first test checks the list
 * against the CompartmentDefinition file the policy names (data, not the product's loader).
 */
const PATIENT_RECORD_SPEC = { compartment: 'Patient', except: ['AuditEvent', 'Group'] };

const POLICY = {
  settings: { careWindowDaysAfterDischarge: 30, defaultLabels: ['U', 'L', 'M', 'N'] as Label[] },
  groups: {
    'patient-record': [
      'Account', 'AdverseEvent', 'AllergyIntolerance', 'Appointment', 'AppointmentResponse', 'Basic', 'BodyStructure', 'CarePlan',
      'CareTeam', 'ChargeItem', 'Claim', 'ClaimResponse', 'ClinicalImpression', 'Communication', 'CommunicationRequest', 'Composition',
      'Condition', 'Consent', 'Coverage', 'CoverageEligibilityRequest', 'CoverageEligibilityResponse', 'DetectedIssue', 'DeviceRequest',
      'DeviceUseStatement', 'DiagnosticReport', 'DocumentManifest', 'DocumentReference', 'Encounter', 'EnrollmentRequest', 'EpisodeOfCare',
      'ExplanationOfBenefit', 'FamilyMemberHistory', 'Flag', 'Goal', 'ImagingStudy', 'Immunization', 'ImmunizationEvaluation',
      'ImmunizationRecommendation', 'Invoice', 'List', 'MeasureReport', 'Media', 'MedicationAdministration', 'MedicationDispense',
      'MedicationRequest', 'MedicationStatement', 'MolecularSequence', 'NutritionOrder', 'Observation', 'Patient', 'Person', 'Procedure',
      'Provenance', 'QuestionnaireResponse', 'RelatedPerson', 'RequestGroup', 'ResearchSubject', 'RiskAssessment', 'Schedule',
      'ServiceRequest', 'Specimen', 'SupplyDelivery', 'SupplyRequest', 'Task', 'VisionPrescription',
    ],
    definitions: [
      'ActivityDefinition', 'ChargeItemDefinition', 'CodeSystem', 'CompartmentDefinition', 'ConceptMap', 'EventDefinition', 'GraphDefinition',
      'ImplementationGuide', 'Library', 'Measure', 'MessageDefinition', 'NamingSystem', 'ObservationDefinition', 'OperationDefinition',
      'PlanDefinition', 'Questionnaire', 'SearchParameter', 'SpecimenDefinition', 'StructureDefinition', 'StructureMap',
      'TerminologyCapabilities', 'ValueSet',
    ],
    directory: [
      'Practitioner', 'PractitionerRole', 'Organization', 'OrganizationAffiliation', 'Location', 'HealthcareService', 'Endpoint', 'Device',
      'DeviceDefinition', 'Medication', 'MedicationKnowledge', 'Substance', 'InsurancePlan', 'Slot',
    ],
  } as Record<string, string[]>,
  roles: {
    attending: [
      { id: 'attending.care-team', allow: ALL, on: PR, when: { onCareTeam: true }, rule: 'R-03' },
      { id: 'attending.print-export', allow: ['print', 'export'], on: PR, when: { onCareTeam: true }, rule: 'R-20' },
      { id: 'attending.department', allow: ALL, on: PR, when: { sameDepartment: true }, rule: 'R-03' },
      { id: 'attending.grant', allow: RS, on: PR, when: { hasGrant: true }, rule: 'R-05' },
      { id: 'attending.break-glass', allow: RS, on: PR, when: { breakGlass: true }, labels: UP_TO_R, rule: 'R-04' },
      { id: 'attending.directory', allow: RS, on: DIR, rule: 'R-02' },
      { id: 'attending.definitions', allow: RS, on: DEF, rule: 'R-02' },
      { id: 'attending.request-grant', allow: ['request'], on: ['AccessGrant'], rule: 'R-05' },
      { id: 'attending.sign', allow: ['sign'], on: ['Composition', 'DocumentReference'], when: { sameDepartment: true }, rule: 'R-13' },
      { id: 'attending.amend', allow: ['amend'], on: ['Composition', 'DocumentReference'], when: { sameDepartment: true }, rule: 'R-11' },
      { id: 'attending.archive', allow: ['archive'], on: ['Encounter'], when: { sameDepartment: true }, rule: 'R-15' },
      { id: 'attending.cosign', allow: ['cosign'], on: ['Composition', 'DocumentReference'], when: { sameDepartment: true }, rule: 'R-14' },
    ],
    resident: [
      { id: 'resident.care-team', allow: ALL, on: PR, when: { onCareTeam: true }, rule: 'R-03' },
      { id: 'resident.print-export', allow: ['print', 'export'], on: PR, when: { onCareTeam: true }, rule: 'R-20' },
      { id: 'resident.department', allow: RS, on: PR, when: { sameDepartment: true }, rule: 'R-03' },
      { id: 'resident.grant', allow: RS, on: PR, when: { hasGrant: true }, rule: 'R-05' },
      { id: 'resident.break-glass', allow: RS, on: PR, when: { breakGlass: true }, rule: 'R-04' },
      { id: 'resident.directory', allow: RS, on: DIR, rule: 'R-02' },
      { id: 'resident.definitions', allow: RS, on: DEF, rule: 'R-02' },
      { id: 'resident.request-grant', allow: ['request'], on: ['AccessGrant'], rule: 'R-05' },
      { id: 'resident.sign', allow: ['sign'], on: ['Composition', 'DocumentReference'], when: { onCareTeam: true }, rule: 'R-13' },
      { id: 'resident.amend', allow: ['amend'], on: ['Composition', 'DocumentReference'], when: { onCareTeam: true }, rule: 'R-11' },
    ],
    chief: [
      { id: 'chief.department', allow: ALL, on: PR, when: { sameDepartment: true }, labels: UP_TO_R, rule: 'R-03' },
      { id: 'chief.care-team', allow: ALL, on: PR, when: { onCareTeam: true }, labels: UP_TO_R, rule: 'R-03' },
      { id: 'chief.print-export', allow: ['print', 'export'], on: PR, when: { onCareTeam: true }, labels: UP_TO_R, rule: 'R-20' },
      { id: 'chief.grant', allow: RS, on: PR, when: { hasGrant: true }, rule: 'R-05' },
      { id: 'chief.break-glass', allow: RS, on: PR, when: { breakGlass: true }, labels: UP_TO_R, rule: 'R-04' },
      { id: 'chief.directory', allow: RS, on: DIR, rule: 'R-02' },
      { id: 'chief.definitions', allow: RS, on: DEF, rule: 'R-02' },
      { id: 'chief.request-grant', allow: ['request'], on: ['AccessGrant'], rule: 'R-05' },
      { id: 'chief.sign', allow: ['sign'], on: ['Composition', 'DocumentReference'], when: { sameDepartment: true }, rule: 'R-13' },
      { id: 'chief.amend', allow: ['amend'], on: ['Composition', 'DocumentReference'], when: { sameDepartment: true }, rule: 'R-11' },
      { id: 'chief.archive', allow: ['archive'], on: ['Encounter'], when: { sameDepartment: true }, rule: 'R-15' },
      { id: 'chief.cosign', allow: ['cosign'], on: ['Composition', 'DocumentReference'], when: { sameDepartment: true }, rule: 'R-14' },
      { id: 'chief.amendments', allow: ['list', 'approve'], on: ['Amendment'], rule: 'R-11' },
    ],
    intern: [
      { id: 'intern.care-team', allow: ALL, on: PR, when: { onCareTeam: true, withinCareWindow: true }, rule: 'R-03' },
      { id: 'intern.directory', allow: RS, on: DIR, rule: 'R-02' },
      { id: 'intern.definitions', allow: RS, on: DEF, rule: 'R-02' },
      { id: 'intern.sign', allow: ['sign'], on: ['Composition', 'DocumentReference'], when: { onCareTeam: true }, rule: 'R-14' },
      { id: 'intern.amend', allow: ['amend'], on: ['Composition', 'DocumentReference'], when: { onCareTeam: true }, rule: 'R-11' },
    ],
    nurse: [
      { id: 'nurse.care-team', allow: RS, on: PR, when: { onCareTeam: true }, rule: 'R-03' },
      { id: 'nurse.department', allow: RS, on: PR, when: { sameDepartment: true, withinCareWindow: true }, rule: 'R-03' },
      { id: 'nurse.observations', allow: ['create', 'update'], on: ['Observation'], when: { sameDepartment: true, withinCareWindow: true }, rule: 'R-02' },
      { id: 'nurse.break-glass', allow: RS, on: PR, when: { breakGlass: true }, rule: 'R-04' },
      { id: 'nurse.directory', allow: RS, on: DIR, rule: 'R-02' },
      { id: 'nurse.definitions', allow: RS, on: DEF, rule: 'R-02' },
    ],
    'record-room': [
      { id: 'record-room.records', allow: ['read', 'search', 'print', 'export', 'copy'], on: PR, rule: 'R-06' },
      { id: 'record-room.directory', allow: RS, on: DIR, rule: 'R-02' },
      { id: 'record-room.access-accounting', allow: ['list'], on: ['AuditEvent'], rule: 'R-20' },
      { id: 'record-room.copy-requests', allow: ['request', 'approve', 'list'], on: ['CopyRequest'], rule: 'R-30' },
    ],
    'medical-affairs': [
      { id: 'medical-affairs.records', allow: RS, on: PR, labels: ['U', 'L', 'M', 'N', 'R', 'V'], rule: 'R-04' },
      { id: 'medical-affairs.directory', allow: RS, on: DIR, rule: 'R-02' },
      { id: 'medical-affairs.grants', allow: ['list', 'approve'], on: ['AccessGrant'], rule: 'R-05' },
      { id: 'medical-affairs.break-glass-review', allow: ['list', 'review'], on: ['BreakGlass'], rule: 'R-04' },
      { id: 'medical-affairs.amendments', allow: ['list', 'approve'], on: ['Amendment'], rule: 'R-11' },
      { id: 'medical-affairs.disputes', allow: ['list', 'approve'], on: ['Dispute'], rule: 'R-43' },
      { id: 'medical-affairs.dispute-witness', allow: ['witness'], on: ['Dispute'], rule: 'R-40' },
    ],
    'disputes-officer': [
      { id: 'disputes-officer.records', allow: ['read', 'search', 'seal', 'unseal'], on: PR, rule: 'R-40' },
      { id: 'disputes-officer.cases', allow: ['list'], on: ['Dispute'], rule: 'R-40' },
      { id: 'disputes-officer.dispute-witness', allow: ['witness'], on: ['Dispute'], rule: 'R-40' },
      { id: 'disputes-officer.directory', allow: RS, on: DIR, rule: 'R-02' },
    ],
    auditor: [
      { id: 'auditor.audit', allow: ['audit'], on: ['AuditEvent'], rule: 'R-20' },
      { id: 'auditor.explain', allow: ['explain'], on: ['Policy'], rule: 'R-20' },
      { id: 'auditor.directory', allow: ['read', 'search'], on: ['directory'], rule: 'R-20' },
    ],
    admin: [
      { id: 'admin.directory', allow: ALL, on: DIR, rule: 'R-02' },
      { id: 'admin.definitions', allow: ALL, on: DEF, rule: 'R-02' },
      { id: 'admin.explain', allow: ['explain'], on: ['Policy'], rule: 'R-02' },
    ],
    'his-system': [
      { id: 'his-system.records', allow: [...ALL, 'export'], on: PR, labels: ['U', 'L', 'M', 'N', 'R', 'V'], rule: 'R-02' },
      { id: 'his-system.directory', allow: ALL, on: DIR, rule: 'R-02' },
      { id: 'his-system.definitions', allow: ALL, on: DEF, rule: 'R-02' },
    ],
  } as Record<Role, PolicyRule[]>,
};

// ---------------------------------------------------------------------------------------
// The data and the actors, as facts (access-facts.ts semantics, encoded independently).
// ---------------------------------------------------------------------------------------

/** Short, id-safe, unique per run: every id this file writes starts with it. */
const RUN = `am${randomUUID().slice(0, 8)}`;
const practitioner = (name: string) => `Practitioner/${RUN}-${name}`;
const DEPARTMENT = 'cardio';
const OTHER_DEPARTMENT = 'neuro';

type Window = 'open' | '10d' | '40d';
const WINDOWS: Record<Window, { text: string; status: 'in-progress' | 'finished'; endedDaysAgo?: number; participants: string[]; activeCareTeam: string[]; inactiveCareTeam: string[] }> = {
  open: { text: 'in window (encounter in progress)', status: 'in-progress', participants: [practitioner('care')], activeCareTeam: [], inactiveCareTeam: [] },
  '10d': { text: '10 days after discharge', status: 'finished', endedDaysAgo: 10, participants: [practitioner('care')], activeCareTeam: [], inactiveCareTeam: [] },
  '40d': {
    text: '40 days after discharge',
    status: 'finished',
    endedDaysAgo: 40,
    participants: [practitioner('care'), practitioner('past')],
    activeCareTeam: [practitioner('care')],
    inactiveCareTeam: [practitioner('former')],
  },
};

type Relation = 'care' | 'dept' | 'other' | 'past' | 'former';
const RELATIONS: Record<Relation, { text: string; department: string; practitioner: (role: string) => string }> = {
  care: { text: 'on the care team (neuro consultant)', department: OTHER_DEPARTMENT, practitioner: () => practitioner('care') },
  dept: { text: 'in the same department, not on the care team', department: DEPARTMENT, practitioner: (role) => practitioner(`${role}-cardio`) },
  other: { text: 'in another department', department: OTHER_DEPARTMENT, practitioner: (role) => practitioner(`${role}-neuro`) },
  past: { text: 'only a participant of the 40-day-old encounter', department: OTHER_DEPARTMENT, practitioner: () => practitioner('past') },
  former: { text: 'only a member of an inactive CareTeam', department: OTHER_DEPARTMENT, practitioner: () => practitioner('former') },
};

interface Facts {
  type: string;
  label: Label;
  withinCareWindow: boolean;
  careTeam: string[];
  departments: string[];
}

const CLOSED_STATUSES = ['finished', 'cancelled', 'entered-in-error'];

/** The encounter is open, or ended at most `careWindowDaysAfterDischarge` days ago. */
function insideCareWindow(w: (typeof WINDOWS)[Window]): boolean {
  return !CLOSED_STATUSES.includes(w.status) || (w.endedDaysAgo ?? Infinity) <= POLICY.settings.careWindowDaysAfterDischarge;
}

/**
 * The facts of a record of the window's patient (an Observation unless `type` says otherwise).
 * The patient has that one encounter, so: the care team = its participants while it is
 * inside the window + the members of active CareTeams; the departments = its department
 * while inside the window. A record filed under no encounter (an Appointment) is inside the
 * window when an encounter of its patient is: the same one. Whatever link names the patient
 * (`subject`, `participant.actor`…), the facts are the patient's (decision 0016): only the
 * type differs. `ignoreWindow` pretends the encounter were inside the window (to name why a
 * denial happened).
 */
function factsOf(window: Window, label: Label, ignoreWindow = false, type = 'Observation'): Facts {
  const w = WINDOWS[window];
  const inside = ignoreWindow || insideCareWindow(w);
  return {
    type,
    label,
    withinCareWindow: inside,
    careTeam: [...new Set([...(inside ? w.participants : []), ...w.activeCareTeam])],
    departments: inside ? [DEPARTMENT] : [],
  };
}

interface ActorAttributes {
  roles: string[];
  practitioner: string;
  department?: string;
}

function expandGroups(on: string[]): string[] {
  return on.flatMap((name) => POLICY.groups[name] ?? [name]);
}

function ruleAllows(rule: PolicyRule, actor: ActorAttributes, action: string, facts: Facts, ignoreLabel = false): boolean {
  if (!rule.allow.includes(action) || !expandGroups(rule.on).includes(facts.type)) return false;
  const w = rule.when ?? {};
  if (w.onCareTeam && !facts.careTeam.includes(actor.practitioner)) return false;
  if (w.sameDepartment && !(actor.department && facts.departments.includes(actor.department))) return false;
  if (w.withinCareWindow && !facts.withinCareWindow) return false;
  if (w.hasGrant || w.breakGlass) return false; // nobody in this suite holds a grant or broke the glass
  if (!ignoreLabel && !(rule.labels ?? POLICY.settings.defaultLabels).includes(facts.label)) return false;
  return true;
}

interface Expectation {
  allowed: boolean;
  /** The rule id (R-xx) the result proves. */
  rid: string;
  /** The policy rule that allows, when one does. */
  by?: string;
}

/**
 * What the default policy says, and why: allowed by the first rule that applies (its R-id);
 * denied with R-02 when the role has no rule for the action at all (least privilege), R-07
 * when only the label stands in the way, R-03 when only the care window does, else R-03
 * (outside the care relationship, inside the hospital's clinical staff) or R-06 (outside
 * the treating team and its department).
 */
function expectationFor(actor: ActorAttributes, action: Action, facts: Facts, window: Window, relation: Relation): Expectation {
  const rules = actor.roles.flatMap((r) => POLICY.roles[r as Role] ?? []);
  const allowing = rules.find((r) => ruleAllows(r, actor, action, facts));
  if (allowing) return { allowed: true, rid: allowing.rule, by: allowing.id };
  const relevant = rules.filter((r) => r.allow.includes(action) && expandGroups(r.on).includes(facts.type) && !r.when?.hasGrant && !r.when?.breakGlass);
  if (relevant.length === 0) return { allowed: false, rid: 'R-02' };
  if (relevant.some((r) => ruleAllows(r, actor, action, facts, true))) return { allowed: false, rid: 'R-07' };
  const unwindowed = factsOf(window, facts.label, true, facts.type);
  if (relevant.some((r) => ruleAllows(r, actor, action, unwindowed))) return { allowed: false, rid: 'R-03' };
  return { allowed: false, rid: relation === 'other' ? 'R-06' : 'R-03' };
}

const actorOf = (role: string, relation: Relation): ActorAttributes => ({
  roles: [role],
  practitioner: RELATIONS[relation].practitioner(role),
  department: RELATIONS[relation].department,
});

// ---------------------------------------------------------------------------------------
// The cases: a deterministic sample of the cross product.
// ---------------------------------------------------------------------------------------

interface Case {
  role: Role;
  action: Action;
  relation: Relation;
  label: 'N' | 'R' | 'V';
  window: Window;
  /** The resource type acted on: `Observation` (the original matrix), another record type, or a type of no patient. */
  type: string;
  expected: Expectation;
  name: string;
}

/**
 * Record types the compartment brought into `patient-record` (decision 0016), each naming the
 * patient its own way: ImagingStudy by `subject` in an encounter, ChargeItem by `subject` with
 * the encounter as `context`, Appointment only by `participant.actor` and in no encounter.
 */
const NEW_RECORD_TYPES = ['ImagingStudy', 'ChargeItem', 'Appointment'] as const;
/** Types of no patient, by the group that names them: one definition, two of the wider directory. */
const UNLINKED_TYPES: Record<string, 'definitions' | 'directory'> = { Questionnaire: 'definitions', HealthcareService: 'directory', Device: 'directory' };

/** A resource of no patient has none of a record's facts: no care team, no department, no window. */
function unlinkedFacts(type: string): Facts {
  return { type, label: 'N', withinCareWindow: false, careTeam: [], departments: [] };
}

const VERB: Record<Action, string> = { read: 'reads', search: 'searches for', create: 'creates', update: 'updates' };
const outcomeText = (action: Action, allowed: boolean): string =>
  ({
    read: allowed ? '200' : '403',
    search: allowed ? 'found (total 1)' : 'filtered out (total 0)',
    create: allowed ? '201' : '403, nothing stored',
    update: allowed ? '200' : '403, version unchanged',
  })[action];

function buildCases(): Case[] {
  const cases = new Map<string, Case>();
  const add = (role: Role, action: Action, relation: Relation, label: Case['label'], window: Window, type = 'Observation') => {
    const key = [role, action, relation, label, window, type].join('|');
    if (cases.has(key)) return;
    const group = UNLINKED_TYPES[type];
    const facts = group ? unlinkedFacts(type) : factsOf(window, label, false, type);
    const expected = expectationFor(actorOf(role, relation), action, facts, window, relation);
    const a = `${/^[AEIOU]/.test(type) ? 'an' : 'a'} ${type}`;
    const what = group
      ? `${role} ${VERB[action]} ${a} (${group})`
      : `${role} ${RELATIONS[relation].text} ${VERB[action]} ${type === 'Observation' ? '' : `${a} `}label ${label} ${WINDOWS[window].text}`;
    const name = `${expected.rid}: ${what} → ${outcomeText(action, expected.allowed)}${expected.by ? ` (${expected.by})` : ''}`;
    cases.set(key, { role, action, relation, label, window, type, expected, name });
  };
  for (const role of ROLES) {
    // Every action × every relation, on an ordinary (N) record of an open stay.
    for (const relation of ['care', 'dept', 'other'] as const) for (const action of ACTIONS) add(role, action, relation, 'N', 'open');
    // R-07: labels R and V need a rule that names them — reading, searching, writing.
    add(role, 'read', 'care', 'R', 'open');
    add(role, 'read', 'care', 'V', 'open');
    add(role, 'read', 'dept', 'R', 'open');
    add(role, 'search', 'care', 'R', 'open');
    add(role, 'search', 'care', 'V', 'open');
    add(role, 'create', 'care', 'R', 'open');
    add(role, 'update', 'care', 'R', 'open');
    // The care window: both sides of 30 days after discharge, for reading and writing.
    for (const relation of ['care', 'dept'] as const) {
      for (const window of ['10d', '40d'] as const) add(role, 'read', relation, 'N', window);
      add(role, 'search', relation, 'N', '40d');
      add(role, 'create', relation, 'N', '40d');
    }
    // Labels × window.
    add(role, 'read', 'care', 'R', '40d');
  }
  // Care relationship derivation: encounter participation ends with the window; inactive CareTeams do not count.
  for (const role of ['attending', 'chief', 'intern', 'nurse'] as const) {
    add(role, 'read', 'past', 'N', '40d');
    add(role, 'read', 'former', 'N', '40d');
  }
  // Decision 0016: the record types the compartment added are judged on the same facts, whatever links their patient.
  for (const type of NEW_RECORD_TYPES) {
    for (const role of ROLES) {
      for (const relation of ['care', 'dept', 'other'] as const) for (const action of ACTIONS) add(role, action, relation, 'N', 'open', type);
      for (const relation of ['care', 'dept'] as const) add(role, 'read', relation, 'N', '40d', type);
    }
  }
  // Definitions and the wider directory: the same answer whoever the patient is, by role alone.
  for (const type of Object.keys(UNLINKED_TYPES)) for (const role of ROLES) for (const action of ACTIONS) add(role, action, 'other', 'N', 'open', type);
  return [...cases.values()];
}

const CASES = buildCases();

// ---------------------------------------------------------------------------------------
// HTTP.
// ---------------------------------------------------------------------------------------

const FORBIDDEN_STATUS = 403;
const CONFIDENTIALITY = 'http://terminology.hl7.org/CodeSystem/v3-Confidentiality';
const IDENTIFIER_SYSTEM = `urn:chartwarden-e2e:access-matrix:${RUN}`;
/** In every resource of a type other than Observation: what a refused read must not show. */
const MARK = `MATRIX-${RUN}`;
/** The extension an update of such a resource changes (every DomainResource may carry one). */
const COUNTER_URL = `urn:chartwarden-e2e:access-matrix:counter`;
const HEART_RATE = { coding: [{ system: 'http://loinc.org', code: '8867-4', display: 'Heart rate' }] };
const quantity = (value: number) => ({ value, unit: '/min', system: 'http://unitsofmeasure.org', code: '/min' });
const daysAgo = (days: number) => new Date(Date.now() - days * 86_400_000).toISOString();

type RawResponse<T> = HttpResult<T>;

function call<T = OperationOutcome>(base: string, token: string, method: string, path: string, body?: unknown): Promise<RawResponse<T>> {
  return httpRequest<T>(`${base}/${path}`, method, { token, body });
}

/** A 403 whose body is an OperationOutcome `forbidden` (the policy's `hiddenRecords: forbidden`). */
function expectForbidden(res: RawResponse<unknown>): void {
  expect({ status: res.status, code: (res.body as OperationOutcome | undefined)?.issue?.[0]?.code }).toEqual({ status: FORBIDDEN_STATUS, code: 'forbidden' });
  expect((res.body as OperationOutcome).resourceType).toBe('OperationOutcome');
}

const bundleIds = (bundle: Bundle) => (bundle.entry ?? []).map((e) => `${e.resource?.resourceType}/${e.resource?.id}`);

// ---------------------------------------------------------------------------------------
// The suite.
// ---------------------------------------------------------------------------------------

describe('Access policy matrix over HTTP (e2e, issue #3)', () => {
  let server: TestServer;
  let store: FhirStore;
  let registry: SearchParameterRegistry;
  let his: string;
  const tokens = new Map<string, Promise<string>>();
  let counter = 1000;

  const patientId = (w: Window) => `${RUN}-p-${w}`;
  const encounterId = (w: Window) => `${RUN}-e-${w}`;
  const observationId = (w: Window, label: Label) => `${RUN}-o-${w}-${label}`;

  /** One token per role and relation (and per extra claim set), issued once. */
  const tokenFor = (role: string | string[], relation: Relation, extra: { scope?: string; sub?: string } = {}): Promise<string> => {
    const roles = Array.isArray(role) ? role : [role];
    const key = JSON.stringify([roles, relation, extra]);
    let token = tokens.get(key);
    if (!token) {
      const r = RELATIONS[relation];
      const fhirUser = r.practitioner(roles.join('+') || 'none');
      token = server.token({
        sub: extra.sub ?? `${RUN}-${roles.join('+') || 'none'}-${relation}${extra.scope ? `-${tokens.size}` : ''}`,
        roles,
        department: r.department,
        fhirUser,
        ...(extra.scope ? { scope: extra.scope } : {}),
        ttl: '1h',
      });
      tokens.set(key, token);
    }
    return token;
  };

  const as = <T = OperationOutcome>(token: string, method: string, path: string, body?: unknown) => call<T>(server.fhirBase, token, method, path, body);

  /** Seeds over HTTP with the HIS token; fails loudly when the HIS is refused. */
  const put = async (resource: Resource & { id: string }) => {
    const res = await as(his, 'PUT', `${resource.resourceType}/${resource.id}`, resource);
    if (res.status !== 200 && res.status !== 201) throw new Error(`seeding ${resource.resourceType}/${resource.id}: ${res.status} ${res.text}`);
  };

  /** Ground truth, past the policy: how many resources of `type` (Observations by default) carry this identifier value. */
  const storedCount = async (value: string, type = 'Observation') =>
    (await store.search(parseSearchRequest(type, [['identifier', `${IDENTIFIER_SYSTEM}|${value}`]], registry, { defaultCount: 10, maxCount: 10, lenient: false })))
      .total;

  const observation = (w: Window, label: Label, extra: Partial<Observation> = {}): Observation => ({
    resourceType: 'Observation',
    status: 'final',
    code: HEART_RATE,
    subject: { reference: `Patient/${patientId(w)}` },
    encounter: { reference: `Encounter/${encounterId(w)}` },
    valueQuantity: quantity(72),
    ...(label === 'N' ? {} : { meta: { security: [{ system: CONFIDENTIALITY, code: label }] } }),
    ...extra,
  });

  const recordId = (type: string, w: Window) => `${RUN}-r-${w}-${type}`;
  const unlinkedId = (type: string) => `${RUN}-u-${type}`;
  /** A record of the window's patient, of a type the compartment added, carrying `MARK`; `extra` adds an identifier. */
  const recordOf = (type: string, w: Window, extra: { identifier?: Identifier[] } = {}): Resource => {
    const subject = { reference: `Patient/${patientId(w)}` };
    const encounter = { reference: `Encounter/${encounterId(w)}` };
    const records: Record<string, Resource> = {
      ImagingStudy: { resourceType: 'ImagingStudy', status: 'available', subject, encounter, description: MARK, ...extra },
      ChargeItem: { resourceType: 'ChargeItem', status: 'billable', code: { text: MARK }, subject, context: encounter, ...extra },
      // Names its patient only as a participant, and belongs to no encounter.
      Appointment: { resourceType: 'Appointment', status: 'booked', description: MARK, start: daysAgo(-1), end: daysAgo(-1.01), participant: [{ actor: subject, status: 'accepted' }], ...extra },
    };
    return records[type];
  };
  /** A resource of no patient (a definition, a directory entry) carrying `MARK`. */
  const unlinkedOf = (type: string, extra: { identifier?: Identifier[] } = {}): Resource => {
    const resources: Record<string, Resource> = {
      Questionnaire: { resourceType: 'Questionnaire', status: 'active', url: `urn:chartwarden-e2e:access-matrix:${RUN}:questionnaire`, title: MARK, ...extra },
      HealthcareService: { resourceType: 'HealthcareService', name: MARK, providedBy: { reference: `Organization/${DEPARTMENT}` }, ...extra },
      Device: { resourceType: 'Device', status: 'active', deviceName: [{ name: MARK, type: 'user-friendly-name' }], ...extra },
    };
    return resources[type];
  };

  /** How a case reaches its resource: the id, the search that finds it, a new one to create, a change to make, and how to read the change back. */
  const targetOf = (c: Case) => {
    const identifier = (value: string) => ({ identifier: [{ system: IDENTIFIER_SYSTEM, value }] });
    if (c.type === 'Observation') {
      const id = observationId(c.window, c.label);
      return {
        id,
        search: `Observation?patient=${patientId(c.window)}&_id=${id}`,
        fresh: (value: string) => observation(c.window, c.label, identifier(value)),
        change: (before: Resource, n: number) => ({ ...before, valueQuantity: quantity(n) }),
        changed: (after: Resource) => (after as Observation).valueQuantity?.value,
        secret: '"valueQuantity"',
      };
    }
    const unlinked = c.type in UNLINKED_TYPES;
    const id = unlinked ? unlinkedId(c.type) : recordId(c.type, c.window);
    return {
      id,
      search: unlinked ? `${c.type}?_id=${id}` : `${c.type}?patient=${patientId(c.window)}&_id=${id}`,
      fresh: (value: string) => (unlinked ? unlinkedOf(c.type, identifier(value)) : recordOf(c.type, c.window, identifier(value))),
      change: (before: Resource, n: number) => ({ ...before, extension: [{ url: COUNTER_URL, valueInteger: n }] }),
      changed: (after: Resource) => ((after as { extension?: Extension[] }).extension ?? []).find((e) => e.url === COUNTER_URL)?.valueInteger,
      secret: MARK,
    };
  };

  beforeAll(async () => {
    server = await startTestServer();
    store = server.app.get(FhirStore);
    registry = server.app.get(SearchParameterRegistry);
    his = await server.token();

    for (const [id, name] of [[DEPARTMENT, 'Cardiology'], [OTHER_DEPARTMENT, 'Neurology']]) {
      await put({ resourceType: 'Organization', id, name, active: true } as Organization & { id: string });
    }
    const practitioners = new Set<string>(['care', 'past', 'former'].map(practitioner));
    for (const role of ROLES) for (const relation of ['dept', 'other'] as const) practitioners.add(RELATIONS[relation].practitioner(role));
    for (const ref of practitioners) {
      const id = ref.slice('Practitioner/'.length);
      await put({ resourceType: 'Practitioner', id, name: [{ family: id }] } as Practitioner & { id: string });
    }
    for (const w of Object.keys(WINDOWS) as Window[]) {
      const spec = WINDOWS[w];
      await put({ resourceType: 'Patient', id: patientId(w), identifier: [{ system: IDENTIFIER_SYSTEM, value: `patient-${w}` }] } as Patient & { id: string });
      const encounter: Encounter & { id: string } = {
        resourceType: 'Encounter',
        id: encounterId(w),
        status: spec.status,
        class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'IMP', display: 'inpatient encounter' },
        subject: { reference: `Patient/${patientId(w)}` },
        serviceProvider: { reference: `Organization/${DEPARTMENT}` },
        participant: spec.participants.map((reference) => ({ individual: { reference } })),
        period:
          spec.endedDaysAgo === undefined
            ? { start: daysAgo(2) }
            : { start: daysAgo(spec.endedDaysAgo + 5), end: daysAgo(spec.endedDaysAgo) },
      };
      await put(encounter);
      for (const [status, members] of [['active', spec.activeCareTeam], ['inactive', spec.inactiveCareTeam]] as const) {
        if (members.length === 0) continue;
        await put({
          resourceType: 'CareTeam',
          id: `${RUN}-ct-${w}-${status}`,
          status,
          subject: { reference: `Patient/${patientId(w)}` },
          participant: members.map((reference) => ({ member: { reference } })),
        } as CareTeam & { id: string });
      }
      await put({ ...observation(w, 'N'), id: observationId(w, 'N') } as Observation & { id: string });
      // R-07: only a rule naming R and V lets them be written; the HIS integration's does.
      for (const label of ['R', 'V'] as const) await put({ ...observation(w, label), id: observationId(w, label) } as Observation & { id: string });
    }
    for (const w of ['open', '40d'] as const) for (const type of NEW_RECORD_TYPES) await put({ ...recordOf(type, w), id: recordId(type, w) });
    for (const type of Object.keys(UNLINKED_TYPES)) await put({ ...unlinkedOf(type), id: unlinkedId(type) });
  });
  afterAll(() => server?.close());

  describe('the expectations', () => {
    it('R-02: the policy this suite encodes is the shipped default.policy.yaml, role by role and rule by rule', () => {
      const yaml = parse(readFileSync(fileURLToPath(new URL('../../policy/default.policy.yaml', import.meta.url)), 'utf8')) as {
        settings: { careWindowDaysAfterDischarge: number; defaultLabels: string[] };
        groups: Record<string, unknown>;
        roles: Record<string, { rules: Record<string, unknown>[] }>;
      };
      expect(yaml.settings.careWindowDaysAfterDischarge).toBe(POLICY.settings.careWindowDaysAfterDischarge);
      expect(yaml.settings.defaultLabels).toEqual(POLICY.settings.defaultLabels);
      expect(Object.keys(yaml.groups)).toEqual(Object.keys(POLICY.groups));
      expect(yaml.groups['patient-record']).toEqual(PATIENT_RECORD_SPEC);
      expect({ definitions: yaml.groups.definitions, directory: yaml.groups.directory }).toEqual({ definitions: POLICY.groups.definitions, directory: POLICY.groups.directory });
      // The compartment the YAML names, read from the data file itself: its members with a patient link, less `except`.
      const compartment = JSON.parse(readFileSync(fileURLToPath(new URL('../../fhir-profiles/compartmentdefinition-patient.json', import.meta.url)), 'utf8')) as CompartmentDefinition;
      expect({ url: compartment.url, code: compartment.code }).toEqual({ url: 'http://hl7.org/fhir/CompartmentDefinition/patient', code: 'Patient' });
      const members = (compartment.resource ?? []).filter((r) => r.param?.length && !PATIENT_RECORD_SPEC.except.includes(r.code as string)).map((r) => r.code);
      expect(members.sort()).toEqual([...POLICY.groups['patient-record']].sort());
      expect(Object.keys(yaml.roles)).toEqual([...ROLES]);
      for (const role of ROLES) expect({ role, rules: yaml.roles[role].rules }).toEqual({ role, rules: POLICY.roles[role] });
    });

    it('the matrix covers every role, every action, labels N/R/V and both sides of the care window', () => {
      expect(new Set(CASES.map((c) => c.role))).toEqual(new Set(ROLES));
      expect(new Set(CASES.map((c) => c.action))).toEqual(new Set(ACTIONS));
      expect(new Set(CASES.map((c) => c.label))).toEqual(new Set(['N', 'R', 'V']));
      expect(new Set(CASES.map((c) => c.window))).toEqual(new Set(['open', '10d', '40d']));
      expect(CASES.some((c) => c.expected.allowed)).toBe(true);
      expect(CASES.some((c) => !c.expected.allowed)).toBe(true);
      expect(CASES.length).toBeGreaterThanOrEqual(150);
    });

    it('decision 0016: the matrix covers a type of every group, and each new type both ways for reading and writing', () => {
      expect(new Set(CASES.map((c) => c.type))).toEqual(new Set(['Observation', ...NEW_RECORD_TYPES, ...Object.keys(UNLINKED_TYPES)]));
      for (const [group, types] of Object.entries(POLICY.groups)) expect({ group, covered: CASES.some((c) => types.includes(c.type)) }).toEqual({ group, covered: true });
      // A rule of `role` names `type` in its `on`, itself or through a group.
      const names = (on: readonly string[], type: string) => on.some((o) => o === type || (POLICY.groups as Record<string, readonly string[]>)[o]?.includes(type));
      // What the shipped policy lets every role do (the directory is read by all, auditors included: R-20) can only be seen allowed.
      const everyRoleMay = (type: string, action: string) => ROLES.every((role) => POLICY.roles[role].some((r) => r.allow.includes(action) && names(r.on, type)));
      for (const type of [...NEW_RECORD_TYPES, ...Object.keys(UNLINKED_TYPES)]) {
        for (const action of ACTIONS) {
          const outcomes = new Set(CASES.filter((c) => c.type === type && c.action === action).map((c) => c.expected.allowed));
          expect({ type, action, outcomes }).toEqual({ type, action, outcomes: new Set(everyRoleMay(type, action) ? [true] : [true, false]) });
        }
      }
    });

    it('decision 0016: the seeded records name their patient as the suite assumes (ground truth in the store)', async () => {
      for (const w of ['open', '40d'] as const) {
        const appointment = (await store.read('Appointment', recordId('Appointment', w))) as Appointment;
        expect({ actors: appointment.participant.map((p) => p.actor?.reference), encounter: 'encounter' in appointment }).toEqual({ actors: [`Patient/${patientId(w)}`], encounter: false });
        expect(((await store.read('ImagingStudy', recordId('ImagingStudy', w))) as ImagingStudy).subject.reference).toBe(`Patient/${patientId(w)}`);
        expect(((await store.read('ChargeItem', recordId('ChargeItem', w))) as ChargeItem).context?.reference).toBe(`Encounter/${encounterId(w)}`);
      }
      for (const type of Object.keys(UNLINKED_TYPES)) expect((await store.read(type, unlinkedId(type))).resourceType).toBe(type);
    });

    it('the seeded Observations carry the intended labels, encounters and versions (ground truth in the store)', async () => {
      for (const w of Object.keys(WINDOWS) as Window[]) {
        for (const label of ['N', 'R', 'V'] as const) {
          const o = (await store.read('Observation', observationId(w, label))) as Observation;
          expect(o.encounter?.reference).toBe(`Encounter/${encounterId(w)}`);
          expect(o.meta?.security?.map((s) => s.code) ?? []).toEqual(label === 'N' ? [] : [label]);
        }
      }
    });
  });

  describe('role × action × relation × label × care window', () => {
    it.each(CASES.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
      const token = await tokenFor(c.role, c.relation);
      const target = targetOf(c);
      switch (c.action) {
        case 'read': {
          const res = await as<Resource>(token, 'GET', `${c.type}/${target.id}`);
          if (c.expected.allowed) {
            expect({ status: res.status, type: res.body?.resourceType, id: res.body?.id }).toEqual({ status: 200, type: c.type, id: target.id });
          } else {
            expectForbidden(res);
            expect(res.text).not.toContain(target.secret);
          }
          break;
        }
        case 'search': {
          const res = await as<Bundle>(token, 'GET', target.search);
          expect(res.status).toBe(200);
          expect(res.body.resourceType).toBe('Bundle');
          expect({ total: res.body.total, ids: bundleIds(res.body) }).toEqual(
            c.expected.allowed ? { total: 1, ids: [`${c.type}/${target.id}`] } : { total: 0, ids: [] },
          );
          break;
        }
        case 'create': {
          const value = `create-${randomUUID()}`;
          const res = await as<Observation>(token, 'POST', c.type, target.fresh(value));
          if (c.expected.allowed) {
            expect(res.status).toBe(201);
            expect(res.body).toMatchObject({ resourceType: c.type, identifier: [{ system: IDENTIFIER_SYSTEM, value }] });
            if (c.type === 'Observation') expect(res.body.encounter?.reference).toBe(`Encounter/${encounterId(c.window)}`);
            expect(await storedCount(value, c.type)).toBe(1);
          } else {
            expectForbidden(res);
            expect(await storedCount(value, c.type)).toBe(0);
          }
          break;
        }
        case 'update': {
          const before = await store.read(c.type, target.id);
          const value = ++counter;
          const res = await as<Resource>(token, 'PUT', `${c.type}/${target.id}`, target.change(before, value));
          const after = await store.read(c.type, target.id);
          if (c.expected.allowed) {
            expect(res.status).toBe(200);
            expect(after.meta?.versionId).not.toBe(before.meta?.versionId);
            expect(after.meta?.versionId).toBe(res.body.meta?.versionId);
            expect(target.changed(after)).toBe(value);
            expect(after.meta?.security ?? []).toEqual(before.meta?.security ?? []);
          } else {
            expectForbidden(res);
            expect(after.meta?.versionId).toBe(before.meta?.versionId);
            expect(target.changed(after)).toBe(target.changed(before));
          }
          break;
        }
      }
    });
  });

  describe('R-07: an update is judged on the incoming label as well as the stored one', () => {
    /** Re-labels a stored Observation over HTTP; expects 403 and the stored version untouched. */
    const relabel = async (token: string, obsId: string, label: Label) => {
      const before = (await store.read('Observation', obsId)) as Observation;
      const res = await as(token, 'PUT', `Observation/${obsId}`, { ...before, meta: { security: [{ system: CONFIDENTIALITY, code: label }] } });
      expectForbidden(res);
      const after = (await store.read('Observation', obsId)) as Observation;
      expect(after.meta?.versionId).toBe(before.meta?.versionId);
      expect(after.meta?.security ?? []).toEqual(before.meta?.security ?? []);
    };

    it('R-07: the attending on the care team may update the N Observation but not raise it to R → 403, version unchanged', async () => {
      const facts = factsOf('open', 'R');
      expect(expectationFor(actorOf('attending', 'care'), 'update', facts, 'open', 'care')).toEqual({ allowed: false, rid: 'R-07' });
      await relabel(await tokenFor('attending', 'care'), observationId('open', 'N'), 'R');
    });

    it('R-07: the chief on the care team may update the R Observation but not raise it to V → 403, version unchanged', async () => {
      expect(expectationFor(actorOf('chief', 'care'), 'update', factsOf('open', 'V'), 'open', 'care')).toEqual({ allowed: false, rid: 'R-07' });
      await relabel(await tokenFor('chief', 'care'), observationId('open', 'R'), 'V');
    });

    it('R-07: the HIS integration, whose rule names R and V, may label a record V → 200, a new version with the label', async () => {
      expect(expectationFor(actorOf('his-system', 'dept'), 'update', factsOf('10d', 'V'), '10d', 'dept')).toEqual({ allowed: true, rid: 'R-02', by: 'his-system.records' });
      const id = observationId('10d', 'N');
      const before = (await store.read('Observation', id)) as Observation;
      const res = await as(his, 'PUT', `Observation/${id}`, { ...before, meta: { security: [{ system: CONFIDENTIALITY, code: 'V' }] } });
      expect(res.status).toBe(200);
      const after = (await store.read('Observation', id)) as Observation;
      expect(Number(after.meta?.versionId)).toBe(Number(before.meta?.versionId) + 1);
      expect(after.meta?.security).toEqual([{ system: CONFIDENTIALITY, code: 'V' }]);
      // put it back, so the other cases keep their N record
      const restore = await as(his, 'PUT', `Observation/${id}`, { ...after, meta: { security: before.meta?.security } });
      expect(restore.status).toBe(200);
    });
  });

  describe('R-02: roles the policy does not know grant nothing', () => {
    it.each([
      { roles: ['janitor'], what: 'an unknown role' },
      { roles: ['Attending', 'ATTENDING', 'superuser'], what: 'look-alike role names' },
      { roles: [] as string[], what: 'no role at all' },
    ])('R-02: a token with $what ($roles), on the care team and in the department → read 403, search 0, create 403, update 403', async ({ roles }) => {
      // On the care team (fhirUser) and in the patient's department: every attribute a known role could use.
      const token = await server.token({ sub: `${RUN}-unknown-${roles.join('+') || 'none'}`, roles, department: DEPARTMENT, fhirUser: practitioner('care'), ttl: '1h' });
      const obsId = observationId('open', 'N');
      for (const role of roles) expect(expectationFor({ roles: [role], practitioner: practitioner('care'), department: DEPARTMENT }, 'read', factsOf('open', 'N'), 'open', 'care').allowed).toBe(false);

      expectForbidden(await as(token, 'GET', `Observation/${obsId}`));
      expectForbidden(await as(token, 'GET', `Patient/${patientId('open')}`));

      const found = await as<Bundle>(token, 'GET', `Observation?patient=${patientId('open')}`);
      expect(found.status).toBe(200);
      expect({ total: found.body.total, ids: bundleIds(found.body) }).toEqual({ total: 0, ids: [] });

      const value = `unknown-${randomUUID()}`;
      expectForbidden(await as(token, 'POST', 'Observation', observation('open', 'N', { identifier: [{ system: IDENTIFIER_SYSTEM, value }] })));
      expect(await storedCount(value)).toBe(0);

      const before = (await store.read('Observation', obsId)) as Observation;
      expectForbidden(await as(token, 'PUT', `Observation/${obsId}`, { ...before, valueQuantity: quantity(++counter) }));
      expect(((await store.read('Observation', obsId)) as Observation).meta?.versionId).toBe(before.meta?.versionId);
    });
  });

  describe('SMART scopes only ever narrow the policy', () => {
    const obsId = () => observationId('open', 'N');
    const attendingOnCareTeam = (scope: string) => tokenFor('attending', 'care', { scope });

    it('(baseline) R-03: the attending on the care team without scopes reads the Observation → 200', async () => {
      expect(expectationFor(actorOf('attending', 'care'), 'read', factsOf('open', 'N'), 'open', 'care').allowed).toBe(true);
      expect((await as(await tokenFor('attending', 'care'), 'GET', `Observation/${obsId()}`)).status).toBe(200);
    });

    it('R-02: scope "user/Patient.rs" → Observation read 403, Observation search 0 results, but the Patient reads (200)', async () => {
      const token = await attendingOnCareTeam('user/Patient.rs');
      expectForbidden(await as(token, 'GET', `Observation/${obsId()}`));
      const found = await as<Bundle>(token, 'GET', `Observation?patient=${patientId('open')}`);
      expect(found.status).toBe(200);
      expect({ total: found.body.total, ids: bundleIds(found.body) }).toEqual({ total: 0, ids: [] });
      const patient = await as<Patient>(token, 'GET', `Patient/${patientId('open')}`);
      expect({ status: patient.status, id: patient.body.id }).toEqual({ status: 200, id: patientId('open') });
    });

    it('R-02: scope "user/*.rs" → read 200 and search finds it, but create is 403 (no "c") and nothing is stored', async () => {
      const token = await attendingOnCareTeam('user/*.rs');
      const read = await as<Observation>(token, 'GET', `Observation/${obsId()}`);
      expect({ status: read.status, id: read.body.id }).toEqual({ status: 200, id: obsId() });
      const found = await as<Bundle>(token, 'GET', `Observation?patient=${patientId('open')}&_id=${obsId()}`);
      expect({ total: found.body.total, ids: bundleIds(found.body) }).toEqual({ total: 1, ids: [`Observation/${obsId()}`] });
      const value = `scope-rs-${randomUUID()}`;
      expectForbidden(await as(token, 'POST', 'Observation', observation('open', 'N', { identifier: [{ system: IDENTIFIER_SYSTEM, value }] })));
      expect(await storedCount(value)).toBe(0);
    });

    it('R-02: v1 scope "user/*.read" → read 200, update 403 with the version unchanged', async () => {
      const token = await attendingOnCareTeam('user/*.read');
      expect((await as(token, 'GET', `Observation/${obsId()}`)).status).toBe(200);
      const before = (await store.read('Observation', obsId())) as Observation;
      expectForbidden(await as(token, 'PUT', `Observation/${obsId()}`, { ...before, valueQuantity: quantity(++counter) }));
      expect(((await store.read('Observation', obsId())) as Observation).meta?.versionId).toBe(before.meta?.versionId);
    });

    it('R-02: scope "patient/*.rs" with no patient claim in the token → read 403 and search 0', async () => {
      const token = await attendingOnCareTeam('patient/*.rs');
      expectForbidden(await as(token, 'GET', `Observation/${obsId()}`));
      const found = await as<Bundle>(token, 'GET', `Observation?patient=${patientId('open')}`);
      expect(found.status).toBe(200);
      expect(found.body.total).toBe(0);
    });

    it('R-07: scope "user/*.cruds" does not widen: the attending still cannot read label V (403) nor an intern a record 40 days after discharge (403)', async () => {
      expectForbidden(await as(await attendingOnCareTeam('user/*.cruds'), 'GET', `Observation/${observationId('open', 'V')}`));
      expect(expectationFor(actorOf('intern', 'care'), 'read', factsOf('40d', 'N'), '40d', 'care').allowed).toBe(false);
      expectForbidden(await as(await tokenFor('intern', 'care', { scope: 'user/*.cruds' }), 'GET', `Observation/${observationId('40d', 'N')}`));
    });

    it('R-02: scope "user/*.cruds" does not widen a role without clinical access: admin reads 403, searches 0', async () => {
      const token = await tokenFor('admin', 'dept', { scope: 'user/*.cruds' });
      expectForbidden(await as(token, 'GET', `Observation/${obsId()}`));
      const found = await as<Bundle>(token, 'GET', `Observation?patient=${patientId('open')}`);
      expect(found.body.total).toBe(0);
    });
  });
});
