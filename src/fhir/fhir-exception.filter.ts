import { Catch, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import type { Response } from 'express';
import { sendError } from './fhir-response.js';

/** Every error raised under `/fhir` becomes an OperationOutcome (see `operation-outcome.mapper.ts`). */
@Catch()
export class FhirExceptionFilter implements ExceptionFilter {
  catch(exception: unknown, host: ArgumentsHost): void {
    sendError(host.switchToHttp().getResponse<Response>(), exception);
  }
}
