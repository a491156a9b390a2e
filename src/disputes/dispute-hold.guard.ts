import { Injectable } from '@nestjs/common';
import { ChartWardenDatabase, type Queryable } from '../database/chartwarden-database.js';
import type { FhirContext } from '../fhir/fhir-request.js';
import { WriteJournal, type JournaledWrite } from '../fhir/write-journal.port.js';
import { encounterOf } from '../governance/archive.service.js';
import { DisputeError, DisputeErrorCode } from './disputes.errors.js';

/** Sealed cases holding the resource itself, or its encounter (a new or moved record for a sealed visit): see the migration's `chartwarden_holds`. */
const HOLDS_SQL = 'SELECT hold_case, held_type, held_id, held_status FROM chartwarden_holds($1, $2, $3, $4)';

/**
 * The legal hold on every write, inside the write's transaction, first of the write
 * journals: a version of a sealed record, or a new record for a sealed encounter, is refused
 * with 423 naming the case, and the transaction (version, ledger, audit entry) rolls back.
 * A pending (unfinished) record may still be completed; a supplement seals it.
 *
 * No write commits after a seal commits (decision 0008): sealing locks the patient, its
 * encounters and every record it inventories `FOR UPDATE`; an update holds its row's lock
 * from its UPDATE on, and a create for an encounter takes `FOR KEY SHARE` on that encounter
 * here. Whichever comes second waits for the first to commit, and this check then runs in a
 * statement that sees the seal. (An update moving a record into a visit being sealed is not
 * serialized: it lands either inventoried, or frozen by its sealed encounter and added by the
 * next supplement.)
 */
@Injectable()
export class DisputeHoldGuard extends WriteJournal {
  constructor(private readonly db: ChartWardenDatabase) {
    super();
  }

  async record(_ctx: FhirContext, write: JournaledWrite, tx: Queryable | undefined): Promise<void> {
    if (write.unchanged) return;
    const { resourceType: type, id } = write.resource;
    if (!id) return;
    const encounter = type === 'Encounter' ? undefined : encounterOf(write.resource);
    // A new record outside any encounter belongs to no sealed visit: nothing sealed can hold it.
    if (write.created && !encounter) return;
    const q = tx ?? this.db;
    // A new record waits for a seal of its encounter in progress (and is then refused): the
    // function locks the encounter first. An update needs no such lock: sealing waits for the
    // updated row itself.
    const holds = await q.query<{ hold_case: string; held_type: string; held_id: string; held_status: string }>(HOLDS_SQL, [type, id, encounter ?? null, write.created], { prepare: true });
    if (holds.length === 0) return;
    const own = holds.filter((h) => h.held_type === type && h.held_id === id);
    // Its own line decides: sealed refuses; pending lets the record be completed.
    const refusing = own.length ? own.find((h) => h.held_status === 'sealed') : holds[0];
    if (!refusing) return;
    const what = own.length ? `${type}/${id}` : `Encounter/${encounter}, the visit ${type}/${id} belongs to,`;
    throw new DisputeError(
      DisputeErrorCode.Sealed,
      `${what} is sealed under dispute case ${refusing.hold_case}: a sealed record cannot be changed by anyone until the case is unsealed (R-41)`,
    );
  }
}
