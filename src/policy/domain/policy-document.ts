import { z } from 'zod';
import { ACTIONS, CONFIDENTIALITY } from './actions.js';
import { EVIDENCE_KINDS, REQUESTER_TYPES } from './copy-checklists.js';

/**
 * The access policy as data (YAML or JSON): settings, resource groups, and per role the
 * rules that allow actions. Anything no rule allows is denied. Validated at
 * start-up; an invalid policy stops the server with the exact path and reason.
 */
const action = z.enum(ACTIONS);
const label = z.enum(CONFIDENTIALITY);
const rid = z.string().regex(/^R-\d{2}$/, 'a rule id like R-03');

/** Conditions on the record, named by what they mean (see `subject-attributes.ts`). */
export const conditionSchema = z
  .object({
    /** The actor is on the patient's care relationship (Encounter participant or CareTeam member). */
    onCareTeam: z.literal(true).optional().describe(
      '`true`: the actor is on the patient\'s care relationship (Encounter participant or CareTeam member) (R-03).',
    ),
    /** The patient has an encounter, inside the care window, in the actor's department. */
    sameDepartment: z.literal(true).optional().describe('`true`: the patient has an encounter, inside the care window, in the actor\'s department (R-03).'),
    /** The record's encounter is open, or closed no more than `careWindowDaysAfterDischarge` days ago. */
    withinCareWindow: z.literal(true).optional().describe(
      '`true`: the record\'s encounter is open, or closed no more than `settings.careWindowDaysAfterDischarge` days ago (R-03).',
    ),
    /** The actor holds an approved, unexpired grant for the patient. */
    hasGrant: z.literal(true).optional().describe('`true`: the actor holds an approved, unexpired grant (借阅) for the patient (R-05).'),
    /** The actor broke the glass for the patient, and it has not expired. */
    breakGlass: z.literal(true).optional().describe('`true`: the actor broke the glass for the patient, and it has not expired (R-04).'),
    /** The actor is the record's author. */
    authoredBySelf: z.literal(true).optional().describe('`true`: the actor is the record\'s author.'),
    encounterClass: z.array(z.string().min(1)).min(1).optional().describe('The record\'s encounter class is one of these codes (e.g. `AMB`, `IMP`).'),
    status: z.array(z.string().min(1)).min(1).optional().describe('The resource\'s `status` is one of these codes.'),
    docType: z.array(z.string().min(1)).min(1).optional().describe(
      'The clinical document\'s type (a ChartWarden document type, e.g. `first-progress-note`) is one of these.',
    ),
  })
  .strict();

/** Conditions on the actor, decided when the ability is built. */
const actorConditionSchema = z
  .object({
    licence: z.array(z.enum(['licensed', 'intern', 'probation', 'visiting'])).min(1).optional().describe(
      'The actor\'s licence status (from the token) is one of these; an actor whose token says nothing is not licensed (R-02, R-14).',
    ),
    specialty: z.array(z.string().min(1)).min(1).optional().describe('The actor\'s specialty (from the token) is one of these (R-02, R-03).'),
  })
  .strict();

export const ruleSchema = z
  .object({
    id: z.string().regex(/^[a-z0-9][a-z0-9.-]*$/, 'lower-case letters, digits, dots and dashes').describe(
      'The rule\'s id, unique in its role (e.g. `attending.care-team`); recorded with every decision it explains.',
    ),
    allow: z.array(action).min(1).optional().describe('The actions this rule allows (exactly one of `allow` and `deny`).'),
    deny: z.array(action).min(1).optional().describe('The actions this rule denies; a matching deny outranks every allow (R-02).'),
    on: z.array(z.string().min(1)).min(1).describe('Resource types or group names (see `groups`) the rule applies to.'),
    when: conditionSchema.optional().describe('Conditions on the record, all of which must hold; none: every record of those types.'),
    actor: actorConditionSchema.optional().describe('Conditions on the actor, all of which must hold, decided when the ability is built.'),
    /** Confidentiality labels this rule covers; default `settings.defaultLabels`. */
    labels: z.array(label).min(1).optional().describe(
      'Confidentiality labels (v3-Confidentiality) this rule covers; default `settings.defaultLabels` (R-07).',
    ),
    rule: rid.optional().describe('The EMR rule id (R-xx, docs/rules.md) this policy rule enforces.'),
    because: z.string().optional().describe('Free text: why the hospital has this rule (for readers of the policy).'),
  })
  .strict()
  .refine((r) => Boolean(r.allow) !== Boolean(r.deny), { message: 'a rule has exactly one of allow or deny' });

/** A coding a copy part matches on (`system` and `code`, both required). */
const codingSchema = z
  .object({ system: z.string().min(1).describe('The code system (e.g. `http://loinc.org`).'), code: z.string().min(1).describe('The code in that system.') })
  .strict();

/** Whether `name` is a time zone this runtime knows (an IANA name such as `Asia/Shanghai`, or `UTC`). */
function isTimeZone(name: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: name });
    return true;
  } catch {
    return false;
  }
}

export const policySchema = z
  .object({
    version: z.string().min(1).describe('The policy\'s version, recorded with every access decision.'),
    settings: z
      .object({
        hiddenRecords: z.enum(['forbidden', 'not-found']).describe(
          'What a denied read answers: `forbidden` (403) or `not-found` (404, so existence does not leak; decision 0005).',
        ),
        /** The hospital's name, printed on copies and sealed inventories with the stamp. */
        hospitalName: z.string().min(1).optional().meta({
          description: 'The hospital\'s name, printed on copies and sealed inventories with the stamp (R-33, R-40).',
          default: 'ChartWarden 示例医院',
        }),
        /** The IANA time zone in which people read times: papers, the console, explain texts (API JSON keeps ISO 8601 with offsets). */
        timeZone: z
          .string()
          .refine(isTimeZone, { message: 'not an IANA time zone name (e.g. Asia/Shanghai)' })
          .optional()
          .meta({
            description: 'The IANA time zone in which people read times: papers, the console, explain texts. API JSON stays ISO 8601 with offsets.',
            default: 'Asia/Shanghai',
          }),
        /** The record room's stamp printed on every page of a certified copy and of a sealed inventory. */
        stamp: z
          .object({
            copy: z.string().min(1).optional().meta({ description: 'R-33: the words of the stamp on certified copies.', default: '病历管理专用章' }),
            sealed: z.string().min(1).optional().meta({ description: 'R-40: the words of the stamp on sealed inventories and unseal records.', default: '病历封存专用章' }),
            colour: z
              .string()
              .regex(/^#[0-9a-fA-F]{6}$/, 'a colour as #rrggbb')
              .optional()
              .meta({ description: 'The stamp\'s ink, as #rrggbb.', default: '#d7261e' }),
          })
          .strict()
          .optional()
          .describe('The stamp printed with `hospitalName` on every page of a copy or a sealed inventory (R-33, R-40).'),
        /** Roles that read identity-document numbers whole in workflow JSON; every other role reads them masked (issue #18). */
        idNumbersVisibleTo: z.array(z.string().min(1)).optional().meta({
          description:
            'Roles that read identity-document numbers (a copy requester\'s, a delivery recipient\'s, a dispute\'s patient side) whole in workflow JSON, ' +
            'because they check or record them; every other role reads them masked as the papers print them (****1234).',
          default: ['record-room', 'disputes-officer'],
        }),
        /** Identifier systems whose value is the medical-record number (病案号) printed on papers; first match wins. */
        medicalRecordNumberSystems: z.array(z.string().min(1)).optional().meta({
          description:
            'Identifier systems (`Patient.identifier.system`) whose value is the medical-record number (病案号) printed on papers, tried in order; then an identifier of type MR (v2-0203).',
          default: [],
        }),
        /**
         * how long records are kept, in years: outpatient from the last visit (at least 15),
         * inpatient from the last discharge (at least 30). ChartWarden never deletes a record
         * (the database refuses it); `chartwarden retention report` lists what has reached it.
         */
        recordRetention: z
          .object({
            outpatientYears: z
              .number()
              .int()
              .min(15, 'R-18: outpatient records are kept at least 15 years from the last visit')
              .describe('Years outpatient records are kept from the last visit (at least 15).'),
            inpatientYears: z
              .number()
              .int()
              .min(30, 'R-18: inpatient records are kept at least 30 years from the last discharge')
              .describe('Years inpatient records are kept from the last discharge (at least 30).'),
          })
          .strict()
          .optional()
          .meta({
            description: 'R-18: how long records are kept; ChartWarden never deletes a record, `chartwarden retention report` lists those past it.',
            default: { outpatientYears: 15, inpatientYears: 30 },
          }),
        careWindowDaysAfterDischarge: z.number().int().min(0).describe(
          'Days after discharge clinicians keep access to a patient\'s records (`withinCareWindow`, R-03).',
        ),
        breakGlass: z
          .object({
            hours: z.number().positive().describe('R-04: how long one break-the-glass opens a patient, in hours.'),
            roles: z.array(z.string().min(1)).describe('R-04: the roles that may break the glass.'),
          })
          .strict()
          .describe('Break-the-glass (R-04): emergency access with a stated reason, time-limited, reviewed by medical affairs.'),
        grants: z
          .object({
            defaultDays: z.number().positive().describe('R-05: days an approved grant lasts unless the approval says otherwise.'),
            maxDays: z.number().positive().describe('R-05: the longest an approval may make a grant last, in days.'),
          })
          .strict()
          .describe('Time-limited grants (借阅, R-05); who approves is the rules allowing `approve` on AccessGrant.'),
        defaultLabels: z.array(label).min(1).describe('Confidentiality labels a rule covers unless it names its own (R-07).'),
        /**
         * How long audit entries are kept: `record` (as long as the record, the default)
         * or at least 6 months. ChartWarden itself never removes an entry (the database refuses
         * it); any archiving job must keep entries younger than this.
         */
        audit: z
          .object({
            retention: z.union([
              z.literal('record'),
              z
                .object({
                  months: z.number().int().min(6, 'R-21: audit entries are kept at least 6 months').describe('Months audit entries are kept (at least 6).'),
                })
                .strict(),
            ]).describe('`record` (as long as the record) or `{ months: N }` with N ≥ 6.'),
          })
          .strict()
          .optional()
          .describe('R-21: how long audit entries are kept (absent: as long as the record); ChartWarden never removes one.'),
      })
      .strict()
      .describe('Numbers and switches the rules use: hospitals set their own (defaults in policy/default.policy.yaml).'),
    groups: z
      .record(
        z.string().regex(/^[a-z][a-z0-9-]*$/),
        z.union([
          z.array(z.string().regex(/^[A-Z][A-Za-z]+$/)).min(1),
          z
            .object({
              compartment: z.literal('Patient').describe('Every type of the R4 Patient compartment (fhir-profiles/compartmentdefinition-patient.json).'),
              except: z.array(z.string().regex(/^[A-Z][A-Za-z]+$/)).optional().describe('Types of the compartment left out of the group.'),
            })
            .strict(),
        ]),
      )
      .describe(
        'Named lists of FHIR resource types (e.g. `patient-record`, `definitions`, `directory`) that rules name in `on`; a group given as `{ compartment: Patient }` is every type with a link to a patient.',
      ),
    /** Edit governance (issue #4, R-10…R-18): which resources are clinical documents, and a hospital's own document codes. */
    governance: z
      .object({
        resources: z.array(z.string().regex(/^[A-Z][A-Za-z]+$/)).min(1).describe(
          'The resource types that are clinical documents (every version in the edit ledger, R-12).',
        ),
        documentTypeMap: z
          .array(
            z
              .object({
                system: z.string().min(1).describe('The code system of the hospital\'s own document code.'),
                code: z.string().min(1).describe('The hospital\'s document code.'),
                type: z.string().min(1).describe('The ChartWarden document type it means (fhir-profiles/chartwarden-document-types.json).'),
              })
              .strict(),
          )
          .optional()
          .describe('A hospital\'s own document codes, added to the shipped LOINC map (fhir-profiles/chartwarden-document-type-map.json).'),
        /** passages of at least this many characters found verbatim in another patient's documents are refused (default 50). */
        copyPasteMinChars: z.number().int().min(20).optional().meta({
          description: 'R-16: passages of at least this many characters found verbatim in another patient\'s documents are refused.',
          default: 50,
        }),
        /** hours after its triggering event (admission, operation, rescue, discharge, death) each document type is due. */
        writingDeadlines: z.record(z.string().min(1), z.number().positive()).optional().describe(
          'R-10: per document type, hours after its triggering event (admission, operation, rescue, discharge, death) it is due.',
        ),
        /** archive an outpatient record as soon as its last document is signed (default false: by `$archive`). */
        archiveOutpatientOnSigning: z.boolean().optional().meta({
          description: 'R-15: archive an outpatient record as soon as its last document is signed (`false`: by `$archive`).',
          default: false,
        }),
        /** roles whose review archives an inpatient encounter (senior physicians; default chief). */
        archiveInpatientRoles: z.array(z.string().min(1)).min(1).optional().meta({
          description: 'R-15: roles whose review archives an inpatient encounter (senior physicians).',
          default: ['chief'],
        }),
        /** how long an approved amendment permit stays usable, in hours (default 24). */
        amendmentPermitHours: z.number().positive().optional().meta({
          description: 'R-11: how long an approved amendment permit stays usable, in hours.',
          default: 24,
        }),
        /** who may change which document types, for how many hours from creation or signing. */
        editWindows: z
          .array(
            z
              .object({
                roles: z.array(z.string().min(1)).min(1).describe('The roles this window applies to.'),
                types: z.union([z.literal('*'), z.array(z.string().min(1)).min(1)]).describe('Document types, or `*` for all.'),
                hours: z.number().positive().describe('Length of the window, in hours.'),
                from: z.enum(['created', 'signed']).describe('Counted from the document\'s creation or from its signing (first final version).'),
              })
              .strict(),
          )
          .optional()
          .describe(
            'R-11: who may change which document types, for how many hours; the most generous match applies, other roles cannot change it.',
          ),
      })
      .strict()
      .optional()
      .describe('Edit governance (R-10…R-18): which resources are clinical documents, deadlines, edit windows, archiving.'),
    /** Copy requests (issue #6, R-30…R-34). */
    copyRequests: z
      .object({
        /**
         * the evidence each requester type presents; an item is one kind, or a list of
         * kinds any one of which will do. Types not named keep the shipped checklist.
         */
        evidence: z
          .record(z.enum(REQUESTER_TYPES), z.array(z.union([z.enum(EVIDENCE_KINDS), z.array(z.enum(EVIDENCE_KINDS)).min(2)])).min(1))
          .optional()
          .describe(
            'R-30: per requester type, the evidence to present; an item is one kind or a list of alternatives. Types not named keep the shipped list.',
          ),
        /** Largest evidence file accepted, in bytes (default 10 MiB). */
        maxEvidenceBytes: z.number().int().positive().optional().meta({
          description: 'Largest evidence file accepted, in bytes.',
          default: 10 * 1024 * 1024,
        }),
        /**
         * Separation of duties (default true): the clerk who received or verified a request may
         * not approve it; someone else of the record room does.
         */
        separationOfDuties: z.boolean().optional().meta({
          description: 'The clerk who received or verified a request may not approve it; someone else of the record room does (R-34).',
          default: true,
        }),
        /** a hospital's own objective parts kept as structured resources, tried before the shipped map. */
        parts: z
          .array(
            z
              .object({
                part: z.string().min(1).describe('The document type it is copied as (fhir-profiles/chartwarden-document-types.json).'),
                resourceType: z.string().regex(/^[A-Z][A-Za-z]+$/).describe('The resource type.'),
                category: z.array(codingSchema).min(1).optional().describe('Any of these codings in `category`.'),
                code: z.array(codingSchema).min(1).optional().describe('Any of these codings in `code`.'),
                complete: z.array(z.string().min(1)).min(1).describe('Statuses in which the record is complete and copied (R-32).'),
                void: z.array(z.string().min(1)).optional().describe('Statuses in which it never took effect: left out, with the reason.'),
                note: z.string().optional().describe('Why the entry is there, for the next reader of the policy.'),
              })
              .strict(),
          )
          .optional()
          .describe("R-31: a hospital's own parts of the record as structured resources, tried before fhir-profiles/chartwarden-copy-parts.json."),
      })
      .strict()
      .optional()
      .describe('Copy requests (R-30…R-34).'),
    /** Disputes (issue #7, R-40…R-44). */
    disputes: z
      .object({
        /** years after sealing with no claim after which the hospital may unseal alone, with approval (default 3). */
        unilateralUnsealAfterYears: z.number().positive().optional().meta({
          description: 'R-43: years after sealing with no claim after which the hospital may unseal alone, with approval.',
          default: 3,
        }),
        /** R-40/R-43: how long a witness's confirmation or medical affairs' approval stays usable, in minutes (default 30). */
        confirmationMinutes: z.number().positive().max(1440).optional().meta({
          description: 'R-40/R-43: how long a witness\'s confirmation or medical affairs\' approval stays usable, in minutes.',
          default: 30,
        }),
      })
      .strict()
      .optional()
      .describe('Disputes: sealing (封存) and unsealing (启封) (R-40…R-44).'),
    roles: z.record(
      z.string().regex(/^[a-z][a-z0-9-]*$/),
      z
        .object({
          title: z.string().optional().describe('A readable name for the role.'),
          rules: z.array(ruleSchema).describe('The rules of this role; what none allows is denied (R-02).'),
        })
        .strict(),
    )
    .describe('Per role (the `roles` claim of the token), its rules.'),
  })
  .strict();

/** The policy as written: a group may name the Patient compartment instead of listing its types. */
export type PolicySource = z.infer<typeof policySchema>;
/** The policy as loaded (`validatePolicy`): every group is a list of resource types. */
export type PolicyDocument = Omit<PolicySource, 'groups'> & { groups: Record<string, string[]> };
export type PolicyRule = z.infer<typeof ruleSchema>;
export type PolicyConditions = z.infer<typeof conditionSchema>;
export type PolicySettings = PolicyDocument['settings'];
