/**
 * Base of every domain error ChartWarden throws. Each feature declares its own subclass
 * with a code enum; only the FHIR exception filter knows how a code becomes an HTTP status
 * and an OperationOutcome (see `src/fhir/operation-outcome.mapper.ts`).
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
}

/** Compile-time exhaustiveness: an unmapped enum member makes the call site fail to type-check. */
export function assertNever(value: never): never {
  throw new Error(`Unhandled case: ${String(value)}`);
}
