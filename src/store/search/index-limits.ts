import { StoreError, StoreErrorCode } from '../store.errors.js';

/**
 * The bounds of one resource's index (R-51: one writer must not block the server). A composite
 * row is one combination of its components' values, so an element with N codings and N values
 * gives N² rows: a 64 KB Observation once gave three million. Past a bound the write is refused
 * (422 `too-costly`, `store.index-too-large`, naming the parameter) before any row is written.
 * A real record stays far below: a panel of 50 results gives a few hundred rows.
 */
export const INDEX_LIMITS = {
  /** Combinations one element may give one composite parameter. */
  compositeRowsPerElement: 256,
  /** Index rows of all kinds one resource version may give. */
  rowsPerResource: 10_000,
  /** Distinct UCUM units one resource may carry (each new one costs a parse by the UCUM library). */
  unitsPerResource: 100,
} as const;

/** The refusal of an index past `INDEX_LIMITS`. */
export function indexTooLarge(param: string, why: string): StoreError {
  return new StoreError(StoreErrorCode.IndexTooLarge, `Search parameter ${param}: ${why}; the resource cannot be indexed. Split it into several resources.`, [param]);
}
