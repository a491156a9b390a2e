import type { OperationOutcomeIssue } from '@medplum/fhirtypes';

/** A FHIR issue type (http://hl7.org/fhir/valueset-issue-type.html), the `code` of an OperationOutcome issue. */
export type IssueType = OperationOutcomeIssue['code'];

/**
 * How an error answers a caller: the HTTP status and the FHIR issue type, with the headers the
 * status calls for. The FHIR facade turns it into the response (`src/fhir/operation-outcome.mapper.ts`);
 * the embedding client gives the same answer (`toErrorResponse`).
 */
export interface ErrorAnswer {
  status: number;
  issue: IssueType;
  headers?: Readonly<Record<string, string>>;
  /**
   * The code the caller is told, when it must not be the error's own: a record the policy hides
   * answers exactly as one that does not exist (decisions 0005, 0010).
   */
  answersAs?: string;
}

/**
 * Each code of a feature's enum with its answer. A `Record` over the enum, so a code added
 * without its answer does not compile: the exhaustiveness a switch with `assertNever` gave.
 */
export type ErrorAnswers<TCode extends string> = Readonly<Record<TCode, ErrorAnswer>>;

/**
 * Base of every domain error ChartWarden throws. Each feature declares its own subclass with a
 * code enum and, in the same file, the answer of each code (`ErrorAnswers`): the feature knows
 * its refusals, and the one exception filter knows only this class, never the features.
 * A hospital's own error (a write guard's refusal) may declare its answer the same way.
 */
export abstract class ChartWardenError<TCode extends string = string> extends Error {
  protected constructor(
    readonly code: TCode,
    message: string,
    /** FHIRPath-ish locations the error refers to (OperationOutcome.issue.expression). */
    readonly expression?: string[],
  ) {
    super(message);
    this.name = new.target.name;
  }

  /**
   * How this error answers over HTTP. Undefined for an error that declares none: it answers
   * as an unexpected failure (500, logged, revealing nothing of the internals).
   */
  get answer(): ErrorAnswer | undefined {
    return undefined;
  }
}
