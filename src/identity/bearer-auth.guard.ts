import { Injectable, SetMetadata, createParamDecorator, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Request } from 'express';
import type { Actor } from './actor.js';
import { TokenVerifier } from './token.verifier.js';

const PUBLIC = 'chartwarden:public';

/** Marks a route that needs no token (only `GET /fhir/metadata`). */
export const Public = () => SetMetadata(PUBLIC, true);

type RequestWithActor = Request & { actor?: Actor };

/**
 * Every request names one verified operator: the bearer token is verified and its
 * `Actor` attached to the request, or the request ends with 401. Routes opt out only with `@Public()`.
 */
@Injectable()
export class BearerAuthGuard implements CanActivate {
  constructor(
    private readonly verifier: TokenVerifier,
    private readonly reflector: Reflector,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    if (this.reflector.getAllAndOverride<boolean>(PUBLIC, [context.getHandler(), context.getClass()])) return true;
    const req = context.switchToHttp().getRequest<RequestWithActor>();
    req.actor = await this.verifier.verifyAuthorization(req.headers.authorization);
    return true;
  }
}

/** The verified operator of this request. */
export const CurrentActor = createParamDecorator((_data: unknown, context: ExecutionContext): Actor => {
  const actor = context.switchToHttp().getRequest<RequestWithActor>().actor;
  if (!actor) throw new Error('CurrentActor used on a route without BearerAuthGuard');
  return actor;
});
