import { Injectable, type CallHandler, type ExecutionContext, type NestInterceptor } from '@nestjs/common';
import { HTTP_CODE_METADATA } from '@nestjs/common/constants.js';
import { Reflector } from '@nestjs/core';
import { from, mergeMap, type Observable } from 'rxjs';
import { requestOf } from '../common/http-exchange.js';
import { AuditRecorder, type AuditedRequest } from './audit-recorder.js';

/**
 * Records a workflow route's successful answer (grants, break-the-glass review, copy
 * requests, disputes…) before Nest sends it; failures are recorded by the exception filter.
 * The record addressed and its patient are read from what the route returns.
 */
@Injectable()
export class AuditInterceptor implements NestInterceptor {
  constructor(
    private readonly recorder: AuditRecorder,
    private readonly reflector: Reflector,
  ) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const req: AuditedRequest = requestOf(context);
    const status = this.reflector.get<number | undefined>(HTTP_CODE_METADATA, context.getHandler()) ?? (req.method === 'POST' ? 201 : 200);
    return next.handle().pipe(
      mergeMap((value: unknown) =>
        from(
          (async () => {
            const audit = req.audit;
            // A single record returned (a grant, a case) names the entity and its patient; lists name neither.
            if (audit && isRecord(value) && !Array.isArray(value)) {
              audit.concerns([patientOf(value)]);
              const entity = audit.interaction?.entity;
              if (entity && !entity.id && typeof value.id === 'string') audit.as({ entity: { ...entity, id: value.id } });
            }
            await this.recorder.record(req, { status });
            return value;
          })(),
        ),
      ),
    );
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null;
}

function patientOf(v: unknown): string | undefined {
  if (!isRecord(v)) return undefined;
  return typeof v.patientId === 'string' ? v.patientId : typeof v.patient === 'string' ? v.patient.replace(/^Patient\//, '') : undefined;
}
