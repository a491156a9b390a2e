import { Logger } from '@nestjs/common';
import type { RecordRef } from './patient-record-index.port.js';

/**
 * Why the remote store raised an alarm (decision 0017): each means the upstream FHIR server
 * holds something ChartWarden did not write or confirm.
 * - `changed-upstream`: a record has a version written past ChartWarden (adopted, then judged);
 * - `deleted-upstream`: a record ChartWarden holds is gone upstream (ChartWarden never deletes, R-17);
 * - `dropped`: a result the local index had chosen failed the policy once its upstream version was
 *   judged, and was left out of the answer (the tripwire).
 */
export type StoreAlarmKind = 'changed-upstream' | 'deleted-upstream' | 'dropped';

export interface StoreAlarm {
  kind: StoreAlarmKind;
  record: RecordRef;
  detail: string;
}

const logger = new Logger('RemoteStore');

/**
 * Alarms the store raises, for whoever watches them (`/metrics` counts them as
 * `chartwarden_tripwire_alarms_total`); each is also logged. Never carries record content.
 */
export class StoreAlarms {
  private readonly watchers: ((alarm: StoreAlarm) => void)[] = [];

  observe(watcher: (alarm: StoreAlarm) => void): void {
    this.watchers.push(watcher);
  }

  raise(alarm: StoreAlarm): void {
    logger.warn(`${alarm.kind}: ${alarm.record.type}/${alarm.record.id}: ${alarm.detail}`);
    for (const watch of this.watchers) watch(alarm);
  }
}
