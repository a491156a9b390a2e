/**
 * Rows of ChartWarden's own record tables as `pg` returns them (`SELECT *`): what the suites read
 * as ground truth past every policy, to prove what a request recorded.
 */

/** A row of `audit_entry`: one hash-chained entry per request and decision. */
export interface AuditRow {
  chain: number;
  seq: string;
  recorded: Date;
  request_id: string;
  actor: string | null;
  patient: string | null;
  action: string;
  subtype: string;
  outcome: number;
  entity_type: string | null;
  entity_id: string | null;
  content: string;
  prev_hash: Buffer;
  hash: Buffer;
}

/** A row of `edit_ledger`: one hash-chained entry per version of a governed document. */
export interface LedgerRow {
  resource_type: string;
  resource_id: string;
  version_id: number;
  recorded: Date;
  editor: string;
  kind: string;
  reason: string | null;
  doc_type: string | null;
  entry: string;
  prev_hash: Buffer;
  hash: Buffer;
}
