import { Injectable } from '@nestjs/common';
import { ChartWardenDatabase, type Queryable } from '../database/chartwarden-database.js';
import type { FhirContext } from '../fhir/fhir-request.js';
import { WriteJournal, type JournaledWrite } from '../fhir/write-journal.port.js';
import { sqlOf, type UnitOfWork } from '../database/unit-of-work.js';
import { DisputeError, DisputeErrorCode } from './disputes.errors.js';

/** Sealed cases holding the record itself, a visit it belongs to, or (a Provenance) a record it signs: see the migration's `chartwarden_holds`. */
const HOLDS_SQL = 'SELECT hold_case, held_type, held_id, held_status, held_as FROM chartwarden_holds($1, $2, $3)';

/**
 * The legal hold on every write, inside the write's transaction, first of the write
 * journals: a version of a sealed record, a new or moved record for a sealed encounter, or a
 * Provenance signing a sealed record is refused with 423 naming the case, and the transaction
 * (version, ledger, audit entry) rolls back. A pending (unfinished) record may still be
 * completed; a supplement seals it. The encounters are the ones the search index resolved in
 * this same transaction, so every reference form counts (relative, absolute, versioned, every
 * `context.encounter`).
 *
 * No write commits after a seal commits (decision 0008): sealing locks the patient, its
 * encounters and every record it inventories `FOR UPDATE`; an update holds its row's lock
 * from its UPDATE on, and a create takes `FOR KEY SHARE` on its encounters (a Provenance: on
 * the records it signs) in the same call. Whichever comes second waits for the first to
 * commit, and the check then runs in a statement that sees the seal. Not serialized: an
 * update moving a record into a visit while it is being sealed (locking the encounter on
 * updates would deadlock with the seal); it lands inventoried, or held by its sealed visit
 * and added by the next supplement.
 */
@Injectable()
export class DisputeHoldGuard extends WriteJournal {
  constructor(private readonly db: ChartWardenDatabase) {
    super();
  }

  async record(_ctx: FhirContext, write: JournaledWrite, unit: UnitOfWork): Promise<void> {
    const tx = sqlOf(unit);
    if (write.unchanged) return;
    const { resourceType: type, id } = write.resource;
    if (!id) return;
    // A new record that names no encounter and signs nothing belongs to no sealed visit (a
    // reference to an encounter, in any form, contains "Encounter/"): nothing sealed can hold it.
    if (write.created && type !== 'Provenance' && !JSON.stringify(write.resource).includes('Encounter/')) return;
    const holds = await tx.query<{ hold_case: string; held_type: string; held_id: string; held_status: string; held_as: 'self' | 'encounter' | 'target' }>(
      HOLDS_SQL,
      [type, id, write.created],
      { prepare: true },
    );
    if (holds.length === 0) return;
    const own = holds.filter((h) => h.held_as === 'self');
    // Its own line decides: sealed refuses; pending lets the record be completed.
    const refusing = own.length ? own.find((h) => h.held_status === 'sealed') : holds[0];
    if (!refusing) return;
    const what =
      refusing.held_as === 'self'
        ? `${type}/${id}`
        : refusing.held_as === 'encounter'
          ? `Encounter/${refusing.held_id}, the visit ${type}/${id} belongs to,`
          : `${refusing.held_type}/${refusing.held_id}, which Provenance/${id} signs,`;
    throw new DisputeError(
      DisputeErrorCode.Sealed,
      `${what} is sealed under dispute case ${refusing.hold_case}: a sealed record cannot be changed by anyone until the case is unsealed (R-41)`,
    );
  }
}
