import type { Action } from '../policy/domain/actions.js';
import type { AccessFactOptions, AccessFacts, AccessFilter } from '../store/access-facts.js';
import type { Resource } from '@medplum/fhirtypes';
import type { FhirContext } from './fhir-request.js';
import type { FhirStore, StoredJson } from '../store/fhir-store.port.js';

/**
 * Port: how the FHIR facade asks "may this operator do this?" (issue #3). The access feature
 * implements it with the CASL policy; the facade never decides by itself and never lets a
 * request through because a check could not run.
 */
export abstract class FhirAccess {
  /** Throws an access error (403, or 404 where the policy hides existence) unless allowed. */
  abstract require(ctx: FhirContext, action: Action, facts: AccessFacts, options?: { hideExistence?: boolean }): Promise<void>;

  /**
   * Decides an action on a stored resource in one store round trip (the same SQL that
   * filters searches) and returns its content when asked. Throws like `require`.
   */
  abstract requireStored(
    ctx: FhirContext,
    action: Action,
    ref: { type: string; id: string },
    store: FhirStore,
    options?: { hideExistence?: boolean; withContent?: boolean },
  ): Promise<StoredJson | undefined>;

  /** `requireStored` as a yes/no, for `_include` results. */
  abstract permitsStored(ctx: FhirContext, action: Action, ref: { type: string; id: string }, store: FhirStore): Promise<boolean>;

  /**
   * The version rule (R-03, R-07; docs/decisions/0010-version-readability.md): a version of a
   * record may be acted on only when the caller may act on the record's current version by its
   * current facts AND on that version by its own facts. Judges the current version first (a
   * record the caller may not reach reveals nothing of its versions, not even which exist),
   * then loads the version and judges it. Returns the version; throws like `requireStored`,
   * and a hidden version answers exactly as a version that does not exist.
   */
  abstract requireVersion(
    ctx: FhirContext,
    action: Action,
    ref: { type: string; id: string; versionId: string },
    store: FhirStore,
    options?: { hideExistence?: boolean },
  ): Promise<Resource>;

  /**
   * The version rule for many versions at once (history, `$changes`, copies): for each of
   * `versions`, in order, whether the caller may act on it. The current versions are judged
   * in one store round trip per resource type.
   */
  abstract permitsVersions(ctx: FhirContext, action: Action, versions: readonly Resource[], store: FhirStore): Promise<boolean[]>;

  /** The condition a search, type history or `$everything` over `types` is restricted to. */
  abstract filter(ctx: FhirContext, action: Action, types: readonly string[]): Promise<AccessFilter>;

  /** Policy settings the store needs to compute facts (the care window). */
  abstract factOptions(): AccessFactOptions;

  /** `factOptions()` for facts that will judge `action` on `type` for this caller: context facts only if a rule reads them. */
  abstract factOptionsFor(ctx: FhirContext, action: Action, type: string): AccessFactOptions;

  /**
   * When the request breaks the glass, opens `patient` to this operator for the
   * policy's duration. Throws when the role may not, or no single patient is concerned.
   */
  abstract openBreakGlass(ctx: FhirContext, patient: string | undefined): Promise<void>;
}
