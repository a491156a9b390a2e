import { Injectable } from '@nestjs/common';
import type { Resource } from '@medplum/fhirtypes';
import type { Operation } from 'fast-json-patch';
import { ChartWardenDatabase } from '../database/chartwarden-database.js';
import { FhirAccess } from '../fhir/fhir-access.port.js';
import type { FhirContext } from '../fhir/fhir-request.js';
import { FhirRequestError, FhirRequestErrorCode } from '../fhir/fhir.errors.js';
import { FhirStore } from '../store/fhir-store.port.js';
import { FhirService } from '../fhir/fhir.service.js';
import { describe, diffOf, type LedgerEntry } from './domain/ledger.js';
import { GovernanceError, GovernanceErrorCode } from './governance.errors.js';

/** One version in `$changes`: the ledger entry, and what changed in words. */
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

/** Reading the edit ledger: who changed a document, when, why and what, per version or between two. */
@Injectable()
export class LedgerService {
  constructor(
    private readonly db: ChartWardenDatabase,
    private readonly access: FhirAccess,
    private readonly store: FhirStore,
    private readonly fhir: FhirService,
  ) {}

  async changes(ctx: FhirContext, type: string, id: string, from?: string, to?: string): Promise<ChangeHistory | VersionDiff> {
    this.fhir.checkType(type);
    this.fhir.checkId(id);
    // Whoever may read the document may read its history of changes (403, or 404 where the policy hides it).
    await this.access.requireStored(ctx, 'read', { type, id }, this.store, { hideExistence: true });
    if (from !== undefined || to !== undefined) return this.between(type, id, from, to);
    const rows = await this.db.query<{ entry: string; content: Resource; previous: Resource | null }>(
      `SELECT l.entry, v.content, p.content AS previous FROM edit_ledger l
         JOIN fhir_resource_version v ON v.resource_type = l.resource_type AND v.id = l.resource_id AND v.version_id = l.version_id
         LEFT JOIN fhir_resource_version p ON p.resource_type = l.resource_type AND p.id = l.resource_id AND p.version_id = l.version_id - 1
        WHERE l.resource_type = $1 AND l.resource_id = $2 ORDER BY l.version_id`,
      [type, id],
    );
    return {
      resource: `${type}/${id}`,
      versions: rows.map((r) => {
        const e = JSON.parse(r.entry) as LedgerEntry;
        return {
          version: e.version,
          recorded: e.recorded,
          editor: e.editor,
          ...(e.practitioner ? { practitioner: e.practitioner } : {}),
          kind: e.kind,
          ...(e.reason ? { reason: e.reason } : {}),
          ...(e.docType ? { docType: e.docType } : {}),
          changes: e.diff.map((op) => describe(op, r.previous ?? {})),
          diff: e.diff,
        };
      }),
    };
  }

  private async between(type: string, id: string, from: string | undefined, to: string | undefined): Promise<VersionDiff> {
    if (!from || !to || !VERSION.test(from) || !VERSION.test(to)) {
      throw new FhirRequestError(FhirRequestErrorCode.InvalidRequest, '$changes compares two versions: give both from=<version> and to=<version>', ['from', 'to']);
    }
    const rows = await this.db.query<{ version_id: number; content: Resource }>(
      'SELECT version_id, content FROM fhir_resource_version WHERE resource_type = $1 AND id = $2 AND version_id = ANY($3::int[])',
      [type, id, [Number(from), Number(to)]],
    );
    const at = (v: string) => rows.find((r) => r.version_id === Number(v))?.content;
    const [a, b] = [at(from), at(to)];
    if (!a || !b) throw new GovernanceError(GovernanceErrorCode.VersionNotFound, `${type}/${id} has no version ${!a ? from : to}`);
    const diff = diffOf(a, b);
    return { resource: `${type}/${id}`, from: Number(from), to: Number(to), changes: diff.map((op) => describe(op, a)), diff };
  }
}
