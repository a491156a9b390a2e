import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import { requestOf } from '../common/http-exchange.js';
import type { AuditedRequest } from './audit-recorder.js';
import type { RequestAudit } from './request-audit.js';

/**
 * This request's audit record, for a handler whose use case notes its decisions and
 * patients on it itself (an explanation names the record's patient, allowed or refused).
 * Undefined on a route the audit middleware does not cover.
 */
export const CurrentAudit = createParamDecorator(
  (_data: unknown, context: ExecutionContext): RequestAudit | undefined => (requestOf(context) as AuditedRequest).audit,
);
