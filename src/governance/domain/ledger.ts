import { createHash } from 'node:crypto';
import type { Resource } from '@medplum/fhirtypes';
import fastJsonPatch, { type Operation } from 'fast-json-patch';
import { canonicalJson } from '../../common/canonical-json.js';

/** One version of a governed document as the edit ledger records it. */
export interface LedgerEntry {
  resourceType: string;
  id: string;
  version: number;
  /** Server time of the write (ISO 8601, ms). */
  recorded: string;
  /** Token `sub` of the editor, and their practitioner reference. */
  editor: string;
  practitioner?: string;
  /** The editor's licence status when they wrote it (R-14: an intern's document waits for a co-signature). */
  licence?: string;
  kind: 'create' | 'update' | 'sign' | 'cosign' | 'amend';
  /** same-patient documents this version copies passages from (allowed, flagged for checking). */
  copiedFrom?: string[];
  /** The approved amendment this version was written under: its id and approver. */
  amendment?: { id: string; approvedBy: string };
  /** `X-Edit-Reason`: required to change a document that is already final (signed). */
  reason?: string;
  /** The regulation document type, when the document has one. */
  docType?: string;
  /** RFC 6902 operations from the previous version to this one (server-managed `meta` left out). */
  diff: Operation[];
  /** SHA-256 (hex) of the version's RFC 8785 canonical JSON, as stored. */
  contentSha256: string;
  /** The audit trail's request id of the write. */
  requestId?: string;
}

/** The ledger chain of one document starts from this hash. */
export const LEDGER_GENESIS = Buffer.alloc(32);


/** The entry's canonical text and its chained hash: `SHA-256(previous entry's hash ‖ text)`. */
export function ledgerHash(previous: Buffer, entry: LedgerEntry): { text: string; hash: Buffer } {
  const text = canonicalJson(entry);
  return { text, hash: createHash('sha256').update(previous).update(text, 'utf8').digest() };
}

/** What changed between two versions, as RFC 6902 operations (`fast-json-patch`), `meta.versionId`/`lastUpdated` left out. */
export function diffOf(previous: Resource | undefined, next: Resource): Operation[] {
  return fastJsonPatch.compare(withoutServerMeta(previous ?? {}), withoutServerMeta(next));
}

/** One operation in words: `replaced /status: "preliminary" → "final"`. */
export function describe(op: Operation, previous: unknown): string {
  const path = op.path || '/';
  const value = (v: unknown) => JSON.stringify(v);
  switch (op.op) {
    case 'add':
      return `added ${path}: ${value(op.value)}`;
    case 'remove':
      return `removed ${path} (was ${value(valueAt(previous, op.path))})`;
    case 'replace':
      return `replaced ${path}: ${value(valueAt(previous, op.path))} → ${value(op.value)}`;
    default:
      return `${op.op} ${path}`;
  }
}

function valueAt(document: unknown, pointer: string): unknown {
  try {
    return fastJsonPatch.getValueByPointer(document, pointer);
  } catch {
    return undefined;
  }
}

function withoutServerMeta(resource: object): object {
  const copy = structuredClone(resource) as { meta?: Record<string, unknown> };
  if (copy.meta) {
    delete copy.meta.versionId;
    delete copy.meta.lastUpdated;
    if (Object.keys(copy.meta).length === 0) delete copy.meta;
  }
  return copy;
}
