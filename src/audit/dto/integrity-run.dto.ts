import { z } from 'zod';
import { INTEGRITY_KINDS } from '../domain/integrity-run.js';
import { IntegrityRunError, IntegrityRunErrorCode } from '../integrity.errors.js';

/** `POST /audit/integrity/runs`: which verification to run. */
export const startRunSchema = z.object({ kind: z.enum(INTEGRITY_KINDS) }).strict();

/** A run's id in a path: a UUID, as runs are numbered. */
export const runIdSchema = z.string().uuid();

/** `input` parsed by `schema`, or `integrity.invalid` (400) naming each problem. */
export function parseIntegrityInput<T extends z.ZodTypeAny>(schema: T, input: unknown): z.infer<T> {
  const parsed = schema.safeParse(input ?? {});
  if (!parsed.success) {
    throw new IntegrityRunError(IntegrityRunErrorCode.Invalid, parsed.error.issues.map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`).join('; '));
  }
  return parsed.data;
}
