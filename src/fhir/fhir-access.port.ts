import type { Action } from '../policy/domain/actions.js';
import type { AccessFactOptions, AccessFacts, AccessFilter } from '../store/access-facts.js';
import type { Resource } from '@medplum/fhirtypes';
import type { FhirContext } from './fhir-request.js';
import type { FhirStore, StoredJson } from '../store/fhir-store.port.js';

/** One version as the access policy judged an action on it for the caller, by that version's own facts. */
export interface JudgedVersion {
  /** Its version id (`?` when it has none). */
  version: string;
  /** The patient its facts name (`subject`/`patient`); undefined for a record of no patient. */
  patient?: string;
  allowed: boolean;
  /** The rule that decided (a withholding names its dispute, R-44); absent when no rule applied (R-02: denied). */
  rule?: string;
}

/** The version rule's two judgements of one version (docs/decisions/0010-version-readability.md). */
export interface VersionVerdict {
  /** The version, by its own facts. */
  version: JudgedVersion;
  /** The record's current version, by its current facts; undefined when the store no longer has the record. */
  current?: JudgedVersion;
}

/**
 * The version rule (R-03, R-07; decision 0010) applied to a verdict: the stricter of both
 * decides. Names the judgement that refuses: the current version's first (a label added since,
 * a record withheld under a dispute since, R-44, or the record gone), then the version's own;
 * undefined when both allow. Every path that returns or copies a version decides by this.
 */
export function refusedBy(verdict: VersionVerdict): 'current' | 'version' | undefined {
  if (!verdict.current?.allowed) return 'current';
  if (!verdict.version.allowed) return 'version';
  return undefined;
}

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
   * The version rule for many versions at once (history, `$changes`): for each of `versions`,
   * in order, whether the caller may act on it (`refusedBy` finds nothing). The current versions
   * are judged in one store round trip per resource type; a version of a record whose current
   * version is refused is not judged at all. Each version shown concerns its patients.
   */
  abstract permitsVersions(ctx: FhirContext, action: Action, versions: readonly Resource[], store: FhirStore): Promise<boolean[]>;

  /**
   * The version rule with its reasons, for a workflow that must say why a version is refused
   * (copies, R-07, R-30, R-44): for each of `versions`, in order, the verdict on that version by
   * its own facts and on the record's current version by its current facts, each with the
   * patient it names and the rule that decided. The current versions are judged exactly as
   * `permitsVersions` judges them (one store round trip per resource type); `refusedBy` applies
   * the rule to a verdict. Records nothing in the audit trail: the caller names what it hands out.
   */
  abstract judgeVersions(ctx: FhirContext, action: Action, versions: readonly Resource[], store: FhirStore): Promise<VersionVerdict[]>;

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
