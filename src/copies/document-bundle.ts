import { createHash, randomUUID } from 'node:crypto';
import { canonicalJson } from '../common/canonical-json.js';
import type { Bundle, BundleEntry, Composition, CompositionSection, Resource } from '@medplum/fhirtypes';

/** The extension on a Bundle entry carrying the SHA-256 of that version's canonical JSON. */
export const CONTENT_SHA256_EXTENSION = 'https://chartwarden.dev/fhir/StructureDefinition/content-sha256';

/** One released or sealed version and its hash (contentSha256 of the edit ledger: RFC 8785 canonical JSON). */
export interface ManifestEntry {
  resource: Resource;
  sha256: string;
  /** The part of the record it is copied as (R-31, e.g. `体温单 temperature-chart`): the manifest then lists it under that part too. */
  part?: string;
}

export interface DocumentBundleInput {
  /** What the copy is, e.g. 病历复印件 (certified copy) or 封存清单 (sealed inventory). */
  title: string;
  patient: string;
  /** Who made the copy (the record-room officer, the disputes officer). */
  author: string;
  date: Date;
  /** The request or case this copy belongs to, e.g. `CopyRequest/…`. */
  reference: string;
  baseUrl: string;
  entries: readonly ManifestEntry[];
  /** Records named but not included (unfinished: produced or sealed later, R-32/R-41). */
  pending?: readonly string[];
}

/**
 * A copy as an electronic document (R-33): a FHIR `document` Bundle whose Composition lists
 * every included version with its SHA-256, each entry carrying the same hash, so that the
 * copy can be checked against the store at any later time. The Bundle's own hash is taken
 * over its canonical JSON (`canonicalBundle`): the text stored and handed out is that JSON.
 */
export function documentBundle(input: DocumentBundleInput): Bundle {
  const url = (r: Resource) => `${input.baseUrl}/${r.resourceType}/${r.id}/_history/${r.meta?.versionId ?? '1'}`;
  const lines = input.entries.map((e) => `${e.resource.resourceType}/${e.resource.id} v${e.resource.meta?.versionId ?? '1'} SHA-256 ${e.sha256}`);
  const composition: Composition = {
    resourceType: 'Composition',
    id: randomUUID(),
    status: 'final',
    type: { text: input.title },
    subject: { reference: `Patient/${input.patient}` },
    date: input.date.toISOString(),
    author: [{ reference: input.author }],
    title: `${input.title} ${input.reference}`,
    section: [
      {
        title: 'Manifest',
        text: { status: 'generated', div: `<div xmlns="http://www.w3.org/1999/xhtml">${lines.map((l) => `<p>${escapeXml(l)}</p>`).join('')}</div>` },
        entry: input.entries.map((e) => ({ reference: url(e.resource) })),
        ...(input.entries.some((e) => e.part) ? { section: partSections(input.entries, url) } : {}),
      },
      ...(input.pending?.length
        ? [
            {
              title: 'Pending (not yet complete)',
              text: { status: 'generated' as const, div: `<div xmlns="http://www.w3.org/1999/xhtml">${input.pending.map((p) => `<p>${escapeXml(p)}</p>`).join('')}</div>` },
            },
          ]
        : []),
    ],
  };
  const entries: BundleEntry[] = input.entries.map((e) => ({
    fullUrl: url(e.resource),
    extension: [{ url: CONTENT_SHA256_EXTENSION, valueString: e.sha256 }],
    resource: e.resource,
  }));
  return {
    resourceType: 'Bundle',
    identifier: { system: 'urn:ietf:rfc:3986', value: `urn:uuid:${randomUUID()}` },
    type: 'document',
    timestamp: input.date.toISOString(),
    entry: [{ fullUrl: `urn:uuid:${composition.id}`, resource: composition }, ...entries],
  };
}

/** One sub-section per part, in the entries' order, each listing its versions with their hashes. */
function partSections(entries: readonly ManifestEntry[], url: (r: Resource) => string): CompositionSection[] {
  const parts = [...new Set(entries.map((e) => e.part ?? ''))];
  return parts.map((part) => {
    const mine = entries.filter((e) => (e.part ?? '') === part);
    const lines = mine.map((e) => `${e.resource.resourceType}/${e.resource.id} v${e.resource.meta?.versionId ?? '1'} SHA-256 ${e.sha256}`);
    return {
      title: part || 'Other',
      text: { status: 'generated', div: `<div xmlns="http://www.w3.org/1999/xhtml">${lines.map((l) => `<p>${escapeXml(l)}</p>`).join('')}</div>` },
      entry: mine.map((e) => ({ reference: url(e.resource) })),
    };
  });
}

/** The Bundle as stored and handed out, and its SHA-256. */
export function canonicalBundle(bundle: Bundle): { text: string; sha256: string } {
  const text = canonicalJson(bundle);
  return { text, sha256: createHash('sha256').update(text, 'utf8').digest('hex') };
}

function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
