import { z } from 'zod';
import { GovernanceError, GovernanceErrorCode } from '../governance.errors.js';

/** A query parameter as text: absent, empty or repeated (Express gives an array) is none, as everywhere in the API. */
const queryText = z.preprocess((v) => (typeof v === 'string' && v !== '' ? v : undefined), z.string().optional());

/** A body as an object: anything else (no JSON body, an array, a bare value) carries no fields. */
const fields = <T extends z.ZodRawShape>(shape: T) =>
  z.preprocess((body) => (typeof body === 'object' && body !== null && !Array.isArray(body) ? body : {}), z.object(shape));

/** `GET /governance/overdue`, `GET /governance/pending-cosign`: the department, else the operator's own. */
export const departmentQuerySchema = z.object({ dept: queryText });

/**
 * `GET /fhir/{type}/{id}/$changes?from=&to=`: the two versions to compare, or neither for
 * every change. Their form is judged by the ledger's use case, after the document's own access
 * check, so a hidden document answers alike whatever the versions asked.
 */
export const versionRangeSchema = z.object({ from: queryText, to: queryText });
export type VersionRange = Partial<z.infer<typeof versionRangeSchema>>;

/** `GET /governance/amendments?status=`: amendments in one state, or all. */
export const amendmentListSchema = z.object({ status: queryText });

/** `POST /fhir/{type}/{id}/$amend-request`: why the author asks to amend. */
const amendmentRequestSchema = fields({ reason: z.string().trim().min(1) });
export type AmendmentRequest = z.infer<typeof amendmentRequestSchema>;

/** `POST /governance/amendments/{id}/approve`: a note, if any (anything but text is none). */
const approvalSchema = fields({ note: z.preprocess((v) => (typeof v === 'string' ? v.trim() || undefined : undefined), z.string().optional()) });

/** `POST /governance/amendments/{id}/refuse`: a refusal says why. */
const refusalSchema = fields({ note: z.string().trim().min(1) });
export type AmendmentDecision = { note?: string };

/** Parses a query with a schema that accepts every query (a parameter it cannot read is absent). */
export function parseQuery<T extends z.ZodTypeAny>(schema: T, query: unknown): z.infer<T> {
  return schema.parse(query ?? {}) as z.infer<T>;
}

/** An amendment request's body; without a reason it is refused (400 `governance.reason-missing`, R-11). */
export function parseAmendmentRequest(body: unknown): AmendmentRequest {
  const parsed = amendmentRequestSchema.safeParse(body);
  if (!parsed.success) throw new GovernanceError(GovernanceErrorCode.ReasonMissing, 'An amendment says why: send {"reason": "…"} (R-11)');
  return parsed.data;
}

/** An approval's or a refusal's body; a refusal without a note is refused (400 `governance.reason-missing`). */
export function parseAmendmentDecision(approve: boolean, body: unknown): AmendmentDecision {
  if (approve) return approvalSchema.parse(body);
  const parsed = refusalSchema.safeParse(body);
  if (!parsed.success) throw new GovernanceError(GovernanceErrorCode.ReasonMissing, 'A refusal says why: send {"note": "…"}');
  return parsed.data;
}
