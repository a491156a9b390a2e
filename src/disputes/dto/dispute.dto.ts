import { z } from 'zod';
import { queryText } from '../../fhir/fhir-request.js';
import type { DisputeRequest, DisputeScope } from '../domain/dispute-case.js';
import { DisputeError, DisputeErrorCode } from '../disputes.errors.js';
import { readSignature, type DrawnSignature } from '../domain/patient-signature.js';

/**
 * The disputes office's requests, parsed once at the edge (issue #15): every body and query a
 * route takes is read here, and a malformed one is a 400 `disputes.invalid` naming each problem.
 * What is missing for a step to be allowed (the patient side, a witness's confirmation) is not
 * malformed: the step itself answers 422 listing it.
 */

const ID = /^[A-Za-z0-9\-.]{1,64}$/;
const DAY = /^\d{4}-\d{2}-\d{2}$/;
const DIGEST = /^[0-9a-f]{64}$/;

const PATIENT = 'a Patient id (or Patient/<id>)';
const TEAM = 'Practitioner/<id> references';
const ENCOUNTERS = 'one or more Encounter ids';
const PERIOD = 'dates YYYY-MM-DD, from ≤ to';

/** A reference or a bare id of `type`, as the id. */
const idOf = (type: string, message: string) =>
  z
    .string({ message })
    .transform((v) => v.replace(new RegExp(`^${type}/`), ''))
    .pipe(z.string().regex(ID, message));

const scopeSchema = z.discriminatedUnion(
  'kind',
  [
    z.object({ kind: z.literal('whole-record') }),
    z.object({
      kind: z.literal('encounters'),
      encounters: z.array(idOf('Encounter', ENCOUNTERS), { message: ENCOUNTERS }).min(1, ENCOUNTERS),
    }),
    z
      .object({ kind: z.literal('date-range'), from: z.string({ message: PERIOD }).regex(DAY, PERIOD), to: z.string({ message: PERIOD }).regex(DAY, PERIOD) })
      .refine((s) => s.from <= s.to, { message: PERIOD, path: ['from'] }),
  ],
  { message: 'whole-record, encounters or date-range' },
);

/** `POST /disputes`: the patient, the scope (the whole record by default), why, and for a public incident its team. */
export const openDisputeSchema = z
  .object({
    patient: idOf('Patient', PATIENT),
    scope: scopeSchema.nullish(),
    trigger: z.enum(['dispute', 'public-incident'], { message: 'dispute or public-incident' }).nullish(),
    reason: z.string({ message: 'why the record is sealed' }).trim().min(1, 'why the record is sealed'),
    team: z.array(z.string({ message: TEAM }).regex(/^Practitioner\/[A-Za-z0-9\-.]{1,64}$/, TEAM), { message: TEAM }).nullish(),
  })
  .superRefine((b, ctx) => {
    if (b.trigger === 'public-incident' && !b.team?.length) {
      ctx.addIssue({ code: 'custom', path: ['team'], message: 'a public-incident case names the team that may read the sealed records (R-44)' });
    }
  })
  .transform(
    (b): DisputeRequest => ({
      patient: b.patient,
      scope: scopeOf(b.scope),
      trigger: b.trigger ?? 'dispute',
      reason: b.reason,
      team: [...new Set(b.team ?? [])],
    }),
  );

function scopeOf(scope: z.infer<typeof scopeSchema> | null | undefined): DisputeScope {
  if (!scope) return { kind: 'whole-record' };
  return scope.kind === 'encounters' ? { kind: 'encounters', encounters: [...new Set(scope.encounters)] } : scope;
}

/** The inventory digest both sides were shown (`GET /disputes/{id}/inventory`); empty means none. */
const shownDigest = (message: string) =>
  z
    .union([z.literal(''), z.string().regex(DIGEST, message)], { message })
    .optional()
    .transform((d) => d || undefined);

/** A unilateral unseal's basis, approved by medical affairs. */
export type UnsealApprovalBasis = 'resolved' | 'no-claim';

/**
 * `POST /disputes/{id}/confirmations`: the hospital side's witness confirms a seal
 * (of the inventory digest they were shown) or an unsealing; medical affairs approves a
 * unilateral unseal (`basis` resolved or no-claim, with the `reason`).
 */
export const confirmationSchema = z
  .discriminatedUnion(
    'step',
    [
      z.object({ step: z.literal('seal'), inventoryDigest: shownDigest('the digest of the inventory shown to both sides (GET /disputes/{id}/inventory)') }),
      z
        .object({
          step: z.literal('unseal'),
          basis: z.enum(['both-sides', 'resolved', 'no-claim'], { message: 'both-sides, resolved or no-claim (R-43)' }).optional(),
          reason: z.string().trim().optional(),
        })
        .superRefine((b, ctx) => {
          if (b.basis !== undefined && b.basis !== 'both-sides' && !b.reason) {
            ctx.addIssue({ code: 'custom', path: ['reason'], message: 'how the case was resolved, or why no claim is expected (R-43)' });
          }
        }),
    ],
    { message: 'seal or unseal' },
  )
  .transform((b): ConfirmationRequest => {
    if (b.step === 'seal') return { step: 'seal', ...(b.inventoryDigest ? { inventoryDigest: b.inventoryDigest } : {}) };
    return b.basis === 'resolved' || b.basis === 'no-claim' ? { step: 'unseal', approval: { basis: b.basis, reason: b.reason as string } } : { step: 'unseal' };
  });

/** A confirmation as asked for: a witness's (of a digest, for a seal), or an approval of a unilateral unseal. */
export type ConfirmationRequest =
  | { step: 'seal'; inventoryDigest?: string }
  | { step: 'unseal'; approval?: { basis: UnsealApprovalBasis; reason: string } };

/**
 * `POST /disputes/{id}/seal`: the inventory digest both sides were shown, and the patient
 * side's confirmation (checked by the seal, which lists what is missing of it).
 */
export const sealSchema = z
  .object({ inventoryDigest: shownDigest('the digest of GET /disputes/{id}/inventory'), patientWitness: z.unknown().optional() })
  .transform((b): SealRequest => {
    const signature = drawnSignature(b.patientWitness);
    return { ...(b.inventoryDigest ? { inventoryDigest: b.inventoryDigest } : {}), patientWitness: b.patientWitness, ...(signature ? { signature } : {}) };
  });

/** A seal as asked for: with the patient side's drawn signature, when they drew one. */
export interface SealRequest {
  inventoryDigest?: string;
  patientWitness: unknown;
  signature?: DrawnSignature;
}

/**
 * The patient side's drawn signature (`patientWitness.signature`), read at the edge: a PNG by
 * its bytes within the size limit, or the request is refused (400, or 413 too large) and
 * nothing is stored. Absent: none (the typed confirmation stands alone).
 */
function drawnSignature(patientWitness: unknown): DrawnSignature | undefined {
  const read = readSignature(patientWitness && typeof patientWitness === 'object' ? (patientWitness as { signature?: unknown }).signature : undefined);
  if (!read || !('problem' in read)) return read;
  throw new DisputeError(read.problem === 'too-large' ? DisputeErrorCode.SignatureTooLarge : DisputeErrorCode.SignatureInvalid, read.message);
}

/** `POST /disputes/{id}/unseal`: the basis, and for both sides the patient side's confirmation. */
export const unsealSchema = z
  .object({
    basis: z.enum(['both-sides', 'resolved', 'no-claim'], { message: 'both-sides, resolved or no-claim (R-43)' }),
    patientWitness: z.unknown().optional(),
  })
  .transform((b): UnsealRequest => {
    const signature = b.basis === 'both-sides' ? drawnSignature(b.patientWitness) : undefined;
    return { ...b, ...(signature ? { signature } : {}) };
  });

/** An unseal as asked for: for both sides, with the patient side's drawn signature when they drew one. */
export interface UnsealRequest {
  basis: 'both-sides' | 'resolved' | 'no-claim';
  patientWitness?: unknown;
  signature?: DrawnSignature;
}

/** A query parameter as text: absent, empty or repeated is none. */
const queryParameter = z.unknown().optional().transform(queryText);

/** `GET /disputes?patient=&status=`. */
export const listQuerySchema = z.object({
  patient: queryParameter.transform((p) => p?.replace(/^Patient\//, '')),
  status: queryParameter,
});

/** `GET /disputes/{id}/inventory?_format=`: JSON, or the latest sealed copy's PDF. */
export const inventoryQuerySchema = z.object({ _format: queryParameter });

/**
 * Parses a body or query with a schema; every problem becomes one 400 `disputes.invalid` naming
 * its field, after `what` (what the request was not, e.g. "Not a valid dispute case: ").
 */
export function parseDisputeInput<T extends z.ZodTypeAny>(schema: T, input: unknown, what = ''): z.infer<T> {
  const parsed = schema.safeParse(input ?? {});
  if (!parsed.success) {
    // A list's items are named by the list ("team", not "team.2"): one problem per field.
    const problems = parsed.error.issues.map((i) => `${i.path.filter((p) => typeof p === 'string').join('.') || '(body)'}: ${i.message}`);
    throw new DisputeError(DisputeErrorCode.Invalid, `${what}${[...new Set(problems)].join('; ')}`);
  }
  return parsed.data;
}

/** Reads `POST /disputes`; every problem is named at once. */
export function parseDisputeRequest(body: unknown): DisputeRequest {
  return parseDisputeInput(openDisputeSchema, body, 'Not a valid dispute case: ');
}
