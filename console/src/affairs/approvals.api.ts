import { useMutation, useQueries, useQuery, useQueryClient } from '@tanstack/react-query';
import { useApi } from '../api/ApiProvider';
import type { ApiClient } from '../api/client';
import { resourcesOf, type Bundle } from '../api/fhir';

/**
 * What waits for medical affairs, read from the four APIs that hold it, as the console calls
 * them: access grants and break-the-glass uses (`/access`, src/access/access.controller.ts),
 * amendments (`/governance/amendments`, src/governance/governance.controller.ts) and sealed
 * dispute cases (`/disputes`, src/disputes/disputes.controller.ts). Types mirror the server's views.
 */

/** A grant or a break-the-glass use: the server's `AccessGrant`. */
export interface AccessGrant {
  id: string;
  kind: 'grant' | 'break-glass';
  grantee: string;
  patientId: string;
  purpose: string;
  reason: string;
  status: 'requested' | 'approved' | 'refused' | 'active';
  requestedBy: string;
  requestedUntil: string;
  validFrom: string | null;
  validUntil: string | null;
  decidedBy: string | null;
  decidedAt: string | null;
  decisionNote: string | null;
  extensionUntil: string | null;
  extensionReason: string | null;
  reviewedBy: string | null;
  reviewedAt: string | null;
  reviewNote: string | null;
  uses: number;
  createdAt: string;
}

/** An amendment request: the server's `Amendment`. */
export interface Amendment {
  id: string;
  /** `Composition/<id>` or `DocumentReference/<id>`. */
  document: string;
  requestedBy: string;
  reason: string;
  status: 'requested' | 'approved' | 'refused' | 'used';
  requestedAt: string;
  decidedBy?: string;
  decidedAt?: string;
  decisionNote?: string;
  validUntil?: string;
}

/** A dispute case as `GET /disputes` shows it (the parts the inbox reads). */
export interface DisputeCase {
  id: string;
  patient: string;
  trigger: 'dispute' | 'public-incident';
  reason: string;
  status: 'open' | 'sealed' | 'unsealed';
  openedBy: string;
  openedAt: string;
  sealedAt?: string;
  sealedBy?: string;
  inventory: { sealed: number; pending: number };
}

export type UnsealBasis = 'resolved' | 'no-claim';

/** A confirmation as `POST /disputes/{id}/confirmations` answers it and `GET` lists it: usable by the officer until `validUntil`. */
export interface Confirmation {
  id: string;
  dispute: string;
  step: 'seal' | 'unseal';
  kind: 'hospital-witness' | 'unseal-approval';
  by: { id: string };
  basis?: UnsealBasis;
  reason?: string;
  confirmedAt: string;
  validUntil: string;
  /** Not sent by the server: the case's patient, added from the case the approval is for. */
  patient?: string;
}

/** A clinical document the amendment is about: its patient and title (read as the signed-in person). */
export interface DocumentSummary {
  patient?: string;
  title?: string;
}

export const keys = {
  grants: ['affairs', 'grants'] as const,
  amendments: ['affairs', 'amendments'] as const,
  breakGlass: ['affairs', 'break-glass'] as const,
  sealed: ['affairs', 'sealed'] as const,
};

export function useGrants() {
  const api = useApi();
  return useQuery({ queryKey: keys.grants, queryFn: () => api.get<AccessGrant[]>('/access/grants') });
}

export function useAmendments() {
  const api = useApi();
  return useQuery({ queryKey: keys.amendments, queryFn: () => api.get<Amendment[]>('/governance/amendments?status=requested') });
}

export function useBreakGlass() {
  const api = useApi();
  return useQuery({ queryKey: keys.breakGlass, queryFn: () => api.get<AccessGrant[]>('/access/break-glass?unreviewed=true') });
}

export function useSealedCases() {
  const api = useApi();
  return useQuery({ queryKey: keys.sealed, queryFn: () => api.get<DisputeCase[]>('/disputes?status=sealed') });
}

/**
 * The unseal approvals still usable by the disputes office (R-43), given by anyone in medical
 * affairs: `GET /disputes/{id}/confirmations` for each sealed case (the server lists only what is
 * unused and within the policy's minutes), each with its case's patient. Kept under the sealed
 * cases' key, so that a decision refreshes them with the list.
 */
export function useUnsealApprovals(cases: readonly DisputeCase[] | undefined): Confirmation[] {
  const api = useApi();
  const sealed = (cases ?? []).filter((c) => c.status === 'sealed');
  return useQueries({
    queries: sealed.map((c) => ({
      queryKey: [...keys.sealed, 'confirmations', c.id],
      queryFn: () => api.get<Confirmation[]>(`/disputes/${encodeURIComponent(c.id)}/confirmations`),
    })),
    combine: (results) =>
      results.flatMap((r, i) => (r.data ?? []).filter((k) => k.kind === 'unseal-approval' && Date.parse(k.validUntil) > Date.now()).map((k) => ({ ...k, patient: sealed[i]?.patient }))),
  });
}

/** `Composition/a`, `DocumentReference/b` → their patients and titles, one `_id` search per type (only the elements needed). */
async function readDocuments(api: ApiClient, refs: string[]): Promise<Map<string, DocumentSummary>> {
  const found = new Map<string, DocumentSummary>();
  const byType = new Map<string, string[]>();
  for (const ref of refs) {
    const [type, id] = ref.split('/');
    if (!/^[A-Z][A-Za-z]+$/.test(type ?? '') || !/^[A-Za-z0-9\-.]{1,64}$/.test(id ?? '')) continue;
    byType.set(type, [...(byType.get(type) ?? []), id]);
  }
  type Doc = { resourceType: string; id: string; subject?: { reference?: string }; title?: string; description?: string };
  for (const [type, ids] of byType) {
    for (let i = 0; i < ids.length; i += 50) {
      const chunk = ids.slice(i, i + 50).map(encodeURIComponent).join(',');
      const bundle = await api.fhir<Bundle<Doc>>(`${type}?_id=${chunk}&_count=50&_elements=subject,title,description`);
      for (const doc of resourcesOf(bundle, type)) {
        const patient = doc.subject?.reference?.replace(/^Patient\//, '');
        found.set(`${type}/${doc.id}`, { ...(patient ? { patient } : {}), title: doc.title ?? doc.description });
      }
    }
  }
  return found;
}

/** The documents amendments are about (the amendment view names the document, not its patient). */
export function useDocuments(refs: readonly string[]) {
  const api = useApi();
  const unique = [...new Set(refs)].sort();
  return useQuery({ queryKey: ['affairs', 'documents', unique], enabled: unique.length > 0, queryFn: () => readDocuments(api, unique), staleTime: 60_000 });
}

/** One decision medical affairs takes; each is sent as it is, and the API decides. */
export type Decision =
  | { kind: 'grant'; id: string; approve: boolean; note?: string }
  | { kind: 'amendment'; id: string; approve: boolean; note?: string }
  | { kind: 'break-glass'; id: string; note?: string }
  | { kind: 'unseal'; id: string; basis: UnsealBasis; reason: string };

const path = (id: string) => encodeURIComponent(id);

export function useDecision() {
  const api = useApi();
  const client = useQueryClient();
  return useMutation({
    mutationFn: async (d: Decision): Promise<unknown> => {
      const note = 'note' in d && d.note ? { note: d.note } : {};
      switch (d.kind) {
        case 'grant':
          return api.post<AccessGrant>(`/access/grants/${path(d.id)}/${d.approve ? 'approve' : 'refuse'}`, note);
        case 'amendment':
          // A refusal's note is sent as typed (even empty): the server says when one is missing.
          return api.post<Amendment>(`/governance/amendments/${path(d.id)}/${d.approve ? 'approve' : 'refuse'}`, d.approve ? note : { note: d.note ?? '' });
        case 'break-glass':
          return api.post<AccessGrant>(`/access/break-glass/${path(d.id)}/review`, note);
        case 'unseal':
          return api.post<Confirmation>(`/disputes/${path(d.id)}/confirmations`, { step: 'unseal', basis: d.basis, reason: d.reason });
      }
    },
    onSettled: async (_data, _error, d) => {
      const key = d.kind === 'grant' ? keys.grants : d.kind === 'amendment' ? keys.amendments : d.kind === 'break-glass' ? keys.breakGlass : keys.sealed;
      await client.invalidateQueries({ queryKey: key });
    },
  });
}
