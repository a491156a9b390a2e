import { z } from 'zod';
import { ACTIONS, CONFIDENTIALITY } from './actions.js';
import { EVIDENCE_KINDS, REQUESTER_TYPES } from '../../release/domain/copy-request.js';

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
    onCareTeam: z.literal(true).optional(),
    /** The patient has an encounter, inside the care window, in the actor's department. */
    sameDepartment: z.literal(true).optional(),
    /** The record's encounter is open, or closed no more than `careWindowDaysAfterDischarge` days ago. */
    withinCareWindow: z.literal(true).optional(),
    /** The actor holds an approved, unexpired grant for the patient. */
    hasGrant: z.literal(true).optional(),
    /** The actor broke the glass for the patient, and it has not expired. */
    breakGlass: z.literal(true).optional(),
    /** The actor is the record's author. */
    authoredBySelf: z.literal(true).optional(),
    encounterClass: z.array(z.string().min(1)).min(1).optional(),
    status: z.array(z.string().min(1)).min(1).optional(),
    docType: z.array(z.string().min(1)).min(1).optional(),
  })
  .strict();

/** Conditions on the actor, decided when the ability is built. */
const actorConditionSchema = z
  .object({
    licence: z.array(z.enum(['licensed', 'intern', 'probation', 'visiting'])).min(1).optional(),
    specialty: z.array(z.string().min(1)).min(1).optional(),
  })
  .strict();

export const ruleSchema = z
  .object({
    id: z.string().regex(/^[a-z0-9][a-z0-9.-]*$/, 'lower-case letters, digits, dots and dashes'),
    allow: z.array(action).min(1).optional(),
    deny: z.array(action).min(1).optional(),
    on: z.array(z.string().min(1)).min(1),
    when: conditionSchema.optional(),
    actor: actorConditionSchema.optional(),
    /** Confidentiality labels this rule covers; default `settings.defaultLabels`. */
    labels: z.array(label).min(1).optional(),
    rule: rid.optional(),
    because: z.string().optional(),
  })
  .strict()
  .refine((r) => Boolean(r.allow) !== Boolean(r.deny), { message: 'a rule has exactly one of allow or deny' });

export const policySchema = z
  .object({
    version: z.string().min(1),
    settings: z
      .object({
        hiddenRecords: z.enum(['forbidden', 'not-found']),
        /** The hospital's name, printed on copies and sealed inventories with the stamp. */
        hospitalName: z.string().min(1).optional(),
        /**
         * how long records are kept, in years: outpatient from the last visit (at least 15),
         * inpatient from the last discharge (at least 30). ChartWarden never deletes a record
         * (the database refuses it); `chartwarden retention report` lists what has reached it.
         */
        recordRetention: z
          .object({
            outpatientYears: z.number().int().min(15, 'R-18: outpatient records are kept at least 15 years from the last visit'),
            inpatientYears: z.number().int().min(30, 'R-18: inpatient records are kept at least 30 years from the last discharge'),
          })
          .strict()
          .optional(),
        careWindowDaysAfterDischarge: z.number().int().min(0),
        breakGlass: z.object({ hours: z.number().positive(), roles: z.array(z.string().min(1)) }).strict(),
        grants: z.object({ defaultDays: z.number().positive(), maxDays: z.number().positive() }).strict(),
        defaultLabels: z.array(label).min(1),
        /**
         * How long audit entries are kept: `record` (as long as the record, the default)
         * or at least 6 months. ChartWarden itself never removes an entry (the database refuses
         * it); any archiving job must keep entries younger than this.
         */
        audit: z
          .object({
            retention: z.union([
              z.literal('record'),
              z.object({ months: z.number().int().min(6, 'R-21: audit entries are kept at least 6 months') }).strict(),
            ]),
          })
          .strict()
          .optional(),
      })
      .strict(),
    groups: z.record(z.string().regex(/^[a-z][a-z0-9-]*$/), z.array(z.string().regex(/^[A-Z][A-Za-z]+$/)).min(1)),
    /** Edit governance (issue #4, R-10…R-18): which resources are clinical documents, and a hospital's own document codes. */
    governance: z
      .object({
        resources: z.array(z.string().regex(/^[A-Z][A-Za-z]+$/)).min(1),
        documentTypeMap: z.array(z.object({ system: z.string().min(1), code: z.string().min(1), type: z.string().min(1) }).strict()).optional(),
        /** passages of at least this many characters found verbatim in another patient's documents are refused (default 50). */
        copyPasteMinChars: z.number().int().min(20).optional(),
        /** hours after its triggering event (admission, operation, rescue, discharge, death) each document type is due. */
        writingDeadlines: z.record(z.string().min(1), z.number().positive()).optional(),
        /** archive an outpatient record as soon as its last document is signed (default false: by `$archive`). */
        archiveOutpatientOnSigning: z.boolean().optional(),
        /** roles whose review archives an inpatient encounter (senior physicians; default chief). */
        archiveInpatientRoles: z.array(z.string().min(1)).min(1).optional(),
        /** how long an approved amendment permit stays usable, in hours (default 24). */
        amendmentPermitHours: z.number().positive().optional(),
        /** who may change which document types, for how many hours from creation or signing. */
        editWindows: z
          .array(
            z
              .object({
                roles: z.array(z.string().min(1)).min(1),
                types: z.union([z.literal('*'), z.array(z.string().min(1)).min(1)]),
                hours: z.number().positive(),
                from: z.enum(['created', 'signed']),
              })
              .strict(),
          )
          .optional(),
      })
      .strict()
      .optional(),
    /** Copy requests (issue #6, R-30…R-34). */
    copyRequests: z
      .object({
        /**
         * the evidence each requester type presents; an item is one kind, or a list of
         * kinds any one of which will do. Types not named keep the shipped checklist.
         */
        evidence: z.record(z.enum(REQUESTER_TYPES), z.array(z.union([z.enum(EVIDENCE_KINDS), z.array(z.enum(EVIDENCE_KINDS)).min(2)])).min(1)).optional(),
        /** Largest evidence file accepted, in bytes (default 10 MiB). */
        maxEvidenceBytes: z.number().int().positive().optional(),
        /**
         * Separation of duties (default true): the clerk who received or verified a request may
         * not approve it; someone else of the record room does.
         */
        separationOfDuties: z.boolean().optional(),
      })
      .strict()
      .optional(),
    /** Disputes (issue #7, R-40…R-44). */
    disputes: z
      .object({
        /** years after sealing with no claim after which the hospital may unseal alone, with approval (default 3). */
        unilateralUnsealAfterYears: z.number().positive().optional(),
        /** R-40/R-43: how long a witness's confirmation or medical affairs' approval stays usable, in minutes (default 30). */
        confirmationMinutes: z.number().positive().max(1440).optional(),
      })
      .strict()
      .optional(),
    roles: z.record(
      z.string().regex(/^[a-z][a-z0-9-]*$/),
      z.object({ title: z.string().optional(), rules: z.array(ruleSchema) }).strict(),
    ),
  })
  .strict();

export type PolicyDocument = z.infer<typeof policySchema>;
export type PolicyRule = z.infer<typeof ruleSchema>;
export type PolicyConditions = z.infer<typeof conditionSchema>;
export type PolicySettings = PolicyDocument['settings'];
