import { Catch, Injectable, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import { AuditRecorder } from '../audit/audit-recorder.js';
import type { PlatformResponse } from '../common/http-exchange.js';
import { sendRecordedError } from './fhir-response.js';

/**
 * Every error raised under `/fhir` (and the workflow routes) becomes an OperationOutcome
 * (see `operation-outcome.mapper.ts`), sent once the failure is in the audit trail (R-20:
 * denials and failures are recorded too).
 */
@Catch()
@Injectable()
export class FhirExceptionFilter implements ExceptionFilter {
  constructor(private readonly recorder: AuditRecorder) {}

  catch(exception: unknown, host: ArgumentsHost): Promise<void> {
    return sendRecordedError(this.recorder, host.switchToHttp().getResponse<PlatformResponse>(), exception);
  }
}
