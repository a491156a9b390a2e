import { Injectable } from '@nestjs/common';
import type { Queryable } from '../database/chartwarden-database.js';
import { sqlOf, type UnitOfWork } from '../database/unit-of-work.js';
import type { RecordRef } from '../store/patient-record-index.port.js';

/** How a sealed case holds a write: its own inventory line, a sealed visit it belongs to, or (a Provenance) a sealed record it signs. */
export type HeldAs = 'self' | 'encounter' | 'target';

/** One sealed case's hold on a write. */
export interface Hold {
  /** The dispute case. */
  caseId: string;
  /** The inventory line that holds: the record itself, the visit, or the signed record. */
  type: string;
  id: string;
  /** The line's status: `sealed`, or `pending` (an unfinished record that may still be completed). */
  status: string;
  as: HeldAs;
}

/** What a write is about, as the store resolved it (`WriteScope`): the holds are looked up for these. */
export interface HoldQuestion {
  type: string;
  /** Absent for a create whose id is not assigned yet (it has no inventory line of its own). */
  id?: string;
  /** Every patient the incoming version names: a sealed visit holds the records of its patient, whichever of them it is. */
  patients: readonly string[];
  encounters: readonly string[];
  /** For a Provenance: the records it signs. */
  targets: readonly RecordRef[];
  /**
   * Of `encounters`, those the write's unit holds `FOR KEY SHARE` (`WriteScope.lockedEncounters`):
   * no seal of them can commit before the unit ends, so one found on no sealed case's inventory
   * is not asked about again in that unit (the entries of a Bundle charting one visit).
   */
  lockedEncounters?: readonly string[];
}

/**
 * The sealed inventory lines of these records, with their case and its patient: one index
 * lookup per record. The records come as one JSON parameter rather than arrays, so the
 * statement's plan does not depend on how many there are and PostgreSQL keeps one generic plan
 * for it (with arrays it plans every call anew, which costs more than running it).
 */
const SEALED_LINES = `
  SELECT d.id AS case_id, d.patient_id, i.resource_type, i.resource_id, i.status
    FROM jsonb_to_recordset($1::jsonb) AS r(type text, id text)
    JOIN dispute_item i ON i.resource_type = r.type AND i.resource_id = r.id
    JOIN dispute d ON d.id = i.dispute_id
   WHERE d.status = 'sealed'`;

/** How the kinds of hold are ordered: the record's own lines, then its visits, then the records it signs. */
const RANK: Record<HeldAs, number> = { self: 0, encounter: 1, target: 2 };

/**
 * The legal holds (R-41) on one write, over the disputes' own tables only (`dispute`,
 * `dispute_item`), in the write's unit of work: the record's own inventory lines in a sealed
 * case (any status), the sealed visits it belongs to when the case is the patient's of any
 * patient it names, as the SQL function matched any subject/patient reference (a record naming
 * none of them, filed under the visit, is neither sealed nor held), and for a Provenance the
 * sealed records it signs; own lines first, then visits, then signed records. What the SQL
 * function `chartwarden_holds` answered, less the store's part: the store resolves the
 * encounters and signed records and takes the locks (`FhirStore.lockForWrite`, decision 0008).
 */
@Injectable()
export class HoldsRepository {
  /** Per transaction, the visits it holds locked that no sealed case inventories (`HoldQuestion.lockedEncounters`). */
  private readonly unsealedVisits = new WeakMap<Queryable, Set<string>>();

  async on(unit: UnitOfWork, write: HoldQuestion): Promise<Hold[]> {
    const tx = sqlOf(unit);
    const known = this.unsealedVisits.get(tx);
    const self = write.id === undefined ? [] : [{ type: write.type, id: write.id }];
    const encounters = known ? write.encounters.filter((id) => !known.has(id)) : write.encounters;
    const refs = [...self, ...encounters.map((id) => ({ type: 'Encounter', id })), ...write.targets.map(({ type, id }) => ({ type, id }))];
    if (refs.length === 0) return [];
    const lines = await tx.query<SealedLine>(SEALED_LINES, [JSON.stringify(refs)], { prepare: true });
    this.remember(tx, write, encounters, lines);
    return holdsOf(write, lines);
  }

  /** The locked visits asked about that no sealed case has a line for, whatever its status. */
  private remember(tx: Queryable, write: HoldQuestion, asked: readonly string[], lines: readonly SealedLine[]): void {
    const locked = new Set(write.lockedEncounters ?? []);
    const lined = new Set(lines.filter((l) => l.resource_type === 'Encounter').map((l) => l.resource_id));
    const unsealed = asked.filter((id) => locked.has(id) && !lined.has(id));
    if (unsealed.length === 0) return;
    let known = this.unsealedVisits.get(tx);
    if (!known) this.unsealedVisits.set(tx, (known = new Set()));
    for (const id of unsealed) known.add(id);
  }
}

/** A sealed case's inventory line, as read. */
interface SealedLine {
  case_id: string;
  patient_id: string;
  resource_type: string;
  resource_id: string;
  status: string;
}

/** Which of the lines hold the write, and how (a line may hold it in more than one way), in the order the guard reads them. */
function holdsOf(write: HoldQuestion, lines: readonly SealedLine[]): Hold[] {
  const encounters = new Set(write.encounters);
  const patients = new Set(write.patients);
  const targets = new Set(write.targets.map((t) => `${t.type}/${t.id}`));
  const holds: Hold[] = [];
  const seen = new Set<string>();
  for (const line of lines) {
    // A record named twice (the record itself and one it signs) is one line, read once.
    const key = `${line.case_id}/${line.resource_type}/${line.resource_id}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const hold = (as: HeldAs): Hold => ({ caseId: line.case_id, type: line.resource_type, id: line.resource_id, status: line.status, as });
    if (line.resource_type === write.type && line.resource_id === write.id) holds.push(hold('self'));
    const sealed = line.status === 'sealed';
    if (sealed && line.resource_type === 'Encounter' && encounters.has(line.resource_id) && patients.has(line.patient_id)) holds.push(hold('encounter'));
    if (sealed && targets.has(`${line.resource_type}/${line.resource_id}`)) holds.push(hold('target'));
  }
  return holds.sort((a, b) => RANK[a.as] - RANK[b.as] || compare(a.type, b.type) || compare(a.id, b.id) || compare(a.caseId, b.caseId));
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
