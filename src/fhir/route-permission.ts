import { Injectable, SetMetadata, applyDecorators, UseGuards, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { requestOf } from '../common/http-exchange.js';
import type { AuditedRequest } from '../audit/audit-recorder.js';
import { Public } from '../identity/bearer-auth.guard.js';
import type { ChartWardenError } from '../common/chartwarden.error.js';
import { AccessPolicyService } from '../policy/access-policy.service.js';
import { AccessError, AccessErrorCode } from '../policy/policy.errors.js';
import type { Action } from '../policy/domain/actions.js';

/**
 * What a route declares about who may call it. Every route of every controller declares one
 * (test/architecture walks them), so a route can never be added with no permission at all.
 * - `workflow`: the policy's workflow rule (`action` on `subject`, e.g. `approve` on
 *   `CopyRequest`), decided and recorded by `RoutePermissionGuard` before the handler runs.
 * - `record`: decided per record by the service named in `by` (the FHIR access port, a case's
 *   own rules), because the answer depends on the record's facts, not only the role.
 * - `public`: no token (the capability statement, health probes); `why` says why.
 */
export type RoutePermission =
  | { kind: 'workflow'; action: Action; subject: string; refuse: (message: string) => ChartWardenError }
  | { kind: 'record'; by: string }
  | { kind: 'public'; why: string };

export const ROUTE_PERMISSION = 'chartwarden:route-permission';

/**
 * The permission a route declares (see `RoutePermission`). Each is a method decorator: a route
 * declares its own, so a controller-wide declaration cannot quietly cover (or miss) a route
 * added later (test/architecture also refuses class-level metadata).
 */
export const Permission = {
  /** The policy's workflow rule `action` on `subject`, checked before the handler; `refuse` builds the 403 the feature answers with. */
  workflow: (action: Action, subject: string, refuse: (message: string) => ChartWardenError): MethodDecorator =>
    applyDecorators(SetMetadata(ROUTE_PERMISSION, { kind: 'workflow', action, subject, refuse } satisfies RoutePermission), UseGuards(RoutePermissionGuard)),
  /** Decided per record by `by` (name the class that decides; test/architecture checks it exists). */
  record: (by: string): MethodDecorator => SetMetadata(ROUTE_PERMISSION, { kind: 'record', by } satisfies RoutePermission),
  /** Served without a token (identity's `@Public()` too); say why. */
  public: (why: string): MethodDecorator => applyDecorators(SetMetadata(ROUTE_PERMISSION, { kind: 'public', why } satisfies RoutePermission), Public()),
};

/**
 * Enforces `@Permission.workflow(...)`: the actor's roles must allow the action on the subject
 * type under the policy in force. The decision is recorded in the request's audit entry,
 * allowed or refused, before the handler runs. The permission is read from the handler, else
 * its controller (`getAllAndOverride`), and a guard that finds no workflow permission refuses:
 * a check that could not run never widens access.
 */
@Injectable()
export class RoutePermissionGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly decisions: AccessPolicyService,
  ) {}

  canActivate(context: ExecutionContext): boolean {
    const permission = this.reflector.getAllAndOverride<RoutePermission | undefined>(ROUTE_PERMISSION, [context.getHandler(), context.getClass()]);
    const req: AuditedRequest = requestOf(context);
    if (permission?.kind !== 'workflow') {
      const rule = `${context.getClass().name}.${context.getHandler().name} runs RoutePermissionGuard but declares no workflow permission`;
      req.audit?.decided({ allowed: false, rule, policyVersion: this.decisions.version }, undefined);
      throw new AccessError(AccessErrorCode.Forbidden, `This route's permission could not be checked (${rule}): refused`);
    }
    if (!req.actor) return false;
    const decision = this.decisions.decideWorkflow(req.actor, permission.action, permission.subject);
    req.audit?.decided(decision, undefined);
    if (!decision.allowed) {
      throw permission.refuse(`${permission.subject}: the policy does not let roles ${req.actor.roles.join(', ') || '(none)'} ${permission.action} (policy: ${permission.action} on ${permission.subject})`);
    }
    return true;
  }
}
