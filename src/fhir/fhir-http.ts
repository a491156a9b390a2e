import type { Request } from 'express';

/**
 * The raw query string of a request (after `?`, as sent: order and repeats kept), or ''.
 * HTTP plumbing shared by every controller that hands a FHIR search to a use case (the FHIR
 * routes, the audit trail's `AuditEvent` search), so none imports another's controller.
 */
export function queryString(req: Request): string {
  const q = req.originalUrl.indexOf('?');
  return q < 0 ? '' : req.originalUrl.slice(q + 1);
}
