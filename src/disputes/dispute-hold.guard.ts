import { Injectable } from '@nestjs/common';
import type { UnitOfWork } from '../database/unit-of-work.js';
import type { FhirContext } from '../fhir/fhir-request.js';
import { WriteGuard, type WriteAttempt } from '../fhir/write-chain.port.js';
import { DisputeError, DisputeErrorCode } from './disputes.errors.js';
import { HoldsRepository, type Hold } from './holds.repository.js';

/**
 * The legal hold on every write (R-41), first of the write guards: a version of a sealed record,
 * a new or moved record for a sealed visit of its patient, or a Provenance signing a sealed
 * record is refused with 423 naming the case, before anything is written. A pending
 * (unfinished) record may still be completed; a supplement seals it. The visits and signed
 * records are the ones the store resolved for the incoming version (`WriteScope`), so every
 * reference form counts (relative, absolute, versioned, every `context.encounter`).
 *
 * No write commits after a seal commits (decision 0008): sealing locks the patient, its
 * encounters and every record it inventories `FOR UPDATE`; before this guard runs, the store
 * has locked the record's current row `FOR UPDATE` (an update) or its encounters, and for a
 * Provenance the records it signs, `FOR KEY SHARE` (a create), each in a statement of its own
 * (`lockForWrite`). Whichever comes second waits for the first to commit, and this check, a
 * later statement, then sees the seal. Not serialized: an update moving a record into a visit
 * while it is being sealed (locking the encounter on updates would deadlock with the seal); it
 * lands inventoried, or held by its sealed visit and added by the next supplement.
 */
@Injectable()
export class DisputeHoldGuard extends WriteGuard {
  constructor(private readonly holds: HoldsRepository) {
    super();
  }

  async check(_ctx: FhirContext, attempt: WriteAttempt, unit: UnitOfWork): Promise<void> {
    const { resource, scope } = attempt;
    // An update that changes nothing adds no version: nothing to hold.
    if (scope.unchanged) return;
    // A new record of no visit that signs nothing has no line of its own and no sealed visit: nothing can hold it.
    if (attempt.creating && scope.encounters.length === 0 && scope.targets.length === 0) return;
    const holds = await this.holds.on(unit, {
      type: resource.resourceType,
      // An id ChartWarden minted for this create is on no inventory line.
      ...(attempt.minted ? {} : { id: resource.id }),
      patients: scope.patients,
      encounters: scope.encounters,
      targets: scope.targets,
      lockedEncounters: scope.lockedEncounters ?? [],
    });
    if (holds.length === 0) return;
    const own = holds.filter((h) => h.as === 'self');
    // Its own line decides: sealed refuses; pending lets the record be completed (R-41).
    const refusing = own.length ? own.find((h) => h.status === 'sealed') : holds[0];
    if (!refusing) return;
    throw new DisputeError(
      DisputeErrorCode.Sealed,
      `${held(refusing, resource.resourceType, resource.id)} is sealed under dispute case ${refusing.caseId}: a sealed record cannot be changed by anyone until the case is unsealed (R-41)`,
    );
  }
}

/** What the hold is on, in words: the record, the visit it belongs to, or the record a signature signs. */
function held(hold: Hold, type: string, id: string | undefined): string {
  const record = id === undefined ? `this new ${type}` : `${type}/${id}`;
  if (hold.as === 'self') return record;
  if (hold.as === 'encounter') return `Encounter/${hold.id}, the visit ${record} belongs to,`;
  return `${hold.type}/${hold.id}, which ${id === undefined ? 'this new Provenance' : `Provenance/${id}`} signs,`;
}
