import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { ApiClient } from '../api/client';
import { useApi } from '../api/ApiProvider';

/**
 * The disputes office's API (`/disputes`, src/disputes/*.controller.ts) as the console calls it.
 * Types mirror the server's `DisputeView`, `InventoryView` and `ConfirmationView`
 * (src/disputes/dto/dispute.view.ts). The console decides nothing: every step is sent as it
 * is, and the API's refusal is what the page shows.
 */

export type DisputeStatus = 'open' | 'sealed' | 'unsealed';
export const DISPUTE_STATUSES: readonly DisputeStatus[] = ['open', 'sealed', 'unsealed'];
export const RELATIONSHIPS = ['self', 'agent', 'spouse', 'parent', 'child', 'sibling', 'heir', 'other'] as const;
export const ID_DOCUMENT_TYPES = ['resident-id-card', 'passport', 'hk-macao-permit', 'taiwan-permit', 'household-register', 'other'] as const;

export type DisputeScope = { kind: 'whole-record' } | { kind: 'encounters'; encounters: string[] } | { kind: 'date-range'; from: string; to: string };

export interface PatientWitness {
  name: string;
  relationship: string;
  idDocument: { type: string; number: string };
  confirmed: true;
  signature?: { contentType: 'image/png'; sha256: string; size: number; url?: string };
}

export interface HospitalSide {
  id: string;
  practitioner: string;
  roles: string[];
  confirmed: true;
  confirmation?: string;
  confirmedAt?: string;
  officer?: string;
}

export interface CopyView {
  n: number;
  kind: 'seal' | 'supplement';
  createdAt: string;
  createdBy: string;
  witnesses: { hospital: HospitalSide; patient: PatientWitness | null; immediate?: string };
  inventorySha256: string;
  bundleSha256: string;
  pdfSha256: string;
  pages: number;
  pdf: string;
  json: string;
}

export type Unsealing =
  | { basis: 'both-sides'; hospital: HospitalSide; patient: PatientWitness }
  | { basis: 'resolved' | 'no-claim'; reason?: string; approvedBy: HospitalSide; officer: HospitalSide };

export interface DisputeView {
  id: string;
  patient: string;
  scope: DisputeScope;
  trigger: 'dispute' | 'public-incident';
  reason: string;
  team: string[];
  status: DisputeStatus;
  openedBy: string;
  openedAt: string;
  sealedAt?: string;
  sealedBy?: string;
  unsealedAt?: string;
  unsealing?: Unsealing;
  inventory: { sealed: number; pending: number };
  copies: CopyView[];
  unsealRecord?: { createdAt: string; createdBy: string; inventorySha256: string; pdfSha256: string; pages: number; pdf: string };
  /** While sealed: from when the hospital may unseal alone without a claim (R-43). */
  unilateralUnsealFrom?: string;
  /** After a supplement: the records it sealed. */
  supplemented?: string[];
}

export interface InventoryLine {
  type: string;
  id: string;
  version: number;
  status: 'sealed' | 'pending';
  sha256?: string;
  /** Sealed lines: the pages the record occupies on its sealed copy's PDF (counted at sealing). */
  pages?: number;
}

export interface InventoryView {
  dispute: string;
  patient: string;
  status: DisputeStatus;
  digest: string;
  lines: InventoryLine[];
  /** Display only (文书名称, 日期; completed since sealing), keyed `Type/id`; older servers send none. */
  described?: Record<string, { name: string; date?: string; end?: string; completedSince?: true }>;
}

export interface NewDispute {
  patient: string;
  scope: DisputeScope;
  trigger: 'dispute' | 'public-incident';
  reason: string;
  team?: string[];
}

/** What the hospital side's witness (or medical affairs approving) sends with their own token. */
export type Confirmation = { step: 'seal'; inventoryDigest: string } | { step: 'unseal'; basis?: 'both-sides' | 'resolved' | 'no-claim'; reason?: string };

export interface ConfirmationView {
  id: string;
  step: 'seal' | 'unseal';
  kind: 'hospital-witness' | 'unseal-approval';
  by: { id: string; practitioner: string; roles: string[] };
  confirmedAt: string;
  validUntil: string;
}

/** The path on this server of a URL the API gives (its views name absolute URLs from the server's base). */
export function pathOf(url: string): string {
  const u = new URL(url, window.location.origin);
  return `${u.pathname}${u.search}`;
}

const keys = {
  list: (status: string) => ['disputes', 'list', status] as const,
  one: (id: string) => ['disputes', 'case', id] as const,
  inventory: (id: string) => ['disputes', 'inventory', id] as const,
};

/** Cases, newest first (the API's order), of a status or all. */
export function useDisputes(status: DisputeStatus | 'all') {
  const api = useApi();
  return useQuery({ queryKey: keys.list(status), queryFn: () => api.get<DisputeView[]>(status === 'all' ? '/disputes' : `/disputes?status=${status}`) });
}

export function useDispute(id: string) {
  const api = useApi();
  return useQuery({ queryKey: keys.one(id), queryFn: () => api.get<DisputeView>(`/disputes/${encodeURIComponent(id)}`) });
}

export function useInventory(id: string) {
  const api = useApi();
  return useQuery({ queryKey: keys.inventory(id), queryFn: () => api.get<InventoryView>(`/disputes/${encodeURIComponent(id)}/inventory`) });
}

/** The officer's steps on a case; each answers the case as it now stands. */
export type DisputeStep =
  | { step: 'seal'; inventoryDigest: string; patientWitness: PatientWitnessInput }
  | { step: 'supplement' }
  | { step: 'unseal'; basis: 'both-sides' | 'resolved' | 'no-claim'; patientWitness?: PatientWitnessInput };

/** The patient side as the form sends it (the drawn signature as base64 PNG). */
export type PatientWitnessInput = Omit<PatientWitness, 'signature'> & { signature?: { contentType: 'image/png'; data: string } };

export function useDisputeStep(id: string) {
  const api = useApi();
  const client = useQueryClient();
  const path = `/disputes/${encodeURIComponent(id)}`;
  return useMutation({
    mutationFn: (s: DisputeStep): Promise<DisputeView> => {
      switch (s.step) {
        case 'seal':
          return api.post(`${path}/seal`, { inventoryDigest: s.inventoryDigest, patientWitness: s.patientWitness });
        case 'supplement':
          return api.post(`${path}/supplement`);
        case 'unseal':
          return api.post(`${path}/unseal`, s.patientWitness ? { basis: s.basis, patientWitness: s.patientWitness } : { basis: s.basis });
      }
    },
    onSuccess: (view) => client.setQueryData(keys.one(id), view),
    onSettled: async () => {
      await client.invalidateQueries({ queryKey: ['disputes'] });
    },
  });
}

/**
 * A confirmation sent with someone else's token (the witness who signed in at this screen): a
 * client of its own for this one request, so the token is used once and then forgotten.
 */
export function confirmAs(token: string, id: string, confirmation: Confirmation): Promise<ConfirmationView> {
  const client = new ApiClient({ token: () => token });
  return client.post<ConfirmationView>(`/disputes/${encodeURIComponent(id)}/confirmations`, confirmation);
}

/** The people a case names (opened, sealed, witnessed, approved, its team), for their names. */
export function peopleOf(c: DisputeView): string[] {
  const sides = c.copies.flatMap((k) => [k.createdBy, k.witnesses.hospital.id]);
  const u = c.unsealing;
  const unsealers = u ? (u.basis === 'both-sides' ? [u.hospital.id] : [u.approvedBy.id, u.officer.id]) : [];
  const team = c.team.map((p) => p.replace(/^Practitioner\//, ''));
  return [c.openedBy, ...(c.sealedBy ? [c.sealedBy] : []), ...sides, ...unsealers, ...team];
}
