import { Catch, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import type { PlatformResponse } from '../common/http-exchange.js';
import { sendError } from '../fhir/fhir-response.js';

/** The console's routes answer errors as OperationOutcomes, like the API (they touch no record: nothing to audit). */
@Catch()
export class ConsoleExceptionFilter implements ExceptionFilter {
  catch(exception: unknown, host: ArgumentsHost): void {
    sendError(host.switchToHttp().getResponse<PlatformResponse>(), exception);
  }
}
