import { Injectable } from '@nestjs/common';
import { AuditRecorder } from '../audit/audit-recorder.js';
import type { Actor } from '../identity/actor.js';
import { FhirRequestError, FhirRequestErrorCode } from '../fhir/fhir.errors.js';
import type { FhirContext } from '../fhir/fhir-request.js';
import type { FhirResponse } from '../fhir/fhir-response.js';
import { FhirService } from '../fhir/fhir.service.js';
import { FhirSettings } from '../fhir/fhir.settings.js';
import { assertValidText, hasInvalidCharacters, invalidCharacters } from '../fhir/input-characters.js';
import { assertValidJsonValue } from '../fhir/json-body.js';
import { toErrorResponse } from '../fhir/operation-outcome.mapper.js';
import { AccessError, AccessErrorCode } from '../policy/policy.errors.js';
import { StoreError, StoreErrorCode } from '../store/store.errors.js';

/**
 * The FHIR base of embedded calls when `fhir.baseUrl` is not configured: a call has no request
 * URL to derive one from, so `fullUrl`s, paging links and the audited `Location` read
 * `urn:chartwarden:embedded/Patient/1`. Configure `fhir.baseUrl` to have the server's own.
 */
export const EMBEDDED_BASE_URL = 'urn:chartwarden:embedded';

/** What made an embedded call, as the audit trail records it: `embedded:/fhir/...` paths, user agent `chartwarden-embedded`. */
const EMBEDDED_SOURCE = 'embedded';

/** How a host acts as an actor (`chartwarden.as(actor, options)`): what an HTTP request would say in its headers. */
export interface ActingOptions {
  /**
   * Why the actor changes records (`X-Edit-Reason` over HTTP), kept in the edit ledger:
   * a signed document changes only with one. A write's own `editReason` takes precedence.
   */
  reason?: string;
  /** Break the glass for these calls, with the emergency that justifies it (`X-Break-Glass-Reason`). */
  breakGlass?: { reason: string };
  /** The host's id for the request these calls serve (`X-Request-Id`): kept as the audit entries' request id when it is a sane token, else one is made. */
  requestId?: string;
}

/**
 * One embedded call as the HTTP request it stands for (method, `/fhir/...` path, query), and the
 * write's own reason. What the host gave is checked inside the audited call, never before it: a
 * path segment that is not text or holds a lone surrogate, a malformed query, is refused with its
 * audit entry like any other refusal (R-20: every attempt is recorded).
 */
export interface EmbeddedCall {
  method: 'GET' | 'POST' | 'PUT';
  /** The path's segments after `/fhir/` as the caller gave them (type, id, `_history`, …), unchecked. */
  segments: readonly unknown[];
  /** Builds the query string (without `?`) from the caller's input; may throw on a malformed one. */
  query?: () => string;
  editReason?: string;
}

/**
 * Runs one embedded call through the very use cases HTTP runs (`FhirService`: the policy's
 * decisions, validation, the write chain with its guards, ledger and audit entry), with the
 * request's audit record around it: exactly one call, one audit record, durable before the
 * result is returned or the refusal thrown, as `sendRecorded` does for a response.
 */
@Injectable()
export class EmbeddedCalls {
  constructor(
    private readonly fhir: FhirService,
    private readonly recorder: AuditRecorder,
    private readonly settings: FhirSettings,
  ) {}

  /**
   * Runs `work` as `actor`. Resolves with its response once the call is in the audit trail;
   * rejects with the error HTTP would have turned into an OperationOutcome (a record the policy
   * hides as one that does not exist, docs/decisions/0005), or `AuditUnavailableError` when the
   * trail cannot record.
   */
  async run(
    actor: Actor,
    options: ActingOptions,
    call: EmbeddedCall,
    work: (fhir: FhirService, ctx: FhirContext) => Promise<FhirResponse>,
  ): Promise<FhirResponse> {
    const { path, query, malformed } = described(call);
    const audit = this.recorder.beginCall({ source: EMBEDDED_SOURCE, method: call.method, path, query, requestId: options.requestId });
    audit.actor = actor;
    let response: FhirResponse;
    try {
      if (malformed) throw malformed;
      const breakGlass = breakGlassOf(options);
      if (breakGlass) audit.breakGlass = breakGlass;
      const editReason = textOf(call.editReason ?? options.reason, 'editReason');
      response = await work(this.fhir, { actor, audit, baseUrl: this.settings.baseUrl ?? EMBEDDED_BASE_URL, breakGlass, editReason });
    } catch (e) {
      const refusal = asAnsweredOverHttp(e);
      const { status, outcome, headers } = toErrorResponse(refusal);
      await this.recorder.recordCall(audit, { status, headers, body: outcome });
      throw refusal;
    }
    await this.recorder.recordCall(audit, { status: response.status, headers: response.headers, body: response.status >= 400 ? response.body : undefined });
    return response;
  }

  /**
   * A resource as the body parser would hand it to the use case: plain JSON (what does not
   * survive `JSON.stringify` is not sent), within the body size and depth limits, with no NUL
   * or lone surrogate in a key or string.
   */
  bodyOf(resource: unknown): unknown {
    assertValidJsonValue(resource, this.settings.maxJsonDepth);
    const json = JSON.stringify(resource) ?? 'null';
    if (Buffer.byteLength(json) > this.settings.maxBodyBytes) {
      const message = `The request body is larger than the configured limit (${this.settings.maxBodyBytes} bytes)`;
      throw new FhirRequestError(FhirRequestErrorCode.PayloadTooLarge, message);
    }
    return JSON.parse(json) as unknown;
  }
}

/** A lone UTF-16 surrogate (no URL can carry one): replaced by U+FFFD in the path the trail records. */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/**
 * The path and query the audit record names, and what is wrong with the call if anything (thrown
 * inside the audited part). Never throws: the record must start whatever the host passed. A segment
 * is recorded percent-encoded as in a URL (a lone surrogate as U+FFFD, a value that is not text as
 * its `String`), and refused when it is not text or holds a NUL or a lone surrogate.
 */
function described(call: EmbeddedCall): { path: string; query: string | undefined; malformed?: unknown } {
  const path = `/fhir/${call.segments.map((s) => encodeURIComponent(typeof s === 'string' ? s.replace(LONE_SURROGATE, '\ufffd') : printable(s))).join('/')}`;
  let malformed: unknown;
  const notText = call.segments.findIndex((s) => typeof s !== 'string');
  if (notText >= 0) {
    const message = `An embedded call names its resource type and id as text: got ${typeof call.segments[notText]} (${path})`;
    malformed = new FhirRequestError(FhirRequestErrorCode.InvalidRequest, message);
  } else if (call.segments.some((s) => hasInvalidCharacters(s as string))) {
    malformed = invalidCharacters('path', 'contains a NUL character or an unpaired UTF-16 surrogate in a resource type or id');
  }
  let query: string | undefined;
  try {
    query = call.query?.();
  } catch (e) {
    malformed ??= e;
  }
  return { path, query, malformed };
}

/** A value that is not text, as the trail may name it: its `String`, or a placeholder when even that throws (no prototype, a throwing `toString`). */
function printable(value: unknown): string {
  try {
    return String(value);
  } catch {
    return '[unprintable]';
  }
}

/** The longest reason an embedded call may give, in UTF-8 bytes: what Node's default header limit lets a header carry over HTTP. */
const MAX_REASON_BYTES = 16 * 1024;

/** The break-the-glass of these calls: a reason is required, as `X-Break-Glass-Reason` is over HTTP. */
function breakGlassOf(options: ActingOptions): FhirContext['breakGlass'] {
  if (!options.breakGlass) return undefined;
  const reason = textOf(options.breakGlass.reason, 'breakGlass.reason');
  if (!reason) {
    const message = 'Break-the-glass needs a reason: give breakGlass.reason with the emergency that justifies it (R-04)';
    throw new FhirRequestError(FhirRequestErrorCode.BreakGlassReasonMissing, message);
  }
  return { reason };
}

/** A caller's text, trimmed (blank: none), refused when it holds characters no header may carry. */
function textOf(text: string | undefined, where: string): string | undefined {
  if (text !== undefined && text !== null && typeof text !== 'string') {
    throw new FhirRequestError(FhirRequestErrorCode.InvalidRequest, `${where} must be text`);
  }
  if (text && Buffer.byteLength(text, 'utf8') > MAX_REASON_BYTES) {
    throw new FhirRequestError(FhirRequestErrorCode.InvalidRequest, `${where} is longer than ${MAX_REASON_BYTES} bytes: say why in fewer words`);
  }
  const trimmed = text?.trim();
  if (!trimmed) return undefined;
  assertValidText(trimmed, where);
  return trimmed;
}

/** A record the policy hides answers as one that does not exist, in the error too: same code, same words (docs/decisions/0005, 0010). */
function asAnsweredOverHttp(error: unknown): unknown {
  return error instanceof AccessError && error.code === AccessErrorCode.Hidden ? new StoreError(StoreErrorCode.NotFound, error.message) : error;
}
