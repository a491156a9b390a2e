import type { DocumentType } from '../../policy/domain/document-types.js';

/** A clinical event a writing deadline runs from, as found in the record. */
export interface TriggerEvent {
  kind: 'admission' | 'operation' | 'rescue' | 'discharge' | 'death';
  at: Date;
  /** What shows the event: `Encounter/1` (admission, discharge), `Procedure/7`, `Patient/3`. */
  source: string;
}

/** A document of the encounter: its type and when it was first written. */
export interface WrittenDocument {
  ref: string;
  docType?: string;
  written: Date;
}

/** A document late or missing against its deadline. */
export interface OverdueItem {
  docType: string;
  event: TriggerEvent['kind'];
  eventAt: string;
  eventSource: string;
  due: string;
  deadlineHours: number;
  /** `missing`: not written and past due; `late`: written after the deadline. */
  state: 'missing' | 'late';
  /** The late document, and how many hours after its deadline it was written. */
  document?: string;
  hoursLate: number;
}

/**
 * The documents of one encounter that are late or missing: for each event and each
 * document type whose deadline runs from that kind of event, the first document of that type
 * written after the event must be written within the policy's hours. Types without a deadline
 * in the policy are not checked.
 */
const REPEATED = new Set<TriggerEvent['kind']>(['operation', 'rescue']);

export function overdue(events: readonly TriggerEvent[], documents: readonly WrittenDocument[], types: readonly DocumentType[], deadlines: Readonly<Record<string, number>>, now: Date): OverdueItem[] {
  const items: OverdueItem[] = [];
  for (const event of events) {
    for (const type of types) {
      const hours = deadlines[type.code];
      if (type.trigger !== event.kind || hours === undefined) continue;
      const due = new Date(event.at.getTime() + hours * 3_600_000);
      const first = documents
        // One admission, discharge or death per encounter: any document of the type answers it; each operation or rescue its own, written after it.
        .filter((d) => d.docType === type.code && (!REPEATED.has(event.kind) || d.written >= event.at))
        .sort((a, b) => a.written.getTime() - b.written.getTime())[0];
      const base = { docType: type.code, event: event.kind, eventAt: event.at.toISOString(), eventSource: event.source, due: due.toISOString(), deadlineHours: hours };
      if (!first) {
        if (now > due) items.push({ ...base, state: 'missing', hoursLate: round((now.getTime() - due.getTime()) / 3_600_000) });
      } else if (first.written > due) {
        items.push({ ...base, state: 'late', document: first.ref, hoursLate: round((first.written.getTime() - due.getTime()) / 3_600_000) });
      }
    }
  }
  // Earliest due first: what has waited longest leads the list.
  return items.sort((a, b) => (a.due < b.due ? -1 : a.due > b.due ? 1 : 0));
}

function round(hours: number): number {
  return Math.round(hours * 10) / 10;
}
