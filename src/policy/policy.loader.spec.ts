import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { packageRoot } from '../common/package-root.js';
import { loadR4Definitions } from '../store/fhir-definitions.js';
import { expandSubjects } from './domain/ability.factory.js';
import type { PolicyDocument } from './domain/policy-document.js';
import { defaultPolicyPath, loadPolicy, validatePolicy } from './policy.loader.js';
import { PolicyLoadError } from './policy.errors.js';

/*
 * The policy is data (issue #3): the shipped default loads, and a bad policy stops start-up
 * with the exact path in the document and the reason. Each invalid document below is the
 * shipped default with one thing broken, so the error names that thing alone.
 */

const resourceTypes = loadR4Definitions();
const dir = mkdtempSync(join(tmpdir(), 'chartwarden-policy-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The shipped default as a plain object, to break one thing in. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const defaultDocument = (): any => parse(readFileSync(defaultPolicyPath(), 'utf8'));

let fileNo = 0;
function write(content: string, name = `policy-${++fileNo}.yaml`): string {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}

/** Loads `content` from a file; returns the error message (fails if it loads). */
function loadError(content: string): { path: string; message: string } {
  const path = write(content);
  try {
    loadPolicy(path, resourceTypes);
  } catch (e) {
    expect(e).toBeInstanceOf(PolicyLoadError);
    return { path, message: (e as Error).message };
  }
  throw new Error(`policy ${path} loaded, but it should not have`);
}

/** The default with `breakIt` applied, written as YAML and loaded: the error message. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
function brokenDefault(breakIt: (doc: any) => void): { path: string; message: string } {
  const doc = defaultDocument();
  breakIt(doc);
  return loadError(stringify(doc));
}

describe('loadPolicy / validatePolicy', () => {
  describe('the shipped default policy', () => {
    let policy: PolicyDocument;
    beforeAll(() => {
      policy = loadPolicy(defaultPolicyPath(), resourceTypes);
    });

    it('R-02: loads, with the hospital roles of issue #3 and a version recorded with decisions', () => {
      expect(Object.keys(policy.roles).sort()).toEqual(
        ['admin', 'attending', 'auditor', 'chief', 'disputes-officer', 'his-system', 'intern', 'medical-affairs', 'nurse', 'record-room', 'resident'].sort(),
      );
      expect(policy.version).toMatch(/\S/);
    });

    it('R-03/R-04/R-05/R-07: numbers are policy defaults, not code: care window 30 days, break-the-glass 4 h, grants 3 days, labels U/L/M/N', () => {
      expect(policy.settings.careWindowDaysAfterDischarge).toBe(30);
      expect(policy.settings.breakGlass.hours).toBe(4);
      expect(policy.settings.breakGlass.roles.sort()).toEqual(['attending', 'chief', 'nurse', 'resident']);
      expect(policy.settings.grants.defaultDays).toBe(3);
      expect(policy.settings.defaultLabels).toEqual(['U', 'L', 'M', 'N']);
    });

    it('R-02: the patient record is the R4 Patient compartment (every type linking a patient), less the audit trail and Group; no type is in two groups', () => {
      const compartment = JSON.parse(readFileSync(join(packageRoot(), 'fhir-profiles', 'compartmentdefinition-patient.json'), 'utf8')) as {
        resource: { code: string; param?: string[] }[];
      };
      const linked = compartment.resource.filter((r) => r.param?.length).map((r) => r.code);
      expect(policy.groups['patient-record']).toEqual(linked.filter((t) => t !== 'AuditEvent' && t !== 'Group').sort());
      expect(policy.groups['patient-record']).toEqual(
        expect.arrayContaining(['Patient', 'Encounter', 'Observation', 'MedicationAdministration', 'Immunization', 'ImagingStudy', 'Specimen']),
      );
      expect(policy.groups['patient-record']).toEqual(expect.arrayContaining(['CarePlan', 'NutritionOrder', 'Coverage', 'Claim', 'ChargeItem', 'Invoice']));
      expect(policy.groups['patient-record']).toEqual(expect.arrayContaining(['Account', 'Appointment', 'Communication', 'QuestionnaireResponse', 'Provenance']));
      expect(policy.groups.definitions).toEqual(expect.arrayContaining(['Questionnaire', 'ValueSet', 'CodeSystem', 'PlanDefinition']));
      expect(policy.groups.directory).toEqual(expect.arrayContaining(['HealthcareService', 'Endpoint', 'Device']));
      const all = Object.values(policy.groups).flat();
      expect(all.filter((t, i) => all.indexOf(t) !== i)).toEqual([]);
    });

    it('R-02: clinicians read definitions; only the HIS and admin write them', () => {
      const writers = Object.entries(policy.roles)
        .filter(([, role]) => role.rules.some((r) => r.allow?.some((a) => a === 'create' || a === 'update') && r.on.includes('definitions')))
        .map(([name]) => name);
      expect(writers.sort()).toEqual(['admin', 'his-system']);
      const readers = Object.entries(policy.roles)
        .filter(([, role]) => role.rules.some((r) => r.allow?.includes('read') && r.on.includes('definitions') && !r.when))
        .map(([name]) => name);
      expect(readers.sort()).toEqual(['admin', 'attending', 'chief', 'his-system', 'intern', 'nurse', 'resident']);
    });

    it('R-02: admin has no rule on clinical records; auditor only audits and explains', () => {
      const clinical = new Set(policy.groups['patient-record']);
      const touches = (role: string) => policy.roles[role].rules.flatMap((r) => expandSubjects(policy, r.on)).filter((t) => clinical.has(t));
      expect(touches('admin')).toEqual([]);
      expect(touches('auditor')).toEqual([]);
    });

    it('R-03: clinicians reach patient records only through a condition (care team, department, window, grant, break-the-glass)', () => {
      for (const role of ['attending', 'resident', 'chief', 'intern', 'nurse']) {
        for (const rule of policy.roles[role].rules) {
          if (rule.on.includes('patient-record')) expect({ rule: rule.id, when: rule.when ?? {} }).not.toEqual({ rule: rule.id, when: {} });
        }
      }
    });

    it('R-02: every rule names the EMR rule it enforces', () => {
      for (const role of Object.values(policy.roles)) {
        for (const rule of role.rules) expect({ id: rule.id, rule: rule.rule }).toEqual({ id: rule.id, rule: expect.stringMatching(/^R-\d{2}$/) });
      }
    });
  });

  describe('an invalid policy stops start-up with the exact path and reason', () => {
    it('R-02: an unknown condition key', () => {
      const { message } = brokenDefault((d) => {
        d.roles.nurse.rules[0].when.onWard = true;
      });
      expect(message).toContain('roles.nurse.rules[0].when: Unrecognized key: "onWard"');
    });

    it('R-02: a condition that is not `true`', () => {
      const { message } = brokenDefault((d) => {
        d.roles.nurse.rules[0].when.onCareTeam = false;
      });
      expect(message).toContain('roles.nurse.rules[0].when.onCareTeam:');
    });

    it('R-02: an unknown action', () => {
      const { message } = brokenDefault((d) => {
        d.roles.nurse.rules[0].allow = ['read', 'peek'];
      });
      expect(message).toMatch(/roles\.nurse\.rules\[0\]\.allow\[1\]: Invalid option: expected one of "read"\|"search"/);
    });

    it('R-02: an unknown group or resource type in `on`', () => {
      const typo = brokenDefault((d) => {
        d.roles.nurse.rules[1].on = ['patient-records'];
      });
      expect(typo.message).toContain('roles.nurse.rules[1].on[0]: "patient-records" is neither a group nor a resource type');
      const type = brokenDefault((d) => {
        d.roles.attending.rules[4].on = ['directory', 'Widget'];
      });
      expect(type.message).toContain('roles.attending.rules[4].on[1]: "Widget" is neither a group nor a resource type');
    });

    it('R-02: a group listing something that is not a FHIR R4 resource type', () => {
      let at = -1;
      const { message } = brokenDefault((d) => {
        at = d.groups.directory.push('Widget') - 1;
      });
      expect(at).toBeGreaterThan(0);
      expect(message).toContain(`groups.directory[${at}]: "Widget" is not a FHIR R4 resource type`);
    });

    it('R-02: a compartment group leaving out a type that is not in the Patient compartment is refused', () => {
      const { message } = brokenDefault((d) => {
        d.groups['patient-record'] = { compartment: 'Patient', except: ['AuditEvent', 'Practitioner'] };
      });
      expect(message).toContain('groups.patient-record.except[1]: "Practitioner" is not a type of the Patient compartment');
    });

    it('R-21: audit retention shorter than 6 months is refused; `record` and { months: 6 } load', () => {
      const { message } = brokenDefault((d) => {
        d.settings.audit.retention = { months: 5 };
      });
      expect(message).toContain('settings.audit.retention');
      expect(message).toContain('R-21: audit entries are kept at least 6 months');
      const doc = defaultDocument();
      expect(doc.settings.audit.retention).toBe('record');
      doc.settings.audit.retention = { months: 6 };
      expect(loadPolicy(write(stringify(doc)), resourceTypes).settings.audit?.retention).toEqual({ months: 6 });
    });

    it('R-18: record retention below 15 years (outpatient) or 30 years (inpatient) is refused', () => {
      const short = brokenDefault((d) => {
        d.settings.recordRetention = { outpatientYears: 10, inpatientYears: 20 };
      });
      expect(short.message).toContain('R-18: outpatient records are kept at least 15 years');
      expect(short.message).toContain('R-18: inpatient records are kept at least 30 years');
      expect(defaultDocument().settings.recordRetention).toEqual({ outpatientYears: 15, inpatientYears: 30 });
    });

    it('R-33/R-40: a time zone that is not an IANA name, or a stamp colour that is not #rrggbb, is refused with its path', () => {
      const zone = brokenDefault((d) => {
        d.settings.timeZone = 'Beijing+8';
      });
      expect(zone.message).toContain('settings.timeZone');
      expect(zone.message).toContain('not an IANA time zone name');
      const ink = brokenDefault((d) => {
        d.settings.stamp = { colour: 'red' };
      });
      expect(ink.message).toContain('settings.stamp.colour');
      expect(ink.message).toContain('a colour as #rrggbb');
      expect(defaultDocument().settings.timeZone).toBe('Asia/Shanghai');
    });

    it('R-02: a rule id used twice in one role', () => {
      const { message } = brokenDefault((d) => {
        d.roles.nurse.rules[2].id = d.roles.nurse.rules[0].id;
      });
      expect(message).toContain('roles.nurse.rules[2].id: "nurse.care-team" is used twice');
    });

    it('R-02: a rule with both allow and deny, or neither', () => {
      const both = brokenDefault((d) => {
        d.roles.chief.rules[1].deny = ['update'];
      });
      expect(both.message).toContain('roles.chief.rules[1]: a rule has exactly one of allow or deny');
      const neither = brokenDefault((d) => {
        delete d.roles.chief.rules[1].allow;
      });
      expect(neither.message).toContain('roles.chief.rules[1]: a rule has exactly one of allow or deny');
    });

    it('R-04: a break-the-glass role that does not exist', () => {
      const { message } = brokenDefault((d) => {
        d.settings.breakGlass.roles.push('surgeon');
      });
      expect(message).toContain('settings.breakGlass.roles[4]: no role "surgeon"');
    });

    it('R-07: a label outside v3-Confidentiality', () => {
      const { message } = brokenDefault((d) => {
        d.roles.chief.rules[0].labels = ['N', 'X'];
      });
      expect(message).toMatch(/roles\.chief\.rules\[0\]\.labels\[1\]: Invalid option: expected one of "U"\|"L"\|"M"\|"N"\|"R"\|"V"/);
    });

    it('R-02: a negative care window and a malformed EMR rule id', () => {
      const { message } = brokenDefault((d) => {
        d.settings.careWindowDaysAfterDischarge = -1;
        d.roles.intern.rules[0].rule = 'R-3';
      });
      expect(message).toContain('settings.careWindowDaysAfterDischarge:');
      expect(message).toContain('roles.intern.rules[0].rule: a rule id like R-03');
    });

    it('R-02: every problem is listed at once, each with its path, and the file is named', () => {
      const { path, message } = brokenDefault((d) => {
        d.roles.nurse.rules[1].on = ['Widget'];
        d.settings.breakGlass.roles = ['surgeon'];
      });
      expect(message).toContain(`Policy ${path} is invalid:`);
      expect(message).toContain('roles.nurse.rules[1].on[0]: "Widget" is neither a group nor a resource type');
      expect(message).toContain('settings.breakGlass.roles[0]: no role "surgeon"');
    });

    it('R-02: a file that is not YAML says it cannot be read, naming the file', () => {
      const { path, message } = loadError('version: "1"\nroles: [unclosed\n  nurse: {\n');
      expect(message).toContain(`Policy ${path} cannot be read:`);
    });

    it('R-02: a YAML document that is not a policy at all', () => {
      expect(loadError('just some text\n').message).toContain('(document): Invalid input: expected object, received string');
      expect(loadError('- a\n- list\n').message).toContain('(document): Invalid input: expected object, received array');
    });

    it('R-02: a missing file says it cannot be read', () => {
      const missing = join(dir, 'no-such-policy.yaml');
      expect(() => loadPolicy(missing, resourceTypes)).toThrow(`Policy ${missing} cannot be read`);
    });

    it('R-02: an object passed in options is validated the same way, named by its source', () => {
      const doc = defaultDocument();
      doc.roles.nurse.rules[0].when.onWard = true;
      expect(() => validatePolicy(doc, resourceTypes, 'options.policy')).toThrow('Policy options.policy is invalid:\n  roles.nurse.rules[0].when: Unrecognized key: "onWard"');
    });
  });
});
