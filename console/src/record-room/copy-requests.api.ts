import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import type { ApiClient } from '../api/client';
import { useApi } from '../api/ApiProvider';

/**
 * The record room's API (`/copy-requests`, src/release/copy-requests.controller.ts) as the
 * console calls it. Types mirror the server's `CopyRequestView` (src/release/dto/copy-request.view.ts).
 */

export type CopyRequestStatus = 'received' | 'verified' | 'approved' | 'refused' | 'produced' | 'partially-delivered' | 'delivered' | 'closed';
export const COPY_REQUEST_STATUSES: readonly CopyRequestStatus[] = ['received', 'verified', 'approved', 'produced', 'partially-delivered', 'delivered', 'refused', 'closed'];
/** Statuses in which a request still waits for the record room. */
export const OPEN_STATUSES: readonly CopyRequestStatus[] = ['received', 'verified', 'approved', 'produced', 'partially-delivered'];

export interface LeftOut {
  ref: string;
  documentType?: string;
  reason: string;
}

export interface ProductionView {
  n: number;
  createdAt: string;
  createdBy: string;
  manifest: { type: string; id: string; version: number; sha256: string; documentType: string }[];
  pending: LeftOut[];
  excluded: LeftOut[];
  bundleSha256: string;
  pdfSha256: string;
  pages: number;
  pdf: string;
  json: string;
}

export interface CopyEvent {
  at: string;
  by: string;
  step: string;
  reason?: string;
  [detail: string]: unknown;
}

export interface CopyRequestView {
  id: string;
  patient: string;
  requesterType: string;
  requester: { name: string; idNumber: string; organization?: string; contact?: string };
  purpose: string;
  scope: { all?: boolean; documentTypes?: string[]; encounters?: string[] };
  status: CopyRequestStatus;
  receivedBy: string;
  receivedAt: string;
  closedAt?: string;
  checklist: { required: string[]; presented: string[]; missing: string[] };
  evidence: { id: string; proves: string; filename?: string; contentType: string; size: number; sha256: string; uploadedAt: string }[];
  productions: ProductionView[];
  events: CopyEvent[];
}

export interface NewCopyRequest {
  patient: string;
  requesterType: string;
  requester: { name: string; idNumber: string; organization?: string; contact?: string };
  purpose: string;
  scope: { all?: boolean; encounters?: string[] };
}

export interface Delivery {
  recipient: { name: string; idNumber: string };
  identityChecked: boolean;
  requesterChecked: boolean;
  method: 'in-person' | 'mail' | 'electronic';
}

/** The path of a produced copy's PDF on this server (the view's `pdf` is absolute, from the server's base). */
export function copyPdfPath(production: ProductionView): string {
  const url = new URL(production.pdf, window.location.origin);
  return url.pathname;
}

/** Everyone a request names: who received it, took its steps, produced its copies (their names are read once). */
export function peopleOf(request: CopyRequestView): string[] {
  return [request.receivedBy, ...request.events.map((e) => e.by), ...request.productions.map((p) => p.createdBy)];
}

/** What still waits after the latest production: the parts not yet complete. */
export function pendingParts(request: CopyRequestView): LeftOut[] {
  return request.productions.at(-1)?.pending ?? [];
}

const keys = {
  all: ['copy-requests'] as const,
  one: (id: string) => ['copy-requests', id] as const,
};

/** The queue, oldest first. */
export function useCopyRequests() {
  const api = useApi();
  return useQuery({ queryKey: keys.all, queryFn: () => api.get<CopyRequestView[]>('/copy-requests') });
}

export function useCopyRequest(id: string) {
  const api = useApi();
  return useQuery({ queryKey: keys.one(id), queryFn: () => api.get<CopyRequestView>(`/copy-requests/${encodeURIComponent(id)}`) });
}

/** Uploads one presented document. */
export function uploadEvidence(api: ApiClient, id: string, proves: string, file: File): Promise<CopyRequestView> {
  const query = new URLSearchParams({ proves, filename: file.name });
  return api.upload<CopyRequestView>(`/copy-requests/${encodeURIComponent(id)}/evidence?${query}`, file);
}

/** The steps of a request; each answers the request as it now stands, which replaces the cached one. */
export type CopyStep =
  | { step: 'verify'; identityChecked: boolean }
  | { step: 'approve'; reason?: string }
  | { step: 'refuse'; reason: string }
  | { step: 'produce' }
  | { step: 'deliver'; delivery: Delivery }
  | { step: 'close'; reason: string }
  | { step: 'evidence'; proves: string; file: File };

export function useCopyStep(id: string) {
  const api = useApi();
  const client = useQueryClient();
  const path = `/copy-requests/${encodeURIComponent(id)}`;
  return useMutation({
    mutationFn: async (s: CopyStep): Promise<unknown> => {
      switch (s.step) {
        case 'verify':
          return api.post(`${path}/verify`, { identityChecked: s.identityChecked });
        case 'approve':
          return api.post(`${path}/approve`, s.reason ? { reason: s.reason } : {});
        case 'refuse':
          return api.post(`${path}/refuse`, { reason: s.reason });
        case 'produce':
          return api.post(`${path}/produce`);
        case 'deliver':
          return api.post(`${path}/deliver`, s.delivery);
        case 'close':
          return api.post(`${path}/close`, { reason: s.reason });
        case 'evidence':
          return uploadEvidence(api, id, s.proves, s.file);
      }
    },
    onSettled: async () => {
      await client.invalidateQueries({ queryKey: keys.all });
    },
  });
}
