import type { UnitOfWork } from '../database/unit-of-work.js';

/** One governed document's last ledger entry as a checkpoint signs it: `[Type/id, version, hash hex]`. */
export type LedgerHead = [string, number, string];

/**
 * Port: the edit ledger as a signed checkpoint holds it (R-17, R-21; decision 0011). A
 * checkpoint signs the audit chains' heads and the ledger's in one snapshot; the ledger is
 * governance's table, so audit asks this port (governance implements it, the root module and
 * the CLI bind it) and never reads the table itself (decision 0013).
 */
export abstract class LedgerHeads {
  /**
   * Every governed document's last entry, sorted by `Type/id`, and the root digest over them
   * (the one `ledger verify` prints), read in `unit` (the checkpoint's snapshot).
   */
  abstract current(unit: UnitOfWork): Promise<{ root: string; documents: LedgerHead[] }>;

  /** The hash (hex) of each of these entries (`[Type/id, version]`) still in the ledger, keyed `Type/id version`; read in `unit`. */
  abstract hashesOf(unit: UnitOfWork, entries: readonly (readonly [string, number])[]): Promise<Map<string, string>>;
}
