import type { Resource } from '@medplum/fhirtypes';
import fastJsonPatch, { type Operation } from 'fast-json-patch';
import { FhirRequestError, FhirRequestErrorCode } from './fhir.errors.js';
import { parseJsonBody } from './json-body.js';

/** The one patch format ChartWarden applies (RFC 6902; R4 http.html#patch). */
export const JSON_PATCH = 'application/json-patch+json';

/**
 * What the server owns: a patch may `test` them (a client's precondition on `meta.versionId`),
 * never change them. `id` and `resourceType` name the record; the version and its time are stamped by the store.
 */
const PROTECTED: readonly string[][] = [['id'], ['resourceType'], ['meta', 'versionId'], ['meta', 'lastUpdated']];

/** Keys that are no FHIR element and reach a JavaScript object's prototype: refused in any pointer, before `fast-json-patch` sees them. */
const PROTOTYPE_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

/**
 * A PATCH body as an RFC 6902 JSON Patch document: an array of operations, each well-formed
 * (`fast-json-patch`'s own syntax check), no pointer through a prototype key, and no operation
 * that changes what the server owns. Throws 400 otherwise; nothing has been read yet.
 */
export function parseJsonPatch(body: unknown): Operation[] {
  if (!Array.isArray(body)) {
    const fhirPath = (body as { resourceType?: unknown } | null)?.resourceType === 'Parameters';
    if (fhirPath) throw fhirPathRefused();
    throw malformed('The body must be a JSON Patch document: an array of operations (RFC 6902)');
  }
  const notAnObject = body.findIndex((op) => !op || typeof op !== 'object' || Array.isArray(op));
  if (notAnObject >= 0) throw malformed(`Operation ${notAnObject} is not a JSON object`);
  const syntax = fastJsonPatch.validate(body as Operation[]);
  if (syntax) throw malformed(`Operation ${syntax.index ?? 0}: ${syntax.message.split('\n')[0]}`);
  const operations = body as Operation[];
  operations.forEach((op, i) => {
    const pointers = 'from' in op ? [op.path, op.from] : [op.path];
    for (const pointer of pointers) {
      if (segments(pointer).some((s) => PROTOTYPE_KEYS.has(s))) throw malformed(`Operation ${i}: "${pointer}" names no FHIR element`);
    }
    // A copy only reads its `from`; a move removes it too.
    const changed = op.op === 'test' ? [] : op.op === 'move' ? [op.path, op.from] : [op.path];
    for (const pointer of changed) {
      const path = segments(pointer);
      if (PROTECTED.some((p) => p.length <= path.length && p.every((s, k) => s === path[k]))) {
        throw new FhirRequestError(
          FhirRequestErrorCode.PatchProtectedElement,
          `Operation ${i} (${op.op} ${pointer}) would change ${path.slice(0, 2).join('.')}, which the server owns; a patch may only test it`,
          [pointer],
        );
      }
    }
  });
  return operations;
}

/**
 * A transaction or batch entry's patch (R4 http.html#transaction): a `Binary` whose
 * `contentType` is JSON Patch and whose `data` is the document, base64-encoded. Its JSON is
 * read as a request body is (strict UTF-8, at most `maxDepth` deep). FHIRPath Patch (a
 * `Parameters` resource) is refused as not supported.
 */
export function jsonPatchOfBinary(resource: unknown, maxDepth: number): Operation[] {
  const binary = resource as { resourceType?: unknown; contentType?: unknown; data?: unknown } | undefined;
  if (binary?.resourceType === 'Parameters') throw fhirPathRefused();
  if (binary?.resourceType !== 'Binary') throw malformed('A PATCH entry carries its JSON Patch as a Binary resource (contentType application/json-patch+json, data in base64)');
  const contentType = typeof binary.contentType === 'string' ? binary.contentType.split(';')[0].trim().toLowerCase() : '';
  if (contentType !== JSON_PATCH) {
    throw new FhirRequestError(FhirRequestErrorCode.PatchFormatNotSupported, `A PATCH entry's Binary must be ${JSON_PATCH}, not "${String(binary.contentType)}"`);
  }
  if (typeof binary.data !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(binary.data) || binary.data.length % 4 !== 0) {
    throw malformed('The PATCH entry\'s Binary.data must be the JSON Patch document in base64');
  }
  return parseJsonPatch(parseJsonBody(Buffer.from(binary.data, 'base64'), maxDepth));
}

/**
 * The patched resource: `operations` applied, in order and all or none, to a copy of `current`
 * (the version the caller's write has locked). A `test` that fails or a path that is not in this
 * version answers 422: the patch is well-formed, this version cannot take it. The result still
 * names the same record (a root `replace` cannot move it); the caller validates it as an update.
 */
export function applyJsonPatch<T extends Resource>(current: T, operations: readonly Operation[]): T {
  let patched: unknown;
  try {
    // Validated against the document, applied to our own copy, prototype keys banned (already refused above).
    patched = fastJsonPatch.applyPatch(structuredClone(current), [...operations], true, true, true).newDocument;
  } catch (e) {
    if (!(e instanceof fastJsonPatch.JsonPatchError)) throw e;
    const which = e.index === undefined ? '' : `Operation ${e.index} (${operations[e.index]?.op} ${operations[e.index]?.path}): `;
    const why = e.name === 'TEST_OPERATION_FAILED' ? 'the test failed' : e.message.split('\n')[0];
    throw new FhirRequestError(FhirRequestErrorCode.PatchNotApplicable, `${which}${why} on ${current.resourceType}/${current.id} version ${current.meta?.versionId}; nothing was changed`);
  }
  const result = patched as Partial<Resource> | null;
  if (!result || typeof result !== 'object' || Array.isArray(result) || result.resourceType !== current.resourceType || result.id !== current.id) {
    throw new FhirRequestError(FhirRequestErrorCode.PatchProtectedElement, `The patch would turn ${current.resourceType}/${current.id} into another record; a patch may not change id or resourceType`);
  }
  return result as T;
}

/** An RFC 6901 pointer's reference tokens, unescaped (`~1` is `/`, `~0` is `~`). */
function segments(pointer: string): string[] {
  return pointer === '' ? [] : pointer.slice(1).split('/').map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function malformed(message: string): FhirRequestError {
  return new FhirRequestError(FhirRequestErrorCode.PatchMalformed, message);
}

function fhirPathRefused(): FhirRequestError {
  return new FhirRequestError(FhirRequestErrorCode.PatchFormatNotSupported, `FHIRPath Patch (a Parameters resource) is not supported; send an RFC 6902 JSON Patch as ${JSON_PATCH}`);
}
