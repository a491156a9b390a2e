import { mediaType } from '../../fhir/format-negotiation.js';
import { z } from 'zod';
import { queryText } from '../../fhir/fhir-request.js';
import type { CopyRequestInput, CopyScope, Requester } from '../domain/copy-request.js';
import { EVIDENCE_KINDS, REQUESTER_TYPES } from '../../policy/domain/copy-checklists.js';
import { ReleaseError, ReleaseErrorCode } from '../release.errors.js';

/**
 * The desk's request bodies and queries, parsed once at the edge (issue #15). Every message
 * names the field it is about, as the desk reads it, and every problem of a body is named at
 * once; a body that is not an object reads as an empty one (each of its fields then missing).
 */

const ID = /^[A-Za-z0-9\-.]{1,64}$/;

/** A JSON object as given, or an empty one. */
const objectOrEmpty = (v: unknown): unknown => (typeof v === 'object' && v !== null && !Array.isArray(v) ? v : {});

/** A string trimmed; anything else reads as empty. */
const trimmed = (message: string) => z.preprocess((v) => (typeof v === 'string' ? v.trim() : ''), z.string().min(1, message));

/** A trimmed string when there is one, else `''`. */
const optionalText = z.unknown().optional().transform((v) => (typeof v === 'string' ? v.trim() : ''));

/** A query parameter given once and not empty (repeated or empty reads as absent). */
const queryParam = <T extends z.ZodTypeAny>(schema: T) => z.preprocess(queryText, schema);

const requesterSchema = z.preprocess(
  objectOrEmpty,
  z
    .object({
      name: trimmed('requester.name'),
      idNumber: trimmed('requester.idNumber: the number of the ID document presented'),
      organization: optionalText,
      contact: optionalText,
    })
    .transform(
      (r): Requester => ({
        name: r.name,
        idNumber: r.idNumber,
        ...(r.organization ? { organization: r.organization } : {}),
        ...(r.contact ? { contact: r.contact } : {}),
      }),
    ),
);

/** Document types and/or encounters, or everything copyable; every problem named, and an empty scope too. */
const scopeSchema = z.unknown().transform((value, ctx): CopyScope => {
  const s = objectOrEmpty(value) as Record<string, unknown>;
  const problem = (message: string) => ctx.issues.push({ code: 'custom', message, input: value });
  const scope: CopyScope = {};
  if (s.all === true) scope.all = true;
  if (s.documentTypes !== undefined) {
    if (!Array.isArray(s.documentTypes) || !s.documentTypes.every((t) => typeof t === 'string' && t)) problem('scope.documentTypes: document type codes');
    else scope.documentTypes = [...new Set(s.documentTypes as string[])];
  }
  if (s.encounters !== undefined) {
    const list = Array.isArray(s.encounters) ? s.encounters.map((e) => (typeof e === 'string' ? e.replace(/^Encounter\//, '') : '')) : [];
    if (list.length === 0 || !list.every((e) => ID.test(e))) problem('scope.encounters: Encounter ids');
    else scope.encounters = [...new Set(list)];
  }
  if (!scope.all && !scope.documentTypes?.length && !scope.encounters?.length) problem('scope: {"all": true}, documentTypes and/or encounters');
  return scope;
});

/** `POST /copy-requests`: the patient, who asks and as whom, why, and for what. */
export const copyRequestSchema = z.preprocess(
  objectOrEmpty,
  z.object({
    patient: z.preprocess((v) => (typeof v === 'string' ? v.replace(/^Patient\//, '') : ''), z.string().regex(ID, 'patient: a Patient id (or Patient/<id>)')),
    requesterType: z.enum(REQUESTER_TYPES, { error: `requesterType: one of ${REQUESTER_TYPES.join(', ')}` }),
    requester: requesterSchema,
    purpose: trimmed('purpose: why the copy is asked for'),
    scope: scopeSchema,
  }),
);

/** `GET /copy-requests?status=&patient=`: the queue, by status and patient (`Patient/` optional). */
export const queueQuerySchema = z.object({
  status: queryParam(z.string().optional()),
  patient: queryParam(z.string().transform((p) => p.replace(/^Patient\//, '')).optional()),
});

/** `POST /copy-requests/{id}/evidence?proves=&filename=`: what the file proves, and its name (cut to 255 characters). */
export const evidenceQuerySchema = z.object({
  proves: queryParam(z.enum(EVIDENCE_KINDS, { error: `proves=: one of ${EVIDENCE_KINDS.join(', ')}` })),
  filename: queryParam(z.string().transform((f) => f.slice(0, 255)).optional()),
});

/** `POST /copy-requests/{id}/verify`: whether the officer compared the ID presented with the person (anything but `true` is no). */
export const verificationSchema = z.preprocess(objectOrEmpty, z.object({ identityChecked: z.unknown().optional().transform((v) => v === true) }));

/** `POST /copy-requests/{id}/approve`: an optional note, kept with the decision. */
export const approvalSchema = z.preprocess(objectOrEmpty, z.object({ reason: optionalText }));

/** `POST /copy-requests/{id}/refuse`: a refusal says why. */
export const refusalSchema = z.preprocess(objectOrEmpty, z.object({ reason: trimmed('A refusal says why: send {"reason": "…"} (R-34)') }));

/** `POST /copy-requests/{id}/close`: closing says why. */
export const closingSchema = z.preprocess(objectOrEmpty, z.object({ reason: trimmed('Closing a request says why: send {"reason": "…"} (R-34)') }));

/** The ways a copy is handed out. */
export const DELIVERY_METHODS = ['in-person', 'mail', 'electronic'] as const;

/** `POST /copy-requests/{id}/deliver`: who receives the copy, identity checked again, the requester's check of the copy, and how. */
export const deliverySchema = z.preprocess(
  objectOrEmpty,
  z.object({
    recipient: z.preprocess(objectOrEmpty, z.object({ name: trimmed('recipient.name'), idNumber: trimmed('recipient.idNumber') })),
    identityChecked: z.literal(true, { error: 'identityChecked: true (the ID was checked again at delivery)' }),
    requesterChecked: z.literal(true, { error: 'requesterChecked: true (the requester checked the copy, R-33)' }),
    method: z.preprocess((v) => v ?? undefined, z.enum(DELIVERY_METHODS, { error: 'method: in-person, mail or electronic' }).default('in-person')),
  }),
);

export type Delivery = z.infer<typeof deliverySchema>;

/**
 * Parses a body or query with one of the schemas above: every problem in one 400
 * (`copy.invalid`), introduced by `intro` and each naming its field.
 */
export function parseInput<T extends z.ZodTypeAny>(schema: T, input: unknown, intro = ''): z.infer<T> {
  const parsed = schema.safeParse(input);
  if (!parsed.success) throw new ReleaseError(ReleaseErrorCode.Invalid, intro + parsed.error.issues.map((i) => i.message).join('; '));
  return parsed.data;
}

/** Reads `POST /copy-requests`, naming every problem at once. */
export function parseCopyRequest(body: unknown): CopyRequestInput {
  return parseInput(copyRequestSchema, body, 'Not a valid copy request: ');
}

/** `Content-Type` as declared, without its parameters, lower case; undefined when there is none. */
export function declaredType(header: string | undefined): string | undefined {
  return header === undefined ? undefined : mediaType(header).type || undefined;
}
