import { Injectable, SetMetadata, applyDecorators, UseGuards, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Request } from 'express';
import type { AuditedRequest } from '../audit/audit-recorder.js';
import { Public } from '../identity/bearer-auth.guard.js';
import type { ChartWardenError } from '../common/chartwarden.error.js';
import { AccessPolicyService } from '../policy/access-policy.service.js';
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

/** The permission a route declares (see `RoutePermission`). */
export const Permission = {
  /** The policy's workflow rule `action` on `subject`, checked before the handler; `refuse` builds the 403 the feature answers with. */
  workflow: (action: Action, subject: string, refuse: (message: string) => ChartWardenError) =>
    applyDecorators(SetMetadata(ROUTE_PERMISSION, { kind: 'workflow', action, subject, refuse } satisfies RoutePermission), UseGuards(RoutePermissionGuard)),
  /** Decided per record by `by` (name the class that decides). */
  record: (by: string) => SetMetadata(ROUTE_PERMISSION, { kind: 'record', by } satisfies RoutePermission),
  /** Served without a token (identity's `@Public()` too); say why. */
  public: (why: string) => applyDecorators(SetMetadata(ROUTE_PERMISSION, { kind: 'public', why } satisfies RoutePermission), Public()),
};

/**
 * Enforces `@Permission.workflow(...)`: the actor's roles must allow the action on the subject
 * type under the policy in force. The decision is recorded in the request's audit entry,
 * allowed or refused, before the handler runs.
 */
@Injectable()
export class RoutePermissionGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly decisions: AccessPolicyService,
  ) {}

  canActivate(context: ExecutionContext): boolean {
    const permission = this.reflector.get<RoutePermission | undefined>(ROUTE_PERMISSION, context.getHandler());
    if (permission?.kind !== 'workflow') return true;
    const req = context.switchToHttp().getRequest<Request & AuditedRequest>();
    if (!req.actor) return false;
    const decision = this.decisions.decideWorkflow(req.actor, permission.action, permission.subject);
    req.audit?.decided(decision, undefined);
    if (!decision.allowed) {
      throw permission.refuse(`${permission.subject}: the policy does not let roles ${req.actor.roles.join(', ') || '(none)'} ${permission.action} (policy: ${permission.action} on ${permission.subject})`);
    }
    return true;
  }
}
