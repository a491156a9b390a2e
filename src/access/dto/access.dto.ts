import { z } from 'zod';
import { GrantError, GrantErrorCode } from '../access.errors.js';

const id = z.string().regex(/^[A-Za-z0-9\-.]{1,64}$/, 'a FHIR id');
const patientRef = z
  .string()
  .regex(/^(Patient\/)?[A-Za-z0-9\-.]{1,64}$/, 'Patient/<id> or <id>')
  .transform((v) => v.replace(/^Patient\//, ''));
const instant = z.string().datetime({ offset: true });

/** `POST /access/grants`. */
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

/** `POST /access/grants/{id}/extend`. */
export const extendSchema = z.object({ until: instant, reason: z.string().min(1).max(2000) }).strict();

/** `GET /access/explain`. */
export const explainSchema = z
  .object({
    actor: z.string().min(1).max(128),
    roles: z.string().min(1),
    dept: z.string().optional(),
    specialty: z.string().optional(),
    licence: z.enum(['licensed', 'intern', 'probation', 'visiting']).optional(),
    practitioner: z.string().optional(),
    scope: z.string().optional(),
    action: z.string().min(1),
    resource: z.string().regex(/^[A-Z][A-Za-z]+\/[A-Za-z0-9\-.]{1,64}$/, 'Type/id'),
  })
  .strict();

export { id as fhirIdSchema };

/** Parses a request body or query with a schema; every problem becomes one 400 naming the field. */
export function parseInput<T extends z.ZodTypeAny>(schema: T, input: unknown): z.infer<T> {
  const parsed = schema.safeParse(input ?? {});
  if (!parsed.success) {
    throw new GrantError(GrantErrorCode.Invalid, parsed.error.issues.map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`).join('; '));
  }
  return parsed.data;
}
