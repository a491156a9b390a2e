import { Injectable } from '@nestjs/common';
import type { Resource } from '@medplum/fhirtypes';
import { numberLexemes, storedText } from '../common/fhir-json-text.js';
import { FhirStore, notFoundError } from '../store/fhir-store.port.js';
import { StoreError, StoreErrorCode } from '../store/store.errors.js';
import { FhirAccess } from './fhir-access.port.js';
import { FhirRequestError, FhirRequestErrorCode } from './fhir.errors.js';
import { parseIfMatch, type FhirContext, type FhirHeaders } from './fhir-request.js';
import { bodyNumbers } from './json-body.js';
import type { FhirResponse } from './fhir-response.js';
import { FhirService } from './fhir.service.js';
import { FhirSettings } from './fhir.settings.js';
import { applyJsonPatch, JSON_PATCH, parseJsonPatch } from './json-patch.js';
import { ResourceValidator } from './resource.validator.js';
import { WriteChain } from './write-chain.js';

/** JSON Patch (RFC 6902) on a stored resource: an update, through the same write chain as a PUT. */
@Injectable()
export class FhirPatchService {
  constructor(
    private readonly fhir: FhirService,
    private readonly store: FhirStore,
    private readonly validator: ResourceValidator,
    private readonly access: FhirAccess,
    private readonly chain: WriteChain,
    private readonly settings: FhirSettings,
  ) {}

  /**
   * `patch` (R4 http.html#patch, RFC 6902 JSON Patch): an update of the current version with the
   * patch applied. Under the write's lock that version is judged (both versions within reach),
   * checked against `If-Match`, patched, validated and written through the whole write chain
   * with itself as precondition: no concurrent update is lost. A PATCH never creates. It needs
   * `read` on the locked version as well as `update`: its answer is the whole patched record,
   * and a `test` that fails or not tells what the record holds.
   * `body` is the request's body or a Bundle entry's document (`jsonPatchOfBinary`): either
   * carries the lexemes of its numbers (`bodyNumbers`), which the patched values keep.
   */
  async patch(ctx: FhirContext, type: string, id: string, body: unknown, headers: FhirHeaders, store = this.store): Promise<FhirResponse> {
    this.fhir.checkType(type);
    this.fhir.checkId(id);
    ctx.audit?.as({ action: 'U', subtype: 'update', lifecycle: 'amend', entity: { type, id } });
    // A FHIRPath Patch (Parameters) gets its own answer (parseJsonPatch); any other body is no patch this server reads.
    if (headers.contentType !== undefined && headers.contentType !== JSON_PATCH && (body as { resourceType?: unknown } | undefined)?.resourceType !== 'Parameters') {
      throw new FhirRequestError(FhirRequestErrorCode.UnsupportedMediaType, `PATCH takes an RFC 6902 JSON Patch as ${JSON_PATCH}, not ${headers.contentType}`);
    }
    const operations = parseJsonPatch(body);
    const ifMatch = parseIfMatch(headers.ifMatch);
    const outcome = await store.transaction(async (tx, unit) => {
      const { stored } = await tx.lockForWrite({ resourceType: type, id } as Resource, 'update');
      // Judged on the version now locked: what is patched is what was judged.
      await this.access.requireStored(ctx, 'update', { type, id }, tx, { hideExistence: true });
      await this.access.requireStored(ctx, 'read', { type, id }, tx, { hideExistence: true });
      if (!stored) throw notFoundError(type, id);
      const current = stored.meta?.versionId;
      if (ifMatch !== undefined && ifMatch !== current) {
        throw new StoreError(StoreErrorCode.VersionConflict, `${type}/${id} is at version ${current}, not ${ifMatch}: read it again and reapply the patch`);
      }
      // The stored numbers keep their lexemes wherever the patch carries their values, and the patch's own values theirs (decision 0014).
      const { resource: patched, numbers } = applyJsonPatch(stored, operations, { stored: numberLexemes(storedText(stored) ?? ''), patch: bodyNumbers(body) }, this.settings.maxBodyBytes);
      this.validator.validate(patched);
      const facts = await tx.accessFactsOf(patched, this.access.factOptionsFor(ctx, 'update', type));
      await this.access.require(ctx, 'update', facts);
      return this.chain.update(ctx, tx, unit, { ...patched, id }, { ifMatch: current, numbers, patient: facts.patient });
    });
    return this.fhir.writeResponse(ctx, outcome.resource, 200, headers.prefer);
  }

  /**
   * Conditional patch (`PATCH /Type?identifier=…`, R4 http.html#patch): the one record the
   * condition matches is patched as `patch` patches it; none is 404, several 412. The condition
   * is a search under the caller's own filter (decision 0015), so a record he may not see is
   * never the one patched and never counts as a match.
   */
  async conditionalPatch(ctx: FhirContext, type: string, search: string, body: unknown, headers: FhirHeaders): Promise<FhirResponse> {
    this.fhir.checkType(type);
    const { match: id } = await this.fhir.matchCondition(ctx, type, search, 'The conditional patch', this.store);
    if (id === undefined) throw new StoreError(StoreErrorCode.NotFound, `No ${type} this caller may see matches the condition; a PATCH never creates`);
    return this.patch(ctx, type, id, body, headers);
  }
}
