import type { Bundle, BundleEntry, BundleLink, Resource } from '@medplum/fhirtypes';
import type { HistoryPage, SearchResult } from '../store/fhir-store.port.js';
import { TOTAL_TOKEN_PARAM } from '../store/search/search-request.js';

/** Paging state for links: what was asked, and where this page starts. */
export interface PageLinks {
  /** Absolute URL of the endpoint, without query (e.g. `https://host/fhir/Observation`). */
  url: string;
  /** The honoured parameters, without `_offset`/`_count`. */
  params: [string, string][];
  count: number;
  offset: number;
  total?: number;
  /** Whether this page was full (there may be more even when `total` is unknown). */
  full: boolean;
  /**
   * The verified or freshly minted `_total-token` carrying `total` to the other pages of the
   * search (`paging-total.ts`), never one as a request sent it: every link carries it.
   */
  totalToken?: string;
}

/** `self`, `first`, `previous`, `next` links for offset paging (R4 http.html#paging). */
export function pagingLinks(p: PageLinks): BundleLink[] {
  const href = (offset: number) => {
    const q = new URLSearchParams(p.params);
    q.set('_count', String(p.count));
    if (offset > 0) q.set('_offset', String(offset));
    if (p.totalToken !== undefined) q.set(TOTAL_TOKEN_PARAM, p.totalToken);
    return `${p.url}?${q.toString()}`;
  };
  const links: BundleLink[] = [{ relation: 'self', url: href(p.offset) }, { relation: 'first', url: href(0) }];
  if (p.offset > 0) links.push({ relation: 'previous', url: href(Math.max(0, p.offset - p.count)) });
  const more = p.total !== undefined ? p.offset + p.count < p.total : p.full;
  if (more && p.count > 0) links.push({ relation: 'next', url: href(p.offset + p.count) });
  return links;
}

/** `searchset` Bundle: matches then `_include`/`_revinclude` results, marked by `search.mode`. */
export function searchsetBundle(base: string, result: SearchResult, links: BundleLink[]): Bundle {
  const entry: BundleEntry[] = [
    ...result.matches.map((r) => ({ fullUrl: fullUrl(base, r), resource: r, search: { mode: 'match' as const } })),
    ...result.included.map((r) => ({ fullUrl: fullUrl(base, r), resource: r, search: { mode: 'include' as const } })),
  ];
  return { resourceType: 'Bundle', type: 'searchset', ...(result.total !== undefined ? { total: result.total } : {}), link: links, entry };
}

/** `history` Bundle, newest first, each entry with the request that made it. */
export function historyBundle(base: string, page: HistoryPage, links: BundleLink[], total: number | undefined): Bundle {
  return {
    resourceType: 'Bundle',
    type: 'history',
    ...(total !== undefined ? { total } : {}),
    link: links,
    entry: page.entries.map(({ resource, method }) => ({
      fullUrl: fullUrl(base, resource),
      resource,
      request: { method, url: method === 'POST' ? resource.resourceType : `${resource.resourceType}/${resource.id}` },
      response: {
        status: resource.meta?.versionId === '1' ? '201 Created' : '200 OK',
        etag: `W/"${resource.meta?.versionId}"`,
        lastModified: resource.meta?.lastUpdated,
      },
    })),
  };
}

export function fullUrl(base: string, r: Resource): string {
  return `${base}/${r.resourceType}/${r.id}`;
}
