import { Injectable } from '@nestjs/common';
import type { Resource } from '@medplum/fhirtypes';
import type { Operation } from 'fast-json-patch';
import { FhirAccess } from '../fhir/fhir-access.port.js';
import type { FhirContext } from '../fhir/fhir-request.js';
import { FhirRequestError, FhirRequestErrorCode } from '../fhir/fhir.errors.js';
import { FhirStore, notFoundError } from '../store/fhir-store.port.js';
import { StoreError, StoreErrorCode } from '../store/store.errors.js';
import { AccessError, AccessErrorCode } from '../policy/policy.errors.js';
import { FhirService } from '../fhir/fhir.service.js';
import { describe, diffOf, type LedgerEntry } from './domain/ledger.js';
import type { VersionRange } from './dto/governance.dto.js';
import { GovernanceError, GovernanceErrorCode } from './governance.errors.js';
import { LedgerReadsRepository } from './ledger-reads.repository.js';

/**
 * One version in `$changes`: the ledger entry, and what changed in words. A change between a
 * version the caller may read and one they may not (docs/decisions/0010) is `withheld`: that
 * it happened, when and by whom, as the ledger has it; no reason, document type, changes or
 * diff (both empty).
 */
export interface VersionChange {
  version: number;
  recorded: string;
  editor: string;
  practitioner?: string;
  kind: LedgerEntry['kind'];
  reason?: string;
  docType?: string;
  changes: string[];
  diff: Operation[];
  withheld?: true;
}

/** The answer of `GET /fhir/{type}/{id}/$changes`. */
export interface ChangeHistory {
  resource: string;
  versions: VersionChange[];
}

/** The answer of `GET /fhir/{type}/{id}/$changes?from=&to=`. */
export interface VersionDiff {
  resource: string;
  from: number;
  to: number;
  changes: string[];
  diff: Operation[];
}

const VERSION = /^\d{1,9}$/;

/** Versions of one document judged at once (as for instance history). */
const VERSION_LIMIT = 1000;

/**
 * Reading the edit ledger: who changed a document, when, why and what, per version or
 * between two, under the version rule (docs/decisions/0010): a change is shown in full only
 * between versions the caller may read, as a bare fact when one side is unreadable, and not
 * at all when neither side is readable.
 */
@Injectable()
export class LedgerService {
  constructor(
    private readonly ledger: LedgerReadsRepository,
    private readonly access: FhirAccess,
    private readonly store: FhirStore,
    private readonly fhir: FhirService,
  ) {}

  /** Every change of the document, or (`range` with `from` or `to`) the difference between two of its versions. */
  async changes(ctx: FhirContext, type: string, id: string, range: VersionRange = {}): Promise<ChangeHistory | VersionDiff> {
    const { from, to } = range;
    this.fhir.checkType(type);
    this.fhir.checkId(id);
    // Whoever may read the document may read its history of changes (403, or 404 where the policy hides it).
    await this.access.requireStored(ctx, 'read', { type, id }, this.store, { hideExistence: true });
    if (from !== undefined || to !== undefined) return this.between(ctx, type, id, from, to);
    const entries = await this.ledger.entries({ type, id });
    if (entries.length === 0) return { resource: `${type}/${id}`, versions: [] };
    const stored = (await this.store.history(type, id, { count: VERSION_LIMIT, offset: 0 })).entries.map((e) => e.resource);
    const allowed = await this.access.permitsVersions(ctx, 'read', stored, this.store);
    const readable = new Map(stored.map((r, i) => [r.meta?.versionId, allowed[i] ? r : undefined]));
    const versions: VersionChange[] = [];
    for (const e of entries) {
      const now = readable.get(String(e.version));
      // Version 1 (or the first version the store has) changes from nothing: it is listed only if readable itself.
      const first = !readable.has(String(e.version - 1));
      const before = first ? ({} as Resource) : readable.get(String(e.version - 1));
      if (now === undefined && (first || before === undefined)) continue;
      const practitioner = e.practitioner ? { practitioner: e.practitioner } : {};
      const editedBy = { version: e.version, recorded: e.recorded, editor: e.editor, ...practitioner, kind: e.kind };
      if (now === undefined || before === undefined) {
        versions.push({ ...editedBy, changes: [], diff: [], withheld: true });
        continue;
      }
      versions.push({
        ...editedBy,
        ...(e.reason ? { reason: e.reason } : {}),
        ...(e.docType ? { docType: e.docType } : {}),
        changes: e.diff.map((op) => describe(op, before)),
        diff: e.diff,
      });
    }
    return { resource: `${type}/${id}`, versions };
  }

  /** Both versions under the version rule; one the caller may not read is refused as a version that is hidden (or missing). */
  private async between(ctx: FhirContext, type: string, id: string, from: string | undefined, to: string | undefined): Promise<VersionDiff> {
    if (!from || !to || !VERSION.test(from) || !VERSION.test(to)) {
      throw new FhirRequestError(FhirRequestErrorCode.InvalidRequest, '$changes compares two versions: give both from=<version> and to=<version>', ['from', 'to']);
    }
    const version = (versionId: string) =>
      this.access.requireVersion(ctx, 'read', { type, id, versionId: String(Number(versionId)) }, this.store, { hideExistence: true }).catch((e: unknown) => {
        // A version the document lacks, and one the policy hides as if it did not exist, answer alike.
        const missing = (e instanceof StoreError && e.code === StoreErrorCode.NotFound) || (e instanceof AccessError && e.code === AccessErrorCode.Hidden);
        if (missing) throw new GovernanceError(GovernanceErrorCode.VersionNotFound, notFoundError(type, id, versionId).message);
        throw e;
      });
    const a = await version(from);
    const b = await version(to);
    const diff = diffOf(a, b);
    return { resource: `${type}/${id}`, from: Number(from), to: Number(to), changes: diff.map((op) => describe(op, a)), diff };
  }
}
