import { StoreError, StoreErrorCode } from '../store.errors.js';
import { SearchParameterRegistry } from './search-parameter.registry.js';
import { parseSearchRequest, shapesResult, TOTAL_TOKEN_MAX_LENGTH } from './search-request.js';

const registry = SearchParameterRegistry.fromProfiles();
const parse = (query: string, lenient = false) =>
  parseSearchRequest('Observation', [...new URLSearchParams(query).entries()], registry, { defaultCount: 20, maxCount: 1000, lenient });
const TOKEN = '30.1765353600.AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_AbCdE';

/** The refusal a parse throws; fails the test when it parses. */
function refusal(query: string): StoreError {
  try {
    parse(query);
  } catch (e) {
    if (e instanceof StoreError) return e;
    throw e;
  }
  throw new Error(`expected ${query} to be refused`);
}

describe('_total-token: the carrier of a _total=accurate count in paging links (issue #13)', () => {
  it('is a result parameter kept for the facade to verify, never among the honoured parameters a link repeats', () => {
    const request = parse(`patient=p1&_total=accurate&_total-token=${TOKEN}`);
    expect(request.totalToken).toBe(TOKEN);
    expect(request.used).toEqual([
      ['patient', 'p1'],
      ['_total', 'accurate'],
    ]);
    expect(request.knownTotal).toBeUndefined();
    expect(request.criteria).toHaveLength(1);
  });

  it('may come before _total, and is recognised under Prefer: handling=lenient too', () => {
    expect(parse(`_total-token=${TOKEN}&_total=accurate`).totalToken).toBe(TOKEN);
    expect(parse(`_total-token=${TOKEN}&_total=accurate`, true).totalToken).toBe(TOKEN);
  });

  it.each(['', '_total=estimate&', '_total=none&'])('goes only with _total=accurate (refused after "%s")', (before) => {
    const e = refusal(`patient=p1&${before}_total-token=${TOKEN}`);
    expect(e.code).toBe(StoreErrorCode.InvalidSearch);
    expect(e.message).toContain('_total=accurate');
    expect(e.message).not.toContain(TOKEN);
  });

  it('is refused given twice or with a modifier, without echoing the token', () => {
    for (const query of [`_total=accurate&_total-token=${TOKEN}&_total-token=${TOKEN}`, `_total=accurate&_total-token:exact=${TOKEN}`]) {
      const e = refusal(query);
      expect(e.code).toBe(StoreErrorCode.InvalidSearch);
      expect(e.message).not.toContain(TOKEN);
    }
  });

  it.each([
    ['longer than the bound', '1'.repeat(TOTAL_TOKEN_MAX_LENGTH + 1)],
    ['with characters no token has', '30.1765353600.abc/def'],
    ['with spaces', '30 1765353600'],
    ['empty', ''],
  ])('a value %s is ignored unread: the page counts afresh, no error', (_, value) => {
    const request = parse(`_total=accurate&_total-token=${encodeURIComponent(value)}`);
    expect(request.totalToken).toBeUndefined();
    expect(request.total).toBe('accurate');
  });

  it('a value at the bound is kept for verification', () => {
    expect(parse(`_total=accurate&_total-token=${'1'.repeat(TOTAL_TOKEN_MAX_LENGTH)}`).totalToken).toHaveLength(TOTAL_TOKEN_MAX_LENGTH);
  });

  it('shapes a result, so a condition (If-None-Exist, conditional update) refuses it', () => {
    expect(shapesResult('_total-token')).toBe(true);
  });
});
