import { header, requestPath, type HttpRequest } from '../common/http-exchange.js';
import type { AuditedRequest } from '../audit/audit-recorder.js';
import { parseBreakGlass, parseEditReason, type FhirContext } from './fhir-request.js';
import type { FhirSettings } from './fhir.settings.js';

/** The use cases' view of an HTTP request: its actor, base URL, break-the-glass and audit record. */
export function fhirContext(req: HttpRequest, settings: FhirSettings): FhirContext {
  let baseUrl: string | undefined;
  const { actor, audit } = req as AuditedRequest;
  if (!actor) throw new Error('fhirContext needs the verified actor (bearer middleware)');
  if (audit) audit.actor = actor;
  const breakGlass = parseBreakGlass(header(req, 'category'), header(req, 'x-break-glass-reason'));
  if (audit && breakGlass) audit.breakGlass = breakGlass;
  return {
    actor,
    audit,
    // Computed on first use: a plain read never needs it, and req.protocol is not free behind `trust proxy`.
    get baseUrl() {
      return (baseUrl ??= fhirBaseUrl(req, settings));
    },
    breakGlass,
    editReason: parseEditReason(header(req, 'x-edit-reason')),
  };
}

/** The configured base, or this request's scheme, host and the path up to `/fhir`. */
export function fhirBaseUrl(req: HttpRequest, settings: FhirSettings): string {
  if (settings.baseUrl) return settings.baseUrl;
  const path = requestPath(req);
  const fhir = path.indexOf('/fhir');
  // Outside /fhir (the workflow APIs: /disputes, /governance…), the FHIR base sits beside them under the same mount.
  const mount = fhir >= 0 ? path.slice(0, fhir) : path.slice(0, Math.max(0, path.search(/\/(disputes|copy-requests|governance|access|audit)(\/|$)/)));
  return `${req.protocol ?? 'http'}://${header(req, 'host') ?? ''}${mount}/fhir`;
}
