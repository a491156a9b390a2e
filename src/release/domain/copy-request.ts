import type { ChecklistItem, RequesterType } from '../../policy/domain/copy-checklists.js';

/** What of a checklist the presented evidence does not cover, each item named as it must be presented. */
export function missingEvidence(checklist: readonly ChecklistItem[], presented: Iterable<string>): string[] {
  const have = new Set(presented);
  return checklist.filter((item) => (typeof item === 'string' ? !have.has(item) : !item.some((k) => have.has(k)))).map((item) => (typeof item === 'string' ? item : item.join(' or ')));
}

/** The requester as identified at the desk. */
export interface Requester {
  name: string;
  /** The ID document's number (resident ID card, passport, officer's card). */
  idNumber: string;
  /** For institutions: the police station, court, insurer… */
  organization?: string;
  contact?: string;
}

/** What the requester asks for: some document types and/or encounters, or everything copyable. */
export interface CopyScope {
  documentTypes?: string[];
  encounters?: string[];
  all?: boolean;
}

/** Where a request stands: received, its evidence checked, decided, produced, delivered (in part while documents are pending), closed. */
export const COPY_REQUEST_STATUSES = ['received', 'verified', 'approved', 'refused', 'produced', 'partially-delivered', 'delivered', 'closed'] as const;
export type CopyRequestStatus = (typeof COPY_REQUEST_STATUSES)[number];

/** One step of a request's life, kept in order on the request. */
export interface CopyEvent {
  at: string;
  by: string;
  step: 'received' | 'evidence' | 'verified' | 'approved' | 'refused' | 'produced' | 'delivered' | 'closed';
  [detail: string]: unknown;
}

/** A copy request as the record room keeps it. */
export interface CopyRequestRecord {
  id: string;
  patient: string;
  requesterType: RequesterType;
  requester: Requester;
  purpose: string;
  scope: CopyScope;
  status: CopyRequestStatus;
  receivedBy: string;
  receivedAt: Date;
  closedAt: Date | null;
  events: CopyEvent[];
}

/** A request as received at the desk: who asks, as whom, for which patient, why and for what. */
export interface CopyRequestInput {
  patient: string;
  requesterType: RequesterType;
  requester: Requester;
  purpose: string;
  scope: CopyScope;
}

/** The person receiving the copy is the requester (or their named colleague for an institution): same ID number. */
export function sameIdentity(requester: Requester, recipient: { name?: unknown; idNumber?: unknown }): boolean {
  const norm = (s: unknown) => (typeof s === 'string' ? s.replace(/\s+/g, '').toUpperCase() : '');
  return norm(recipient.idNumber) !== '' && norm(recipient.idNumber) === norm(requester.idNumber);
}

/**
 * Evidence files ChartWarden keeps: PDF, JPEG or PNG, recognised by their bytes (never by the
 * declared type alone) — the signature at the start and the end marker (at the end for PNG,
 * anywhere after the start for PDF and JPEG, which real files carry trailers after), so that
 * a file merely dressed up with a few leading bytes is refused.
 */
export function sniffEvidenceType(bytes: Buffer): 'application/pdf' | 'image/jpeg' | 'image/png' | undefined {
  const tail = trimTrailing(bytes);
  if (bytes.subarray(0, 5).toString('latin1') === '%PDF-' && bytes.includes('%%EOF', 5, 'latin1')) return 'application/pdf';
  // Phones append data after a JPEG's end marker (maker trailers, motion photos): the marker is looked for, not required last.
  if (bytes.length >= 4 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff && bytes.includes(JPEG_EOI, 3)) return 'image/jpeg';
  if (bytes.subarray(0, 8).equals(PNG_SIGNATURE) && tail.subarray(-12).equals(PNG_IEND)) return 'image/png';
  return undefined;
}

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
/** The IEND chunk every PNG ends with: length 0, type, CRC. */
const PNG_IEND = Buffer.from([0, 0, 0, 0, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82]);
const JPEG_EOI = Buffer.from([0xff, 0xd9]);

/** Scanners and mailers pad files with line ends or zero bytes after the end marker. */
function trimTrailing(bytes: Buffer): Buffer {
  let end = bytes.length;
  while (end > 0 && (bytes[end - 1] === 0x00 || bytes[end - 1] === 0x0a || bytes[end - 1] === 0x0d || bytes[end - 1] === 0x20)) end--;
  return bytes.subarray(0, end);
}
