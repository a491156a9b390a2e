import type { Resource } from '@medplum/fhirtypes';

/**
 * Copy-paste detection by winnowing (Schleimer, Wilkerson, Aiken 2003): of the hashes
 * of every k-character gram, each window of w consecutive grams keeps its minimum. Any passage
 * of at least `minChars` = w + k − 1 characters shared by two texts yields at least one shared
 * fingerprint, so an index of fingerprints finds every candidate without scanning; a candidate
 * is then confirmed by comparing the texts themselves (`sharedPassage`).
 */
export interface Fingerprints {
  hashes: number[];
  text: string;
}

/** The free text of a clinical document: Composition narrative (sections), DocumentReference plain-text attachments and description. */
export function documentText(resource: Resource): string {
  const parts: string[] = [];
  const r = resource as {
    text?: { div?: string };
    section?: Section[];
    description?: string;
    content?: { attachment?: { contentType?: string; data?: string } }[];
  };
  if (r.text?.div) parts.push(stripHtml(r.text.div));
  const walk = (sections: Section[] | undefined) => {
    for (const s of sections ?? []) {
      if (s.text?.div) parts.push(stripHtml(s.text.div));
      walk(s.section);
    }
  };
  walk(r.section);
  if (r.description) parts.push(r.description);
  for (const c of r.content ?? []) {
    const a = c.attachment;
    if (a?.data && (a.contentType ?? '').startsWith('text/plain')) parts.push(Buffer.from(a.data, 'base64').toString('utf8'));
  }
  return normalize(parts.join(' '));
}

interface Section {
  text?: { div?: string };
  section?: Section[];
}

/** Whitespace collapsed: a passage copied with other line breaks is the same passage. */
export function normalize(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

function stripHtml(html: string): string {
  return html
    .replace(/<[^>]*>/g, ' ')
    .replace(/&nbsp;/g, ' ')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&amp;/g, '&');
}

/** Winnowing fingerprints (distinct) guaranteeing detection of shared passages of `minChars` or more. */
export function fingerprints(text: string, minChars: number): number[] {
  // k-grams of 40 % of the threshold (20 characters for 50): long enough to be rare across
  // patients' notes, short enough that windows are wide and few fingerprints are kept (~2/(w+1)).
  const k = Math.max(5, Math.floor(minChars * 0.4));
  const w = minChars - k + 1;
  if (text.length < minChars) return [];
  const grams = text.length - k + 1;
  // Rabin–Karp rolling hash of each k-gram (UTF-16 code units), modulo 2^32, as a signed 32-bit integer.
  const B = 0x01000193;
  let top = 1; // B^(k-1)
  for (let i = 1; i < k; i++) top = Math.imul(top, B);
  const hashes = new Int32Array(grams);
  let h = 0;
  for (let i = 0; i < k; i++) h = (Math.imul(h, B) + text.charCodeAt(i)) | 0;
  hashes[0] = h;
  for (let i = 1; i < grams; i++) {
    h = (Math.imul((h - Math.imul(text.charCodeAt(i - 1), top)) | 0, B) + text.charCodeAt(i + k - 1)) | 0;
    hashes[i] = h;
  }
  // The minimum of every window of w grams, with a monotonic deque (each gram enters and leaves once).
  const kept = new Set<number>();
  const deque = new Int32Array(grams);
  let head = 0;
  let tail = 0;
  for (let i = 0; i < grams; i++) {
    while (tail > head && hashes[deque[tail - 1]] >= hashes[i]) tail--;
    deque[tail++] = i;
    if (deque[head] <= i - w) head++;
    if (i >= w - 1) kept.add(hashes[deque[head]]);
  }
  return [...kept];
}

/**
 * The longest passage of at least `minChars` characters both texts contain, if any (the
 * confirmation of a fingerprint candidate): every `minChars`-long substring of `a` in a set,
 * then `b`'s looked up, and the match extended as far as it goes.
 */
export function sharedPassage(a: string, b: string, minChars: number): string | undefined {
  if (a.length < minChars || b.length < minChars) return undefined;
  const seen = new Map<string, number>();
  for (let i = 0; i + minChars <= a.length; i++) {
    const s = a.slice(i, i + minChars);
    if (!seen.has(s)) seen.set(s, i);
  }
  let best: string | undefined;
  for (let j = 0; j + minChars <= b.length; j++) {
    const i = seen.get(b.slice(j, j + minChars));
    if (i === undefined) continue;
    let n = minChars;
    while (i + n < a.length && j + n < b.length && a[i + n] === b[j + n]) n++;
    if (!best || n > best.length) best = a.slice(i, i + n);
    j += n - minChars;
  }
  return best;
}
