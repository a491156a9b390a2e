import { useInfiniteQuery, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useApi } from '../api/ApiProvider';
import { reportQuery, type ReportSubject } from './report-query';
import { auditSearchQuery, type AuditBundle, type AuditCriteria, type AuditEvent } from './trail';

export * from './report-query';
export * from './trail';

/**
 * The auditors' API as the console calls it: the access report (`/audit/access-report`,
 * src/audit/audit.controller.ts), the trail as FHIR AuditEvents (`/fhir/AuditEvent`, IHE BALP)
 * and the integrity runs (`/audit/integrity`, src/audit/integrity.controller.ts). Types mirror
 * the server's `AccessReport` and `IntegrityRunView`.
 */

export interface AccessReportRow {
  actor: string;
  practitioner?: string;
  roles: string[];
  department?: string;
  day: string;
  accesses: number;
  reads: number;
  searches: number;
  writes: number;
  refused: number;
  disclosures: number;
  disclosed: string[];
  purposes?: string[];
  breakGlass?: number;
  first: string;
  last: string;
}

export interface AccessReport {
  /** `Patient/<id>`: the patient the report is about (found by 病案号 when it was asked for by one). */
  patient: string;
  /** The 病案号 the report was asked for by (absent from a report asked for by id). */
  recordNumber?: string;
  from?: string;
  to?: string;
  rows: AccessReportRow[];
}

export function useAccessReport(subject: ReportSubject, from?: string, to?: string) {
  const api = useApi();
  const key = 'patient' in subject ? subject.patient : subject.recordNumber;
  return useQuery({
    queryKey: ['access-report', 'patient' in subject ? 'patient' : 'recordNumber', key, from, to],
    enabled: Boolean(key),
    queryFn: () => api.get<AccessReport>(reportQuery(subject, from, to)),
  });
}

/** The report as the API's CSV, read with the token (the bytes as sent, BOM included), by the patient's id. */
export function useReportCsv() {
  const api = useApi();
  return useMutation({ mutationFn: (p: { patient: string; from?: string; to?: string }) => api.blob(reportQuery({ patient: p.patient }, p.from, p.to, true)) });
}

/* ---- The trail as FHIR AuditEvents (types and readers: trail.ts) ---- */

/** The path of a Bundle link (the server writes absolute URLs): `/fhir/AuditEvent?…`. */
function pathOf(url: string): string {
  const u = new URL(url, window.location.origin);
  return `${u.pathname}${u.search}`;
}

/** Pages of a trail search, following each Bundle's `next` link. */
export function useAuditSearch(criteria: AuditCriteria | undefined) {
  const api = useApi();
  return useInfiniteQuery({
    queryKey: ['audit-search', criteria],
    enabled: criteria !== undefined,
    initialPageParam: `/fhir/AuditEvent?${auditSearchQuery(criteria ?? {})}`,
    queryFn: ({ pageParam }) => api.get<AuditBundle>(pageParam, 'application/fhir+json'),
    getNextPageParam: (last) => {
      const next = last.link?.find((l) => l.relation === 'next')?.url;
      return next ? pathOf(next) : undefined;
    },
  });
}

export function useAuditEvent(id: string) {
  const api = useApi();
  return useQuery({ queryKey: ['audit-event', id], queryFn: () => api.fhir<AuditEvent>(`AuditEvent/${encodeURIComponent(id)}`) });
}

/* ---- Integrity runs ---- */

export type IntegrityKind = 'audit' | 'ledger';
export const INTEGRITY_KINDS: readonly IntegrityKind[] = ['audit', 'ledger'];
export type RunStatus = 'running' | 'abandoned' | 'intact' | 'broken' | 'failed';

export interface IntegrityRun {
  id: string;
  kind: IntegrityKind;
  status: RunStatus;
  scope: string;
  startedBy: { via: 'cli' | 'api'; id: string; practitioner?: string; requestId?: string };
  startedAt: string;
  finishedAt?: string;
  durationMs?: number;
  checked?: { chains?: number; entries?: number; documents?: number; versions?: number };
  breaks?: number;
  firstBreak?: { problem: string; detail: string };
  failure?: string;
}

export interface IntegrityKindState {
  inProgress: boolean;
  running: IntegrityRun | null;
  lastRun: IntegrityRun | null;
  lastIntactRun: IntegrityRun | null;
}

export type IntegrityState = Record<IntegrityKind, IntegrityKindState>;

export function useIntegrity() {
  const api = useApi();
  return useQuery({ queryKey: ['integrity'], queryFn: () => api.get<IntegrityState>('/audit/integrity') });
}

/** Starts a run (202 with the run; 409 `integrity.running` when one of its kind is in progress). */
export function useStartRun() {
  const api = useApi();
  const client = useQueryClient();
  return useMutation({
    mutationFn: (kind: IntegrityKind) => api.post<IntegrityRun>('/audit/integrity/runs', { kind }),
    onSettled: () => client.invalidateQueries({ queryKey: ['integrity'] }),
  });
}

/** One run, polled every half second while it runs; the state is read again once it has finished. */
export function useRun(id: string | undefined) {
  const api = useApi();
  const client = useQueryClient();
  return useQuery({
    queryKey: ['integrity-run', id],
    enabled: Boolean(id),
    queryFn: async () => {
      const run = await api.get<IntegrityRun>(`/audit/integrity/runs/${encodeURIComponent(id ?? '')}`);
      if (run.status !== 'running') await client.invalidateQueries({ queryKey: ['integrity'] });
      return run;
    },
    refetchInterval: (query) => (query.state.data?.status === 'running' || !query.state.data ? 500 : false),
  });
}
