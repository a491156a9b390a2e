import { Injectable, type OnApplicationBootstrap } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { FhirRequestError, FhirRequestErrorCode } from './fhir.errors.js';
import { FHIR_JSON } from './fhir-response.js';
import { toErrorResponse } from './operation-outcome.mapper.js';

/**
 * Requests Node's HTTP parser refuses before any route sees them get an OperationOutcome
 * instead of an empty body: headers over the server's limit (`--max-http-header-size`,
 * 16 KB by default) → 431 `fhir.headers-too-large`; a request line or header that is not
 * HTTP (a raw NUL, a byte over 0x7F in the URL) → 400 `fhir.invalid-request`. Installed by the
 * module on whatever HTTP server hosts it (the standalone server, a test app, an embedding
 * host), unless the host handles `clientError` itself. Such requests have no method, path or
 * caller yet, so they are answered but not audited (there is no access to record).
 */
@Injectable()
export class HeaderLimit implements OnApplicationBootstrap {
  constructor(private readonly adapterHost: HttpAdapterHost) {}

  onApplicationBootstrap(): void {
    const server = this.adapterHost?.httpAdapter?.getHttpServer() as Server | undefined;
    if (!server || typeof server.on !== 'function' || server.listenerCount('clientError') > 0) return;
    server.on('clientError', answerClientError);
  }
}

/** Node's own handling (http `_http_server.js`), with an OperationOutcome body where Node sends none. */
export function answerClientError(err: Error & { code?: string }, socket: Duplex & { _httpMessage?: { headersSent?: boolean } }): void {
  // Nothing can be answered on a socket that is gone or already carrying a response.
  if (!socket.writable || err.code === 'ECONNRESET' || socket._httpMessage?.headersSent) {
    socket.destroy();
    return;
  }
  if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
    socket.end('HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n\r\n');
    return;
  }
  const error =
    err.code === 'HPE_HEADER_OVERFLOW'
      ? new FhirRequestError(FhirRequestErrorCode.HeadersTooLarge, 'The request headers are larger than the server accepts (16 KB by default)')
      : new FhirRequestError(FhirRequestErrorCode.InvalidRequest, 'The request is not valid HTTP/1.1 (a control or non-ASCII byte in a header?)');
  const { status, outcome } = toErrorResponse(error);
  const body = Buffer.from(JSON.stringify(outcome));
  const reason = status === 431 ? 'Request Header Fields Too Large' : 'Bad Request';
  socket.end(
    Buffer.concat([
      Buffer.from(`HTTP/1.1 ${status} ${reason}\r\nContent-Type: ${FHIR_JSON}\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`),
      body,
    ]),
  );
}
