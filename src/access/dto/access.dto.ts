import { z } from 'zod';
import { LICENCE_STATUSES, type Actor, type LicenceStatus } from '../../identity/actor.js';
import { ACTIONS } from '../../policy/domain/actions.js';
import type { ExplainRequest } from '../../policy/explain.service.js';
import { GrantError, GrantErrorCode } from '../access.errors.js';

const id = z.string().regex(/^[A-Za-z0-9\-.]{1,64}$/, 'a FHIR id');
const patientRef = z
  .string()
  .regex(/^(Patient\/)?[A-Za-z0-9\-.]{1,64}$/, 'Patient/<id> or <id>')
  .transform((v) => v.replace(/^Patient\//, ''));
const instant = z.string().datetime({ offset: true });

/** `POST /access/grants` (R-05). */
export const grantRequestSchema = z
  .object({
    grantee: z.string().min(1).max(128),
    patient: patientRef,
    purpose: z.enum(['research', 'teaching', 'quality-review', 'continuity-of-care', 'other']),
    reason: z.string().min(1).max(2000),
    until: instant,
  })
  .strict();

/** `POST /access/grants/{id}/approve|refuse`, `POST /access/break-glass/{id}/review`. */
export const decisionSchema = z.object({ note: z.string().max(2000).optional() }).strict();

/** `GET /access/grants?grantee=<id>`: one grantee's grants; without it, everyone's (for approvers). Other parameters are ignored. */
export const grantListSchema = z.object({ grantee: z.string().optional() });

/** `GET /access/break-glass?unreviewed=true`: only the uses medical affairs has not reviewed yet (anything else: all). */
export const breakGlassListSchema = z.object({ unreviewed: z.string().optional().transform((v) => v === 'true') });

/** `POST /access/grants/{id}/extend`. */
export const extendSchema = z.object({ until: instant, reason: z.string().min(1).max(2000) }).strict();

/**
 * `GET /access/explain` (R-02), parsed into what to explain. `roles` are the policy's
 * `roleNames`: a role the policy does not define is refused with the list, rather than
 * looked up (`constructor`, `__proto__` are not roles); an unknown action likewise.
 */
export function explainSchema(roleNames: readonly string[]) {
  const known = new Set(roleNames);
  return z
    .object({
      actor: z.string().min(1).max(128),
      roles: z
        .string()
        .min(1)
        .max(1024)
        .transform((v) => v.split(',').map((r) => r.trim()).filter(Boolean))
        .superRefine((roles, ctx) => {
          const unknown = roles.filter((r) => !known.has(r));
          if (roles.length === 0 || unknown.length > 0) {
            const named = unknown.map((r) => JSON.stringify(r.slice(0, 64))).join(', ');
            ctx.addIssue({ code: 'custom', message: `${named ? `unknown role ${named}` : 'no role'}; the policy's roles are ${[...known].join(', ')}` });
          }
        }),
      dept: z.string().max(128).optional(),
      specialty: z.string().max(128).optional(),
      licence: z.enum(LICENCE_STATUSES as [LicenceStatus, ...LicenceStatus[]]).optional(),
      practitioner: z.string().max(256).optional(),
      scope: z.string().max(2048).optional(),
      action: z.enum(ACTIONS, { message: `one of ${ACTIONS.join(', ')}` }),
      resource: z.string().regex(/^[A-Z][A-Za-z]+\/[A-Za-z0-9\-.]{1,64}$/, 'Type/id'),
    })
    .strict()
    .transform((q): ExplainRequest => {
      const [resourceType, id] = q.resource.split('/');
      const target: Actor = {
        id: q.actor,
        practitioner: q.practitioner ?? `Practitioner/${q.actor}`,
        roles: q.roles,
        department: q.dept,
        specialty: q.specialty,
        licence: q.licence,
        scopes: q.scope ? q.scope.split(' ').filter(Boolean) : [],
      };
      return { target, action: q.action, resourceType, id };
    });
}

export { id as fhirIdSchema };

/** Parses a request body or query with a schema; every problem becomes one 400 naming the field. */
export function parseInput<T extends z.ZodTypeAny>(schema: T, input: unknown): z.infer<T> {
  const parsed = schema.safeParse(input ?? {});
  if (!parsed.success) {
    throw new GrantError(GrantErrorCode.Invalid, parsed.error.issues.map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`).join('; '));
  }
  return parsed.data;
}
