import { Body, Controller, Get, HttpCode, Param, Post, Query, Res, UseFilters, UseGuards, UseInterceptors } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiOperation, ApiQuery, ApiTags } from '@nestjs/swagger';
import { HttpReq, setResponseHeader, type HttpRequest, type PlatformResponse } from '../common/http-exchange.js';
import { AuditInterceptor } from '../audit/audit.interceptor.js';
import { ANSWER_SCHEMA, ApiErrors, ApiSuccess, errorsOf, RECORD_ACCESS } from '../common/api-errors.js';
import { FhirExceptionFilter } from '../fhir/fhir-exception.filter.js';
import { fhirContext } from '../fhir/fhir-context.js';
import type { FhirContext } from '../fhir/fhir-request.js';
import { FhirSettings } from '../fhir/fhir.settings.js';
import { Permission } from '../fhir/route-permission.js';
import { BearerAuthGuard } from '../identity/bearer-auth.guard.js';
import { DisputeCasesService } from './dispute-cases.service.js';
import { DisputeConfirmationsService } from './dispute-confirmations.service.js';
import { DisputeSealingService } from './dispute-sealing.service.js';
import { RELATIONSHIPS } from './domain/dispute-case.js';
import { MAX_SIGNATURE_BYTES } from './domain/patient-signature.js';
import { confirmationSchema, listQuerySchema, parseDisputeInput, parseDisputeRequest, sealSchema, unsealSchema } from './dto/dispute.dto.js';
import { casesRefused, DisputeError, DisputeErrorCode as D } from './disputes.errors.js';

/** Who decides the steps whose answer depends on the case: its patient, its team, its officer (R-40…R-44). */
const BY_CASE = 'DisputeCaseAccess';

/** What the disputes office's use cases refuse, by their codes (`disputes.errors.ts`); a route's workflow permission adds its own 403. */
const refusals = (...codes: D[]) => errorsOf(DisputeError, ...codes);
/** The case as the API shows it (its sealed copies' witnesses with ID numbers masked for roles that do not need them). */
const CASE = { 'application/json': ANSWER_SCHEMA.object };

const PATIENT_WITNESS = {
  type: 'object',
  required: ['name', 'relationship', 'idDocument', 'confirmed'],
  properties: {
    name: { type: 'string', example: '王小明' },
    relationship: { type: 'string', enum: [...RELATIONSHIPS] },
    idDocument: { type: 'object', properties: { type: { type: 'string', example: 'resident-id-card' }, number: { type: 'string' } } },
    confirmed: { type: 'boolean', enum: [true] },
    signature: {
      type: 'object',
      description: `The signature the patient side drew on the tablet: a PNG (checked by its bytes), at most ${MAX_SIGNATURE_BYTES} bytes; kept append-only, its SHA-256 recorded with the patient side`,
      required: ['contentType', 'data'],
      properties: { contentType: { type: 'string', enum: ['image/png'] }, data: { type: 'string', format: 'byte' } },
    },
  },
};

/**
 * The disputes office's workflow (issue #7, R-40…R-44), under `/disputes`: each route a parsed
 * body, its permission, one use case. Seeing cases is the policy's `list` on Dispute; opening,
 * sealing, supplementing and unsealing are decided on the case's patient and team, confirming on
 * the confirmer's roles and the case's officer. Answers are JSON, recorded in the audit trail
 * before they are sent; the inventory and the sealed copies' files: `SealedCopiesController`.
 */
@ApiTags('disputes')
@ApiBearerAuth()
@Controller('disputes')
@UseGuards(BearerAuthGuard)
@UseFilters(FhirExceptionFilter)
@UseInterceptors(AuditInterceptor)
export class DisputesController {
  constructor(
    private readonly cases: DisputeCasesService,
    private readonly sealing: DisputeSealingService,
    private readonly confirmations: DisputeConfirmationsService,
    private readonly settings: FhirSettings,
  ) {}

  @Post()
  @Permission.record(BY_CASE)
  @ApiSuccess(201, 'The case (Location: /disputes/{id}); a public-opinion incident\'s is sealed already', CASE)
  @ApiErrors(refusals(D.Invalid), RECORD_ACCESS)
  @ApiOperation({ summary: 'Open a dispute case (a public-incident case is sealed at once, R-44)' })
  @ApiBody({
    schema: {
      type: 'object',
      required: ['patient', 'reason'],
      properties: {
        patient: { type: 'string', example: 'Patient/p1' },
        scope: {
          oneOf: [
            { type: 'object', properties: { kind: { enum: ['whole-record'] } } },
            { type: 'object', properties: { kind: { enum: ['encounters'] }, encounters: { type: 'array', items: { type: 'string' } } } },
            { type: 'object', properties: { kind: { enum: ['date-range'] }, from: { type: 'string', format: 'date' }, to: { type: 'string', format: 'date' } } },
          ],
        },
        trigger: { type: 'string', enum: ['dispute', 'public-incident'] },
        reason: { type: 'string' },
        team: { type: 'array', items: { type: 'string', example: 'Practitioner/dr-li' } },
      },
    },
  })
  async open(@HttpReq() req: HttpRequest, @Res({ passthrough: true }) res: PlatformResponse, @Body() body: unknown) {
    const opened = await this.cases.open(this.ctx(req), parseDisputeRequest(body));
    setResponseHeader(res, 'Location', `/disputes/${opened.id}`);
    return opened;
  }

  @Get()
  @Permission.workflow('list', 'Dispute', casesRefused)
  @ApiSuccess(200, 'Cases, newest first (a public incident\'s only for its team, R-44)', { 'application/json': ANSWER_SCHEMA.list })
  @ApiErrors(refusals(D.Invalid))
  @ApiOperation({ summary: 'Cases, newest first' })
  @ApiQuery({ name: 'patient', required: false })
  @ApiQuery({ name: 'status', required: false, enum: ['open', 'sealed', 'unsealed'] })
  list(@HttpReq() req: HttpRequest, @Query() query: unknown) {
    return this.cases.list(this.ctx(req), parseDisputeInput(listQuerySchema, query));
  }

  @Get(':id')
  @Permission.workflow('list', 'Dispute', casesRefused)
  @ApiSuccess(200, 'The case', CASE)
  @ApiErrors(refusals(D.NotFound, D.Forbidden))
  @ApiOperation({ summary: 'One case with its sealed copies' })
  get(@HttpReq() req: HttpRequest, @Param('id') id: string) {
    return this.cases.get(this.ctx(req), id);
  }

  @Get(':id/confirmations')
  @Permission.workflow('list', 'Dispute', casesRefused)
  @ApiSuccess(200, "The case's confirmations still usable by the step it awaits (not yet used, within the policy's minutes), newest first", { 'application/json': ANSWER_SCHEMA.list })
  @ApiErrors(refusals(D.NotFound, D.Forbidden))
  @ApiOperation({ summary: "Confirmations given for the case's next step (the hospital witness's, medical affairs' approval) and still usable (R-40, R-43)" })
  listConfirmations(@HttpReq() req: HttpRequest, @Param('id') id: string) {
    return this.confirmations.list(this.ctx(req), id);
  }

  @Post(':id/confirmations')
  @Permission.record(BY_CASE)
  @ApiSuccess(201, 'The confirmation, with until when the officer\'s step may use it', { 'application/json': ANSWER_SCHEMA.object })
  @ApiErrors(refusals(D.Invalid, D.SelfWitness, D.WitnessRejected, D.Forbidden, D.NotFound, D.WrongState))
  @ApiOperation({
    summary:
      "A person at the table confirms with their own request: the hospital side's witness (policy: witness on Dispute) a seal (of the inventory digest shown) or an unseal; " +
      "medical affairs (policy: approve on Dispute) a unilateral unseal (basis, reason). Used by the officer's step within the policy's minutes (R-40, R-43). " +
      'Others get 403; the officer who opened or sealed the case gets 422 disputes.self-witness',
  })
  @ApiBody({
    schema: {
      type: 'object',
      required: ['step'],
      properties: {
        step: { type: 'string', enum: ['seal', 'unseal'] },
        inventoryDigest: { type: 'string', description: 'step seal: the digest of GET /disputes/{id}/inventory both sides were shown' },
        basis: { type: 'string', enum: ['both-sides', 'resolved', 'no-claim'], description: 'step unseal: resolved / no-claim make this an approval (medical affairs)' },
        reason: { type: 'string' },
      },
    },
  })
  confirm(@HttpReq() req: HttpRequest, @Param('id') id: string, @Body() body: unknown) {
    return this.confirmations.confirm(this.ctx(req), id, parseDisputeInput(confirmationSchema, body));
  }

  @Post(':id/seal')
  @HttpCode(200)
  @Permission.record(BY_CASE)
  @ApiSuccess(200, 'The case, sealed, with its sealed copy', CASE)
  @ApiErrors(refusals(D.Invalid, D.SignatureInvalid, D.SignatureTooLarge, D.NotFound, D.WrongState, D.ConfirmationMissing, D.InventoryChanged), RECORD_ACCESS)
  @ApiOperation({ summary: "Seal with both sides present (R-40): the patient side's confirmation here, the hospital witness's given before; inventory with hashes, sealed copy (Bundle + PDF)" })
  @ApiBody({ schema: { type: 'object', required: ['inventoryDigest', 'patientWitness'], properties: { inventoryDigest: { type: 'string' }, patientWitness: PATIENT_WITNESS } } })
  seal(@HttpReq() req: HttpRequest, @Param('id') id: string, @Body() body: unknown) {
    return this.sealing.seal(this.ctx(req), id, parseDisputeInput(sealSchema, body));
  }

  @Post(':id/supplement')
  @HttpCode(200)
  @Permission.record(BY_CASE)
  @ApiSuccess(200, 'The case with its further sealed copy, and the records it supplemented', CASE)
  @ApiErrors(refusals(D.NotFound, D.Forbidden, D.WrongState), RECORD_ACCESS)
  @ApiOperation({ summary: 'Seal records completed since sealing (R-41), as a further sealed copy' })
  supplement(@HttpReq() req: HttpRequest, @Param('id') id: string) {
    return this.sealing.supplement(this.ctx(req), id);
  }

  @Post(':id/unseal')
  @HttpCode(200)
  @Permission.record(BY_CASE)
  @ApiSuccess(200, 'The case, unsealed, with how it was justified', CASE)
  @ApiErrors(refusals(D.Invalid, D.SignatureInvalid, D.SignatureTooLarge, D.NotFound, D.Forbidden, D.WrongState, D.ConfirmationMissing, D.UnsealNotAllowed), RECORD_ACCESS)
  @ApiOperation({ summary: "Unseal (R-43): both sides again (the hospital witness's confirmation given before), or resolved / no-claim (after the policy's years) with medical affairs' approval given before" })
  @ApiBody({ schema: { type: 'object', required: ['basis'], properties: { basis: { type: 'string', enum: ['both-sides', 'resolved', 'no-claim'] }, patientWitness: PATIENT_WITNESS } } })
  unseal(@HttpReq() req: HttpRequest, @Param('id') id: string, @Body() body: unknown) {
    return this.sealing.unseal(this.ctx(req), id, parseDisputeInput(unsealSchema, body));
  }

  private ctx(req: HttpRequest): FhirContext {
    return fhirContext(req, this.settings);
  }
}
