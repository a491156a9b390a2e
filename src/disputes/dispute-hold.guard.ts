import { Injectable } from '@nestjs/common';
import { ChartWardenDatabase, type Queryable } from '../database/chartwarden-database.js';
import type { FhirContext } from '../fhir/fhir-request.js';
import { WriteJournal, type JournaledWrite } from '../fhir/write-journal.port.js';
import { encounterOf } from '../governance/archive.service.js';
import { DisputeError, DisputeErrorCode } from './disputes.errors.js';

/** Sealed cases holding the resource itself, or its encounter (a new or moved record for a sealed visit). */
const HOLDS_SQL = `SELECT d.id, i.resource_type, i.resource_id, i.status FROM dispute_item i JOIN dispute d ON d.id = i.dispute_id
  WHERE d.status = 'sealed'
    AND ((i.resource_type = $1 AND i.resource_id = $2) OR (i.resource_type = 'Encounter' AND i.resource_id = $3 AND i.status = 'sealed'))`;

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
    // A new record waits for a seal of its encounter in progress (and is then refused). An
    // update needs no such lock: sealing waits for the updated row itself.
    if (write.created && encounter) await q.query(`SELECT 1 FROM fhir_resource WHERE resource_type = 'Encounter' AND id = $1 FOR KEY SHARE`, [encounter]);
    const holds = await q.query<{ id: string; resource_type: string; resource_id: string; status: string }>(HOLDS_SQL, [type, id, encounter ?? null]);
    if (holds.length === 0) return;
    const own = holds.filter((h) => h.resource_type === type && h.resource_id === id);
    // Its own line decides: sealed refuses; pending lets the record be completed.
    const refusing = own.length ? own.find((h) => h.status === 'sealed') : holds[0];
    if (!refusing) return;
    const what = own.length ? `${type}/${id}` : `Encounter/${encounter}, the visit ${type}/${id} belongs to,`;
    throw new DisputeError(
      DisputeErrorCode.Sealed,
      `${what} is sealed under dispute case ${refusing.id}: a sealed record cannot be changed by anyone until the case is unsealed (R-41)`,
    );
  }
}
