import { Body, Controller, Get, HttpCode, Param, Post, Res, UseFilters, UseGuards, UseInterceptors } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiOperation, ApiParam, ApiResponse, ApiTags } from '@nestjs/swagger';
import { HttpReq, setResponseHeader, type HttpRequest, type PlatformResponse } from '../common/http-exchange.js';
import { ApiErrors, ApiSuccess, errorsOf } from '../common/api-errors.js';
import { FhirExceptionFilter } from '../fhir/fhir-exception.filter.js';
import { fhirContext } from '../fhir/fhir-context.js';
import { FhirSettings } from '../fhir/fhir.settings.js';
import { Permission } from '../fhir/route-permission.js';
import { BearerAuthGuard } from '../identity/bearer-auth.guard.js';
import { AuditInterceptor } from './audit.interceptor.js';
import { INTEGRITY_KINDS } from './domain/integrity-run.js';
import { parseIntegrityInput, startRunSchema } from './dto/integrity-run.dto.js';
import { IntegrityRunService } from './integrity-run.service.js';
import { IntegrityRunError, IntegrityRunErrorCode as I } from './integrity.errors.js';

/** Who decides: the audit trail's access port (the auditors read the whole trail), as for the trail's own routes. */
const DECIDED_BY = 'AuditTrailAccess';

/** What the integrity runs' use cases refuse, by their codes (`integrity.errors.ts`). */
const refusals = (...codes: I[]) => errorsOf(IntegrityRunError, ...codes);

/** One run as the API answers it (`runView`). */
const RUN_SCHEMA = {
  type: 'object',
  required: ['id', 'kind', 'status', 'scope', 'startedBy', 'startedAt'],
  properties: {
    id: { type: 'string', format: 'uuid' },
    kind: { type: 'string', enum: [...INTEGRITY_KINDS] },
    status: { type: 'string', enum: ['running', 'abandoned', 'intact', 'broken', 'failed'] },
    scope: { type: 'string', description: '`everything`, or what a CLI run verified (`since …`, `Composition/123`)' },
    startedBy: {
      type: 'object',
      properties: { via: { type: 'string', enum: ['cli', 'api'] }, id: { type: 'string' }, practitioner: { type: 'string' }, requestId: { type: 'string' } },
    },
    startedAt: { type: 'string', format: 'date-time' },
    finishedAt: { type: 'string', format: 'date-time' },
    durationMs: { type: 'integer' },
    checked: {
      type: 'object',
      description: 'audit: chains and entries; ledger: documents and versions',
      properties: { chains: { type: 'integer' }, entries: { type: 'integer' }, documents: { type: 'integer' }, versions: { type: 'integer' } },
    },
    breaks: { type: 'integer', description: 'broken chains or documents' },
    firstBreak: { type: 'object', properties: { problem: { type: 'string' }, detail: { type: 'string' } }, description: 'the first break, as the verifier names it' },
    failure: { type: 'string', description: 'why a failed run could not complete' },
  },
};

const KIND_STATE = {
  type: 'object',
  properties: {
    inProgress: { type: 'boolean' },
    running: { ...RUN_SCHEMA, nullable: true },
    lastRun: { ...RUN_SCHEMA, nullable: true },
    lastIntactRun: { ...RUN_SCHEMA, nullable: true, description: 'the last run over everything that found it intact' },
  },
};

/**
 * `/audit/integrity` (issue #18, R-21, R-12): the state of `audit verify` and `ledger verify`
 * for the auditors' console, one run, and starting a run in the background. Answers are JSON,
 * recorded in the audit trail before they are sent; errors are OperationOutcomes.
 */
@ApiTags('audit')
@ApiBearerAuth()
@Controller('audit/integrity')
@UseGuards(BearerAuthGuard)
@UseFilters(FhirExceptionFilter)
@UseInterceptors(AuditInterceptor)
export class IntegrityController {
  constructor(
    private readonly runs: IntegrityRunService,
    private readonly settings: FhirSettings,
  ) {}

  @Get()
  @Permission.record(DECIDED_BY)
  @ApiOperation({ summary: 'For audit and ledger: the run in progress, the last run and the last intact run over everything (R-21, R-12)' })
  @ApiSuccess(200, 'The state of each verification', {
    'application/json': { type: 'object', properties: { audit: KIND_STATE, ledger: KIND_STATE } },
  })
  @ApiErrors(refusals(I.Forbidden))
  state(@HttpReq() req: HttpRequest) {
    return this.runs.state(fhirContext(req, this.settings));
  }

  @Post('runs')
  @HttpCode(202)
  @Permission.record(DECIDED_BY)
  @ApiOperation({ summary: 'Start a verification of the audit chains (`audit`) or the edit ledger (`ledger`) in the background; one run of a kind at a time' })
  @ApiBody({ schema: { type: 'object', required: ['kind'], properties: { kind: { type: 'string', enum: [...INTEGRITY_KINDS] } } } })
  @ApiResponse({
    status: 202,
    description: 'The run, started (Location: /audit/integrity/runs/{id}); poll it until its status is intact, broken or failed',
    headers: { Location: { description: 'the run', schema: { type: 'string' } } },
    content: { 'application/json': { schema: RUN_SCHEMA } },
  })
  @ApiErrors(refusals(I.Invalid, I.Forbidden, I.Running))
  async start(@HttpReq() req: HttpRequest, @Res({ passthrough: true }) res: PlatformResponse, @Body() body: unknown) {
    const run = await this.runs.start(fhirContext(req, this.settings), parseIntegrityInput(startRunSchema, body).kind);
    setResponseHeader(res, 'Location', `/audit/integrity/runs/${run.id}`);
    return run;
  }

  @Get('runs/:id')
  @Permission.record(DECIDED_BY)
  @ApiOperation({ summary: 'One run: running, abandoned (its process stopped), or finished with its counts and first break' })
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiSuccess(200, 'The run', { 'application/json': RUN_SCHEMA })
  @ApiErrors(refusals(I.NotFound, I.Forbidden))
  one(@HttpReq() req: HttpRequest, @Param('id') id: string) {
    return this.runs.one(fhirContext(req, this.settings), id);
  }
}
