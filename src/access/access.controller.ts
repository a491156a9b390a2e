import { Body, Controller, Get, HttpCode, Param, Post, Query, UseFilters, UseGuards, UseInterceptors } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiOperation, ApiQuery, ApiTags } from '@nestjs/swagger';
import { AuditInterceptor } from '../audit/audit.interceptor.js';
import { ANSWER_SCHEMA, ApiErrors, ApiSuccess, errorsOf, POLICY_REFUSAL } from '../common/api-errors.js';
import { CurrentAudit } from '../audit/current-audit.decorator.js';
import type { RequestAudit } from '../audit/request-audit.js';
import { FhirExceptionFilter } from '../fhir/fhir-exception.filter.js';
import { Permission } from '../fhir/route-permission.js';
import type { Actor } from '../identity/actor.js';
import { BearerAuthGuard, CurrentActor } from '../identity/bearer-auth.guard.js';
import { ExplainService } from '../policy/explain.service.js';
import { AccessGrantService } from './access-grant.service.js';
import { breakGlassStepRefused, GrantError, GrantErrorCode as G, grantStepRefused } from './access.errors.js';
import { BreakGlassService } from './break-glass.service.js';
import { breakGlassListSchema, decisionSchema, explainSchema, extendSchema, grantListSchema, grantRequestSchema, parseInput } from './dto/access.dto.js';

/** What the grant and break-the-glass use cases refuse, by their codes (`access.errors.ts`); a workflow permission adds its own 403. */
const refusals = (...codes: G[]) => errorsOf(GrantError, ...codes);
/** A decision on one grant or break-the-glass use: the body parsed (400), the record known (404), waiting for this decision (409). */
const DECISION = refusals(G.Invalid, G.NotFound, G.WrongState);
const GRANT = { 'application/json': ANSWER_SCHEMA.object };
const GRANTS = { 'application/json': ANSWER_SCHEMA.list };
const NOTE = { schema: { type: 'object', properties: { note: { type: 'string' } } } };

/**
 * `/access`: time-limited grants, break-the-glass review, and decision
 * explanations. Every error is an OperationOutcome, like the FHIR API's. Steps open to a role
 * are declared as workflow permissions; the others depend on the grant (its grantee and
 * requester) or name the explained record's patient in the trail, so their services decide.
 */
@ApiTags('access')
@ApiBearerAuth()
@Controller('access')
@UseGuards(BearerAuthGuard)
@UseFilters(FhirExceptionFilter)
@UseInterceptors(AuditInterceptor)
export class AccessController {
  constructor(
    private readonly grants: AccessGrantService,
    private readonly breakGlass: BreakGlassService,
    private readonly explainer: ExplainService,
  ) {}

  @Post('grants')
  @Permission.workflow('request', 'AccessGrant', grantStepRefused('request'))
  @ApiOperation({ summary: 'Ask for time-limited access to a patient\'s record (R-05)' })
  @ApiBody({
    schema: {
      type: 'object',
      required: ['grantee', 'patient', 'purpose', 'reason', 'until'],
      properties: {
        grantee: { type: 'string' },
        patient: { type: 'string', example: 'Patient/p1' },
        purpose: { type: 'string', enum: ['research', 'teaching', 'quality-review', 'continuity-of-care', 'other'] },
        reason: { type: 'string' },
        until: { type: 'string', format: 'date-time' },
      },
    },
  })
  @ApiSuccess(201, 'The grant, requested', GRANT)
  @ApiErrors(refusals(G.Invalid))
  requestGrant(@CurrentActor() actor: Actor, @Body() body: unknown) {
    return this.grants.request(actor, parseInput(grantRequestSchema, body));
  }

  /** Your own grants; anyone's for approvers. */
  @Get('grants')
  @Permission.record('AccessGrantService')
  @ApiOperation({ summary: 'Your own grants; anyone\'s for approvers' })
  @ApiQuery({ name: 'grantee', required: false })
  @ApiSuccess(200, 'Grants', GRANTS)
  @ApiErrors(refusals(G.Invalid, G.Forbidden))
  listGrants(@CurrentActor() actor: Actor, @Query() query: unknown) {
    return this.grants.list(actor, parseInput(grantListSchema, query).grantee);
  }

  @Post('grants/:id/approve')
  @HttpCode(200)
  @Permission.workflow('approve', 'AccessGrant', grantStepRefused('approve'))
  @ApiOperation({ summary: 'Approve a grant, or its pending extension; never one\'s own (R-05)' })
  @ApiBody(NOTE)
  @ApiSuccess(200, 'The grant, approved', GRANT)
  @ApiErrors(DECISION, refusals(G.Forbidden))
  approve(@CurrentActor() actor: Actor, @Param('id') id: string, @Body() body: unknown) {
    return this.grants.approve(actor, id, parseInput(decisionSchema, body).note);
  }

  @Post('grants/:id/refuse')
  @HttpCode(200)
  @Permission.workflow('approve', 'AccessGrant', grantStepRefused('approve'))
  @ApiOperation({ summary: 'Refuse a grant, or its pending extension' })
  @ApiBody(NOTE)
  @ApiSuccess(200, 'The grant, refused', GRANT)
  @ApiErrors(DECISION)
  refuse(@CurrentActor() actor: Actor, @Param('id') id: string, @Body() body: unknown) {
    return this.grants.refuse(actor, id, parseInput(decisionSchema, body).note);
  }

  /** The grant's grantee or requester only. */
  @Post('grants/:id/extend')
  @HttpCode(200)
  @Permission.record('AccessGrantService')
  @ApiOperation({ summary: 'Ask to extend a running grant (its grantee or requester), with a reason' })
  @ApiBody({ schema: { type: 'object', required: ['until', 'reason'], properties: { until: { type: 'string', format: 'date-time' }, reason: { type: 'string' } } } })
  @ApiSuccess(200, 'The grant, its extension waiting for approval', GRANT)
  @ApiErrors(DECISION, refusals(G.Forbidden))
  extend(@CurrentActor() actor: Actor, @Param('id') id: string, @Body() body: unknown) {
    const input = parseInput(extendSchema, body);
    return this.grants.extend(actor, id, input.until, input.reason);
  }

  @Get('break-glass')
  @Permission.workflow('list', 'BreakGlass', breakGlassStepRefused('list'))
  @ApiOperation({ summary: 'Break-the-glass uses, for review (R-04)' })
  @ApiQuery({ name: 'unreviewed', required: false, enum: ['true', 'false'] })
  @ApiSuccess(200, 'Break-the-glass uses', GRANTS)
  @ApiErrors(refusals(G.Invalid))
  listBreakGlass(@Query() query: unknown) {
    return this.breakGlass.list(parseInput(breakGlassListSchema, query).unreviewed);
  }

  @Post('break-glass/:id/review')
  @HttpCode(200)
  @Permission.workflow('review', 'BreakGlass', breakGlassStepRefused('review'))
  @ApiOperation({ summary: 'Review a break-the-glass use (R-04)' })
  @ApiBody(NOTE)
  @ApiSuccess(200, 'The use, reviewed', GRANT)
  @ApiErrors(DECISION)
  review(@CurrentActor() actor: Actor, @Param('id') id: string, @Body() body: unknown) {
    return this.breakGlass.review(actor, id, parseInput(decisionSchema, body).note);
  }

  /** `explain` on `Policy` (auditors, admins), decided by the service so the trail names the record's patient even when refused. */
  @Get('explain')
  @Permission.record('ExplainService')
  @ApiOperation({ summary: 'Why the policy allows or denies an action on a record for an operator (auditors, admins)' })
  @ApiSuccess(200, 'The decision, the rule that made it, and the rules considered', GRANT)
  @ApiErrors(refusals(G.Invalid), POLICY_REFUSAL)
  explain(@CurrentActor() actor: Actor, @Query() query: unknown, @CurrentAudit() audit: RequestAudit | undefined) {
    return this.explainer.explain(actor, parseInput(explainSchema(this.explainer.roleNames), query), audit);
  }
}
