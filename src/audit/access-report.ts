import { ChartWardenError, type ErrorAnswer, type ErrorAnswers } from '../common/chartwarden.error.js';

/** One row of the "who looked at my record" report: one actor, one day. */
export interface AccessReportRow {
  actor: string;
  practitioner?: string;
  roles: string[];
  department?: string;
  /** Calendar day in the hospital's zone. */
  day: string;
  accesses: number;
  reads: number;
  searches: number;
  writes: number;
  refused: number;
  /** Disclosures that day: prints, copies produced or delivered, exports. */
  disclosures: number;
  /** What they handed out: each version `Type/id/_history/v`, once, sorted. */
  disclosed: string[];
  /** The purposes of use they gave that day (v3 ActReason codes, e.g. `TREAT`, `BTG`), once each, sorted. */
  purposes: string[];
  /** Accesses that day made by breaking the glass (R-04: purpose `BTG`), allowed or not. */
  breakGlass: number;
  first: string;
  last: string;
}

/** "Who looked at my record": accesses to one patient's records, per actor and day. */
export interface AccessReport {
  patient: string;
  /** The 病案号 the patient was looked up by (`recordNumber=`), when they were. */
  recordNumber?: string;
  from?: string;
  to?: string;
  rows: AccessReportRow[];
}

const CSV_COLUMNS = ['day', 'actor', 'practitioner', 'roles', 'department', 'accesses', 'reads', 'searches', 'writes', 'refused', 'first', 'last'] as const;

/** RFC 4180 CSV, one row per actor and day, with a UTF-8 BOM so spreadsheet software reads Chinese names correctly. */
export function toCsv(report: AccessReport): string {
  const cell = (v: unknown) => {
    const s = Array.isArray(v) ? v.join(' ') : v === undefined ? '' : String(v);
    return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  const lines = [CSV_COLUMNS.join(','), ...report.rows.map((r) => CSV_COLUMNS.map((c) => cell(r[c])).join(','))];
  return '\uFEFF' + lines.join('\r\n') + '\r\n';
}

/** The file name a CSV report is offered under. */
export function csvFileName(report: AccessReport): string {
  return `access-report-${report.patient.replace('/', '-')}.csv`;
}

/** Why a report asked for by 病案号 (`recordNumber=`) names no one patient. */
export enum AccessReportErrorCode {
  /** No patient has that 病案号 (an ID-card or insurance number is no 病案号, and finds nobody). */
  UnknownRecordNumber = 'audit.record-number-unknown',
  /** More than one patient has that 病案号: the report is asked for by the patient's id instead. */
  AmbiguousRecordNumber = 'audit.record-number-ambiguous',
}

const ANSWERS: ErrorAnswers<AccessReportErrorCode> = {
  [AccessReportErrorCode.UnknownRecordNumber]: { status: 404, issue: 'not-found' },
  [AccessReportErrorCode.AmbiguousRecordNumber]: { status: 409, issue: 'multiple-matches' },
};

/** Thrown by the access report when its 病案号 names no patient, or several. */
export class AccessReportError extends ChartWardenError<AccessReportErrorCode> {
  constructor(code: AccessReportErrorCode, message: string) {
    super(code, message, ['recordNumber']);
  }

  override get answer(): ErrorAnswer {
    return ANSWERS[this.code];
  }
}
