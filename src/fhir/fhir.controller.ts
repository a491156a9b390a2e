import { All, Controller, Delete, Get, Param, Patch, Post, Put, Res, UseFilters, UseGuards } from '@nestjs/common';
import { header, HttpReq, queryString, requestPath, type HttpRequest, type PlatformResponse } from '../common/http-exchange.js';
import { BearerAuthGuard } from '../identity/bearer-auth.guard.js';
import { FhirExceptionFilter } from './fhir-exception.filter.js';
import { FhirBundleService } from './fhir-bundle.service.js';
import { FhirRequestError, FhirRequestErrorCode } from './fhir.errors.js';
import { sendRecorded, type FhirResponse } from './fhir-response.js';
import { AuditRecorder } from '../audit/audit-recorder.js';
import { formText, type FhirContext, type FhirHeaders } from './fhir-request.js';
import { fhirBaseUrl, fhirContext } from './fhir-context.js';
import { FhirService } from './fhir.service.js';
import { FhirPatchService } from './fhir-patch.service.js';
import { mediaType } from './format-negotiation.js';
import { FhirSettings } from './fhir.settings.js';
import { MetadataService } from './metadata.service.js';
import { Permission } from './route-permission.js';

/**
 * Every FHIR interaction is decided per record by the access port (the policy on the record's
 * facts, `FhirAccess`). The routes that refuse every caller (DELETE, `GET /fhir`) say the
 * same: no record is reached before the refusal.
 */
const DECIDED_BY = 'FhirAccess';

/**
 * FHIR R4 REST routes under `/fhir` (https://hl7.org/fhir/R4/http.html). Each handler is one
 * call into a use case; status, headers and OperationOutcomes are decided there and in the
 * exception filter. More specific paths are declared first: Express matches in order.
 */
@Controller('fhir')
@UseGuards(BearerAuthGuard)
@UseFilters(FhirExceptionFilter)
export class FhirController {
  constructor(
    private readonly fhir: FhirService,
    private readonly patcher: FhirPatchService,
    private readonly bundles: FhirBundleService,
    private readonly metadata: MetadataService,
    private readonly settings: FhirSettings,
    private readonly recorder: AuditRecorder,
  ) {}

  @Get('metadata')
  @Permission.public('the CapabilityStatement describes the server, not any record (R4 http.html#capabilities)')
  capabilities(@HttpReq() req: HttpRequest, @Res() res: PlatformResponse) {
    return this.reply(res, this.metadata.capabilities(this.baseUrl(req)));
  }

  @Post()
  @Permission.record(DECIDED_BY)
  transaction(@HttpReq() req: HttpRequest, @Res() res: PlatformResponse) {
    return this.reply(res, this.bundles.process(this.ctx(req), req.body));
  }

  /** `GET /fhir` is no FHIR interaction (system search and history are not supported). */
  @Get()
  @Permission.record(DECIDED_BY)
  base(@HttpReq() req: HttpRequest) {
    return this.unsupported(req);
  }

  @Get('Patient/:id/$everything')
  @Permission.record(DECIDED_BY)
  everything(@HttpReq() req: HttpRequest, @Res() res: PlatformResponse, @Param('id') id: string) {
    return this.reply(res, this.fhir.everything(this.ctx(req), id, queryString(req)));
  }

  @Get(':type/_history')
  @Permission.record(DECIDED_BY)
  typeHistory(@HttpReq() req: HttpRequest, @Res() res: PlatformResponse, @Param('type') type: string) {
    return this.reply(res, this.fhir.history(this.ctx(req), type, undefined, queryString(req)));
  }

  @Post(':type/_search')
  @Permission.record(DECIDED_BY)
  searchByPost(@HttpReq() req: HttpRequest, @Res() res: PlatformResponse, @Param('type') type: string) {
    const query = [queryString(req), formText(req.body)].filter(Boolean).join('&');
    return this.reply(res, this.fhir.search(this.ctx(req), type, query, headers(req)));
  }

  @Post(':type/$validate')
  @Permission.record(DECIDED_BY)
  validateType(@HttpReq() req: HttpRequest, @Res() res: PlatformResponse, @Param('type') type: string) {
    return this.reply(res, this.fhir.validate(this.ctx(req), type, undefined, req.body));
  }

  @Post(':type/:id/$validate')
  @Permission.record(DECIDED_BY)
  validateInstance(@HttpReq() req: HttpRequest, @Res() res: PlatformResponse, @Param('type') type: string, @Param('id') id: string) {
    return this.reply(res, this.fhir.validate(this.ctx(req), type, id, req.body));
  }

  @Get(':type/:id/_history/:vid')
  @Permission.record(DECIDED_BY)
  vread(@HttpReq() req: HttpRequest, @Res() res: PlatformResponse, @Param('type') type: string, @Param('id') id: string, @Param('vid') vid: string) {
    return this.reply(res, this.fhir.vread(this.ctx(req), type, id, vid));
  }

  @Get(':type/:id/_history')
  @Permission.record(DECIDED_BY)
  instanceHistory(@HttpReq() req: HttpRequest, @Res() res: PlatformResponse, @Param('type') type: string, @Param('id') id: string) {
    return this.reply(res, this.fhir.history(this.ctx(req), type, id, queryString(req)));
  }

  @Get(':type/:id')
  @Permission.record(DECIDED_BY)
  read(@HttpReq() req: HttpRequest, @Res() res: PlatformResponse, @Param('type') type: string, @Param('id') id: string) {
    return this.reply(res, this.fhir.read(this.ctx(req), type, id, undefined, queryString(req)));
  }

  @Put(':type/:id')
  @Permission.record(DECIDED_BY)
  update(@HttpReq() req: HttpRequest, @Res() res: PlatformResponse, @Param('type') type: string, @Param('id') id: string) {
    return this.reply(res, this.fhir.update(this.ctx(req), type, id, req.body, headers(req)));
  }

  @Patch(':type/:id')
  @Permission.record(DECIDED_BY)
  patch(@HttpReq() req: HttpRequest, @Res() res: PlatformResponse, @Param('type') type: string, @Param('id') id: string) {
    return this.reply(res, this.patcher.patch(this.ctx(req), type, id, req.body, headers(req)));
  }

  /** Conditional patch: `PATCH /Type?identifier=…` (R4 http.html#patch). */
  @Patch(':type')
  @Permission.record(DECIDED_BY)
  conditionalPatch(@HttpReq() req: HttpRequest, @Res() res: PlatformResponse, @Param('type') type: string) {
    return this.reply(res, this.patcher.conditionalPatch(this.ctx(req), type, queryString(req), req.body, headers(req)));
  }

  /** Conditional update: `PUT /Type?identifier=…` (R4 http.html#cond-update). */
  @Put(':type')
  @Permission.record(DECIDED_BY)
  conditionalUpdate(@HttpReq() req: HttpRequest, @Res() res: PlatformResponse, @Param('type') type: string) {
    return this.reply(res, this.fhir.conditionalUpdate(this.ctx(req), type, queryString(req), req.body, headers(req)));
  }

  @Delete(':type/:id')
  @Permission.record(DECIDED_BY)
  delete(@Param('type') type: string) {
    this.fhir.delete(type);
  }

  @Delete(':type')
  @Permission.record(DECIDED_BY)
  conditionalDelete(@Param('type') type: string) {
    this.fhir.delete(type);
  }

  @Get(':type')
  @Permission.record(DECIDED_BY)
  search(@HttpReq() req: HttpRequest, @Res() res: PlatformResponse, @Param('type') type: string) {
    return this.reply(res, this.fhir.search(this.ctx(req), type, queryString(req), headers(req)));
  }

  @Post(':type')
  @Permission.record(DECIDED_BY)
  create(@HttpReq() req: HttpRequest, @Res() res: PlatformResponse, @Param('type') type: string) {
    return this.reply(res, this.fhir.create(this.ctx(req), type, req.body, headers(req)));
  }

  /** Anything under /fhir that is not an interaction above (a conditional PATCH among them: 405). */
  @All('*path')
  @Permission.record(DECIDED_BY)
  unsupported(@HttpReq() req: HttpRequest) {
    const method = req.method === 'PATCH' ? FhirRequestErrorCode.MethodNotSupported : FhirRequestErrorCode.RouteNotFound;
    throw new FhirRequestError(method, `${req.method} ${requestPath(req)} is not a supported FHIR interaction on this server (see GET /fhir/metadata)`);
  }

  /** Sends the use case's response once the request's audit entries are durable (errors go through the filter). */
  private async reply(res: PlatformResponse, response: Promise<FhirResponse> | FhirResponse): Promise<void> {
    await sendRecorded(this.recorder, res, await response);
  }

  private ctx(req: HttpRequest): FhirContext {
    return fhirContext(req, this.settings);
  }

  private baseUrl(req: HttpRequest): string {
    return fhirBaseUrl(req, this.settings);
  }
}

function headers(req: HttpRequest): FhirHeaders {
  const contentType = header(req, 'content-type');
  return {
    ifMatch: header(req, 'if-match'),
    ifNoneExist: header(req, 'if-none-exist'),
    prefer: header(req, 'prefer'),
    contentType: contentType === undefined ? undefined : mediaType(contentType).type,
  };
}
