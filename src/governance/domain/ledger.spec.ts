import { createHash } from 'node:crypto';
import type { Composition } from '@medplum/fhirtypes';
import fastJsonPatch, { type Operation } from 'fast-json-patch';
import { contentSha256 } from '../../common/content-hash.js';
import { describe as describeOperation, diffOf, LEDGER_GENESIS, ledgerHash, type LedgerEntry } from './ledger.js';

/**
 * The edit ledger's pure parts: canonical (RFC 8785) hashing of versions and
 * entries, the per-document hash chain, RFC 6902 diffs that leave out server-managed meta, and
 * each change in words.
 */

const sha256 = (...parts: (Buffer | string)[]) => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest();
};

function entry(extra: Partial<LedgerEntry> = {}): LedgerEntry {
  return {
    resourceType: 'Composition',
    id: 'c1',
    version: 1,
    recorded: '2026-11-29T02:00:00.000Z',
    editor: 'dr-li',
    practitioner: 'Practitioner/dr-li',
    kind: 'create',
    docType: 'daily-progress-note',
    diff: [{ op: 'add', path: '/status', value: 'preliminary' }],
    contentSha256: 'ab'.repeat(32),
    requestId: 'req-1',
    ...extra,
  };
}

/** The same object with its keys in reverse order, at every level. */
function reversedKeys<T>(value: T): T {
  if (Array.isArray(value)) return value.map(reversedKeys) as T;
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).reverse().map(([k, v]) => [k, reversedKeys(v)])) as T;
  return value;
}

const note = (extra: Partial<Composition> = {}): Composition => ({
  resourceType: 'Composition',
  id: 'c1',
  meta: { versionId: '1', lastUpdated: '2026-11-29T02:00:00.000Z' },
  status: 'preliminary',
  type: { coding: [{ system: 'http://loinc.org', code: '11506-3' }] },
  date: '2026-11-29T10:00:00+08:00',
  author: [{ reference: 'Practitioner/dr-li' }],
  title: '日常病程记录',
  section: [{ title: '病情', text: { status: 'generated', div: '<div xmlns="http://www.w3.org/1999/xhtml">胸痛缓解</div>' } }],
  ...extra,
});

describe('edit ledger domain (R-12, R-17)', () => {
  describe('contentSha256', () => {
    it('R-12: SHA-256 (hex) of the version\'s RFC 8785 canonical JSON: keys sorted, no whitespace, UTF-8', () => {
      const hash = contentSha256({ resourceType: 'Patient', id: 'p1', active: true });
      expect(hash).toMatch(/^[0-9a-f]{64}$/);
      expect(hash).toBe(sha256('{"active":true,"id":"p1","resourceType":"Patient"}').toString('hex'));
      // Chinese text is hashed as UTF-8, not escaped.
      const zh = contentSha256({ resourceType: 'Patient', name: [{ text: '张三' }] });
      expect(zh).toBe(sha256(Buffer.from('{"name":[{"text":"张三"}],"resourceType":"Patient"}', 'utf8')).toString('hex'));
    });

    it('R-12: stable under key order at every level; any changed value (or array order) changes it', () => {
      const version = note();
      expect(contentSha256(reversedKeys(version))).toBe(contentSha256(version));
      expect(contentSha256(note({ title: '日常病程记录 ' }))).not.toBe(contentSha256(version));
      expect(contentSha256(note({ author: [{ reference: 'Practitioner/a' }, { reference: 'Practitioner/b' }] }))).not.toBe(
        contentSha256(note({ author: [{ reference: 'Practitioner/b' }, { reference: 'Practitioner/a' }] })),
      );
    });
  });

  describe('ledgerHash', () => {
    it('R-12: the entry\'s text is its RFC 8785 canonical JSON; its hash is SHA-256(previous hash ‖ text)', () => {
      const e = entry({ reason: '更正诊断' });
      const { text, hash } = ledgerHash(LEDGER_GENESIS, e);
      expect(JSON.parse(text)).toEqual(e);
      const keys = Object.keys(JSON.parse(text) as object);
      expect(keys).toEqual([...keys].sort());
      expect(text).not.toMatch(/\s"|":\s/);
      expect(text).toContain('"reason":"更正诊断"');
      expect(hash).toHaveLength(32);
      expect(hash.equals(sha256(LEDGER_GENESIS, Buffer.from(text, 'utf8')))).toBe(true);
    });

    it('R-12: a chain starts from the genesis hash: 32 zero bytes', () => {
      expect(LEDGER_GENESIS).toEqual(Buffer.alloc(32));
    });

    it('R-12: stable under key order (of the entry and of its diff values)', () => {
      const e = entry({ diff: [{ op: 'add', path: '/type', value: { coding: [{ system: 'http://loinc.org', code: '11506-3' }], text: '病程' } }] });
      const a = ledgerHash(LEDGER_GENESIS, e);
      const b = ledgerHash(LEDGER_GENESIS, reversedKeys(e));
      expect(b.text).toBe(a.text);
      expect(b.hash.equals(a.hash)).toBe(true);
    });

    it('R-12 / R-17: chained: each entry\'s hash covers its predecessor\'s, so changing an earlier entry changes every later hash', () => {
      const v1 = ledgerHash(LEDGER_GENESIS, entry());
      const v2 = ledgerHash(v1.hash, entry({ version: 2, kind: 'update', diff: [{ op: 'replace', path: '/status', value: 'final' }] }));
      const v3 = ledgerHash(v2.hash, entry({ version: 3, kind: 'update', reason: '更正诊断', diff: [{ op: 'replace', path: '/title', value: '修改' }] }));
      expect(v2.hash.equals(sha256(v1.hash, v2.text))).toBe(true);
      expect(v3.hash.equals(sha256(v2.hash, v3.text))).toBe(true);
      expect(new Set([v1, v2, v3].map((h) => h.hash.toString('hex'))).size).toBe(3);

      // The same entry on another predecessor hashes differently; its text does not change.
      const forged1 = ledgerHash(LEDGER_GENESIS, entry({ editor: 'someone-else' }));
      const forged2 = ledgerHash(forged1.hash, entry({ version: 2, kind: 'update', diff: [{ op: 'replace', path: '/status', value: 'final' }] }));
      expect(forged2.text).toBe(v2.text);
      expect(forged2.hash.equals(v2.hash)).toBe(false);
    });

    it.each<[string, Partial<LedgerEntry>]>([
      ['editor', { editor: 'dr-wang' }],
      ['practitioner', { practitioner: 'Practitioner/dr-wang' }],
      ['recorded (one millisecond)', { recorded: '2026-11-29T02:00:00.001Z' }],
      ['reason (added)', { reason: '补充' }],
      ['kind', { kind: 'update' }],
      ['docType', { docType: 'senior-rounds' }],
      ['diff', { diff: [{ op: 'add', path: '/status', value: 'final' }] }],
      ['contentSha256', { contentSha256: 'cd'.repeat(32) }],
      ['requestId', { requestId: 'req-2' }],
      ['version', { version: 2 }],
    ])('R-17: changing the entry\'s %s changes its hash', (_what, change) => {
      expect(ledgerHash(LEDGER_GENESIS, entry(change)).hash.equals(ledgerHash(LEDGER_GENESIS, entry()).hash)).toBe(false);
    });

    it('R-12: absent optional fields are left out of the text, not written as null', () => {
      const { text } = ledgerHash(LEDGER_GENESIS, entry({ reason: undefined, practitioner: undefined, requestId: undefined }));
      expect(text).not.toContain('reason');
      expect(text).not.toContain('practitioner');
      expect(text).not.toContain('null');
    });
  });

  describe('diffOf', () => {
    it('R-12: a first version is all adds from nothing (server meta left out)', () => {
      const first = note();
      const diff = diffOf(undefined, first);
      expect(diff.every((op) => op.op === 'add')).toBe(true);
      expect(diff.map((op) => op.path).sort()).toEqual(['/author', '/date', '/id', '/resourceType', '/section', '/status', '/title', '/type']);
      expect(diff).toContainEqual({ op: 'add', path: '/title', value: '日常病程记录' });
      // Applying it to nothing gives the version back, without versionId / lastUpdated.
      const { meta: _meta, ...withoutMeta } = first;
      expect(fastJsonPatch.applyPatch({}, structuredClone(diff) as Operation[]).newDocument).toEqual(withoutMeta);
    });

    it('R-12: RFC 6902 from one version to the next: replace, add, remove', () => {
      const before = note();
      const { title: _title, ...untitled } = note({ meta: { versionId: '2', lastUpdated: '2026-11-29T03:00:00.000Z' }, status: 'final', confidentiality: 'N' });
      const after = untitled as Composition;
      const diff = diffOf(before, after);
      expect(diff).toEqual(
        expect.arrayContaining([
          { op: 'replace', path: '/status', value: 'final' },
          { op: 'remove', path: '/title' },
          { op: 'add', path: '/confidentiality', value: 'N' },
        ]),
      );
      expect(diff).toHaveLength(3);
      const { meta: _m, ...target } = after;
      const { meta: _b, ...source } = before;
      expect(fastJsonPatch.applyPatch(structuredClone(source), structuredClone(diff) as Operation[]).newDocument).toEqual(target);
    });

    it('R-12: meta.versionId and meta.lastUpdated are ignored: versions differing only there have no diff', () => {
      const v1 = note();
      const v2 = note({ meta: { versionId: '2', lastUpdated: '2026-12-01T00:00:00.000Z' } });
      expect(diffOf(v1, v2)).toEqual([]);
      // A version with no meta at all compared with one that has only server meta: still nothing.
      const { meta: _meta, ...bare } = v1;
      expect(diffOf(bare as Composition, v2)).toEqual([]);
      expect(diffOf(v2, bare as Composition)).toEqual([]);
    });

    it('R-12: the rest of meta (security labels, profiles, tags) is part of the diff', () => {
      const v1 = note();
      const v2 = note({ meta: { versionId: '2', lastUpdated: '2026-11-29T03:00:00.000Z', security: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-Confidentiality', code: 'R' }] } });
      expect(diffOf(v1, v2)).toEqual([{ op: 'add', path: '/meta', value: { security: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-Confidentiality', code: 'R' }] } }]);
      const v3 = note({ meta: { versionId: '3', lastUpdated: '2026-11-29T04:00:00.000Z', security: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-Confidentiality', code: 'N' }] } });
      expect(diffOf(v2, v3)).toEqual([{ op: 'replace', path: '/meta/security/0/code', value: 'N' }]);
    });

    it('the versions compared are not changed (their meta stays)', () => {
      const v1 = note();
      const v2 = note({ status: 'final', meta: { versionId: '2', lastUpdated: '2026-11-29T03:00:00.000Z' } });
      const copies = [structuredClone(v1), structuredClone(v2)];
      diffOf(v1, v2);
      expect([v1, v2]).toEqual(copies);
    });

    it('R-12: changes deep in sections (Chinese narrative) are addressed by JSON pointer', () => {
      const v1 = note();
      const v2 = note({ section: [{ title: '病情', text: { status: 'generated', div: '<div xmlns="http://www.w3.org/1999/xhtml">胸痛加重</div>' } }] });
      expect(diffOf(v1, v2)).toEqual([{ op: 'replace', path: '/section/0/text/div', value: '<div xmlns="http://www.w3.org/1999/xhtml">胸痛加重</div>' }]);
    });
  });

  describe('describe', () => {
    const previous = note();

    it('R-12: replace: `replaced <path>: <old> → <new>` with JSON values', () => {
      expect(describeOperation({ op: 'replace', path: '/status', value: 'final' }, previous)).toBe('replaced /status: "preliminary" → "final"');
      expect(describeOperation({ op: 'replace', path: '/title', value: '首次病程记录' }, previous)).toBe('replaced /title: "日常病程记录" → "首次病程记录"');
      expect(describeOperation({ op: 'replace', path: '/author/0', value: { reference: 'Practitioner/dr-wang' } }, previous)).toBe(
        'replaced /author/0: {"reference":"Practitioner/dr-li"} → {"reference":"Practitioner/dr-wang"}',
      );
    });

    it('R-12: add: `added <path>: <value>`', () => {
      expect(describeOperation({ op: 'add', path: '/confidentiality', value: 'N' }, previous)).toBe('added /confidentiality: "N"');
      expect(describeOperation({ op: 'add', path: '/section/1', value: { title: '诊断' } }, previous)).toBe('added /section/1: {"title":"诊断"}');
      expect(describeOperation({ op: 'add', path: '/version', value: 2 }, {})).toBe('added /version: 2');
    });

    it('R-12: remove: `removed <path> (was <old>)`', () => {
      expect(describeOperation({ op: 'remove', path: '/title' }, previous)).toBe('removed /title (was "日常病程记录")');
      expect(describeOperation({ op: 'remove', path: '/section/0/title' }, previous)).toBe('removed /section/0/title (was "病情")');
    });

    it('R-12: a path the previous version does not have reads as undefined, never throws', () => {
      expect(describeOperation({ op: 'replace', path: '/nothing/here', value: 1 }, previous)).toBe('replaced /nothing/here: undefined → 1');
      expect(describeOperation({ op: 'remove', path: '/missing' }, {})).toBe('removed /missing (was undefined)');
    });

    it('other operations name the operation and path; the whole document is `/`', () => {
      expect(describeOperation({ op: 'move', from: '/a', path: '/b' }, previous)).toBe('move /b');
      expect(describeOperation({ op: 'test', path: '/status', value: 'final' }, previous)).toBe('test /status');
      expect(describeOperation({ op: 'add', path: '', value: {} }, previous)).toBe('added /: {}');
    });

    it('R-12: every operation of a real diff reads in words against the previous version', () => {
      const next = note({ status: 'final', title: '日常病程记录（修订）', meta: { versionId: '2', lastUpdated: '2026-11-29T03:00:00.000Z' } });
      expect(diffOf(previous, next).map((op) => describeOperation(op, previous)).sort()).toEqual(['replaced /status: "preliminary" → "final"', 'replaced /title: "日常病程记录" → "日常病程记录（修订）"']);
    });
  });
});
