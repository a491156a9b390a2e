import type { Resource } from '@medplum/fhirtypes';
import fastJsonPatch, { type Operation } from 'fast-json-patch';
import { lexemesUnder, type NumberLexemes } from '../common/fhir-json-text.js';
import { FHIR_DEFAULTS } from '../config/chartwarden.options.js';
import { FhirRequestError, FhirRequestErrorCode } from './fhir.errors.js';
import { mediaType } from './format-negotiation.js';
import { parseJsonBody } from './json-body.js';

/** The one patch format ChartWarden applies (RFC 6902; R4 http.html#patch). */
export const JSON_PATCH = 'application/json-patch+json';

/**
 * What the server owns: a patch may `test` them (a client's precondition on `meta.versionId`),
 * never change them, nor an element holding them (`/meta` as a whole). `id` and `resourceType`
 * name the record; the version and its time are stamped by the store.
 */
const PROTECTED: readonly string[][] = [['id'], ['resourceType'], ['meta', 'versionId'], ['meta', 'lastUpdated']];

/** Keys that are no FHIR element and reach a JavaScript object's prototype: refused in any pointer, before `fast-json-patch` sees them. */
const PROTOTYPE_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

/** An array index with a leading zero (`01`): no index at all in RFC 6901, and no FHIR element name either. */
const LEADING_ZERO = /^0\d+$/;

/**
 * A PATCH body as an RFC 6902 JSON Patch document: an array of operations, each well-formed
 * (`fast-json-patch`'s own syntax check, RFC 6901 indices, no `move` into its own `from`, §4.4),
 * no pointer through a prototype key, and no operation that changes what the server owns.
 * Throws 400 otherwise; nothing has been read yet. Returns `body` itself, so its number
 * lexemes (`bodyNumbers`) stay with it.
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
      if (segments(pointer).some((s) => LEADING_ZERO.test(s))) throw malformed(`Operation ${i}: "${pointer}" has an index with a leading zero (RFC 6901)`);
    }
    if (op.op === 'move' && isPrefix(segments(op.from), segments(op.path), true)) {
      throw malformed(`Operation ${i}: "${op.from}" cannot be moved into one of its own children ("${op.path}", RFC 6902 §4.4)`);
    }
    // A copy only reads its `from`; a move removes it too. The root is judged on the result (`applyJsonPatch`).
    const changed = op.op === 'test' ? [] : op.op === 'move' ? [op.path, op.from] : [op.path];
    for (const pointer of changed) {
      const path = segments(pointer);
      const owned = path.length > 0 ? PROTECTED.filter((p) => isPrefix(p, path) || isPrefix(path, p)) : [];
      if (owned.length) {
        throw new FhirRequestError(
          FhirRequestErrorCode.PatchProtectedElement,
          `Operation ${i} (${op.op} ${pointer}) would change ${owned.map((p) => p.join('.')).join(' and ')}, which the server owns; a patch may only test it`,
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
  if (typeof binary.contentType !== 'string' || mediaType(binary.contentType).type !== JSON_PATCH) {
    throw new FhirRequestError(FhirRequestErrorCode.PatchFormatNotSupported, `A PATCH entry's Binary must be ${JSON_PATCH}, not "${String(binary.contentType)}"`);
  }
  if (typeof binary.data !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(binary.data) || binary.data.length % 4 !== 0) {
    throw malformed('The PATCH entry\'s Binary.data must be the JSON Patch document in base64');
  }
  return parseJsonPatch(parseJsonBody(Buffer.from(binary.data, 'base64'), maxDepth));
}

/** What a patch is applied with: the number lexemes of the stored version's text and of the patch document (`bodyNumbers`, pointers `/3/value/…`). */
export interface PatchLexemes {
  stored?: NumberLexemes;
  patch?: NumberLexemes;
}

/**
 * The patched resource: `operations` applied, in order and all or none, to a copy of `current`
 * (the version the caller's write has locked), with the lexemes its numbers are written in
 * (decision 0014): the stored ones follow their values through every operation (an array
 * index shifts with an `add` or `remove` before it, a `move` takes them along, a value
 * replaced or removed drops them), and each operation's own value brings its own. A `test`
 * that fails or a path that is not in this version answers 422: the patch is well-formed,
 * this version cannot take it. The result still names the same record at the same version (a
 * root `replace` cannot move it, nor restamp it); the caller validates it as an update.
 */
export function applyJsonPatch<T extends Resource>(
  current: T,
  operations: readonly Operation[],
  lexemes: PatchLexemes = {},
  maxBytes: number = FHIR_DEFAULTS.maxBodyBytes,
): { resource: T; numbers?: NumberLexemes } {
  let document: unknown = structuredClone(current);
  const numbers = new Map(lexemes.stored ?? []);
  // What the patch may add: a `copy` of a member into itself doubles the record at each step,
  // 22 of them took 12 s and a string too long to write. The JSON added by every add, replace
  // and copy is counted against what a request may send, so a patch cannot grow a record past it.
  let size = JSON.stringify(current).length;
  operations.forEach((op, i) => {
    if (op.op === 'add' || op.op === 'replace' || op.op === 'copy') {
      const added = op.op === 'copy' ? valueAt(document, op.from, current, op, i) : op.value;
      size += JSON.stringify(added ?? null).length;
      if (size > maxBytes) {
        throw new FhirRequestError(
          FhirRequestErrorCode.PayloadTooLarge,
          `The patch would make ${current.resourceType}/${current.id} larger than the ${maxBytes} bytes a request may send (operation ${i})`,
          [`/${i}`],
        );
      }
    }
    try {
      const own = op.op === 'add' || op.op === 'replace' ? lexemesUnder(lexemes.patch, `/${i}/value`) : undefined;
      if (op.op === 'move') {
        // RFC 6902 §4.4: a remove at `from`, then an add of that value at `path`.
        const moved = lexemesUnder(numbers, op.from);
        document = addAt(document, { op: 'add', path: op.path, value: removeAt(document, op.from, numbers, i) }, moved, numbers, i);
      } else if (op.op === 'copy') {
        document = addAt(document, op, lexemesUnder(numbers, op.from), numbers, i);
      } else if (op.op === 'remove') {
        removeAt(document, op.path, numbers, i);
        if (op.path === '') document = null;
      } else if (op.op === 'add') {
        document = addAt(document, op, own, numbers, i);
      } else {
        // Validated against the document, applied to our own copy, prototype keys banned (already refused above).
        document = fastJsonPatch.applyOperation(document, op, true, true, true, i).newDocument;
        if (op.op === 'replace') rebase(numbers, op.path, own);
      }
    } catch (e) {
      throw notApplicable(current, op, i, e);
    }
  });
  const result = document as Partial<Resource> | null;
  const stamp = (r: Partial<Resource> | null | undefined) => [r?.resourceType, r?.id, r?.meta?.versionId, r?.meta?.lastUpdated].join('\n');
  if (!result || typeof result !== 'object' || Array.isArray(result) || stamp(result) !== stamp(current)) {
    throw new FhirRequestError(
      FhirRequestErrorCode.PatchProtectedElement,
      `The patch would turn ${current.resourceType}/${current.id} into another record or version; a patch may not change id, resourceType, meta.versionId or meta.lastUpdated`,
    );
  }
  return { resource: result as T, numbers: numbers.size ? numbers : undefined };
}

/** The value at `pointer` for a `copy` (a missing one is the patch's error: 422). */
function valueAt(document: unknown, pointer: string, current: Resource, op: Operation, i: number): unknown {
  try {
    return fastJsonPatch.getValueByPointer(document, pointer);
  } catch (e) {
    throw notApplicable(current, op, i, e);
  }
}

/** Any error applying an operation (fast-json-patch's own, or a TypeError on a path it did not foresee) is the patch's: 422, never a 5xx. */
function notApplicable(current: Resource, op: Operation, i: number, e: unknown): FhirRequestError {
  const failedTest = e instanceof fastJsonPatch.JsonPatchError && e.name === 'TEST_OPERATION_FAILED';
  const why = failedTest ? 'the test failed' : e instanceof Error ? e.message.split('\n')[0] : String(e);
  return new FhirRequestError(
    FhirRequestErrorCode.PatchNotApplicable,
    `Operation ${i} (${op.op} ${op.path}): ${why} on ${current.resourceType}/${current.id} version ${current.meta?.versionId}; nothing was changed`,
  );
}

/** `remove` at `pointer`, its lexemes dropped and those of later array elements moved down one; returns the value removed. */
function removeAt(document: unknown, pointer: string, numbers: Map<string, string>, i: number): unknown {
  const { removed } = fastJsonPatch.applyOperation(document, { op: 'remove', path: pointer }, true, true, true, i) as { removed?: unknown };
  rebase(numbers, pointer);
  const at = arrayIndex(document, pointer);
  if (at) shift(numbers, at.array, at.index + 1, -1);
  return removed;
}

/** `add` (or `copy`) at `op.path`, carrying `own` (the value's lexemes) there: later array elements move up one, or the member it replaces drops its lexemes. */
function addAt(document: unknown, op: Operation & { op: 'add' | 'copy' }, own: NumberLexemes | undefined, numbers: Map<string, string>, i: number): unknown {
  const before = arrayIndex(document, op.path);
  const result = fastJsonPatch.applyOperation(document, op, true, true, true, i).newDocument;
  if (before) {
    shift(numbers, before.array, before.index, 1);
    rebase(numbers, `${before.array}/${before.index}`, own);
  } else {
    rebase(numbers, op.path, own);
  }
  return result;
}

/** The array holding `pointer`'s element and its index (`-`: the end), when its parent is an array. */
function arrayIndex(document: unknown, pointer: string): { array: string; index: number } | undefined {
  if (pointer === '') return undefined;
  const cut = pointer.lastIndexOf('/');
  const array = pointer.slice(0, cut);
  let parent: unknown;
  try {
    parent = fastJsonPatch.getValueByPointer(document, array);
  } catch {
    return undefined;
  }
  if (!Array.isArray(parent)) return undefined;
  const token = pointer.slice(cut + 1);
  return { array, index: token === '-' ? parent.length : Number(token) };
}

/** Replaces the lexemes at `pointer` and below with `own` (re-rooted there, `lexemesUnder`'s form), or drops them. */
function rebase(numbers: Map<string, string>, pointer: string, own?: NumberLexemes): void {
  for (const at of [...numbers.keys()]) if (at === pointer || at.startsWith(`${pointer}/`)) numbers.delete(at);
  for (const [at, lexeme] of own ?? []) numbers.set(`${pointer}${at}`, lexeme);
}

/** Moves the lexemes of `array`'s elements from `index` on by `delta` places. */
function shift(numbers: Map<string, string>, array: string, index: number, delta: number): void {
  const prefix = `${array}/`;
  const moved: [string, string][] = [];
  for (const [at, lexeme] of [...numbers]) {
    if (!at.startsWith(prefix)) continue;
    const rest = at.slice(prefix.length);
    const cut = rest.indexOf('/');
    const n = Number(cut < 0 ? rest : rest.slice(0, cut));
    if (n < index) continue;
    numbers.delete(at);
    moved.push([`${prefix}${n + delta}${cut < 0 ? '' : rest.slice(cut)}`, lexeme]);
  }
  for (const [at, lexeme] of moved) numbers.set(at, lexeme);
}

/** Whether `prefix` is a prefix of `path` (a proper one when `proper`). */
function isPrefix(prefix: readonly string[], path: readonly string[], proper = false): boolean {
  return prefix.length <= path.length - (proper ? 1 : 0) && prefix.every((s, k) => s === path[k]);
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
