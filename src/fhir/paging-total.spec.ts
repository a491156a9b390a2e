import { randomBytes } from 'node:crypto';
import { Clock } from '../common/clock.js';
import type { Actor } from '../identity/actor.js';
import type { LoadedPolicy } from '../policy/loaded-policy.js';
import type { AccessFilter } from '../store/access-facts.js';
import type { SearchRequest } from '../store/search/search-request.js';
import { CARRIED_TOTAL_LIFETIME_MS, CarriedTotals, openTotal, sealTotal, type TotalBinding } from './paging-total.js';

const attending: Actor = {
  id: 'dr-li',
  practitioner: 'Practitioner/dr-li',
  roles: ['attending'],
  department: 'cardiology',
  licence: 'licensed',
  scopes: [],
};
const careTeamFilter: AccessFilter = {
  condition: { operator: 'in', field: 'careTeam', value: ['Practitioner/dr-li'] },
  options: { careWindowDays: 30 },
};
const binding: TotalBinding = {
  actor: attending,
  policyVersion: '2026-12-01',
  access: careTeamFilter,
  resourceType: 'Observation',
  params: [
    ['patient', 'p1'],
    ['_total', 'accurate'],
  ],
};
const key = randomBytes(32);
const countedAt = new Date('2026-12-10T08:00:00.000Z');
const minutes = (n: number) => new Date(countedAt.getTime() + n * 60_000);
const token = sealTotal(key, binding, { total: 30, countedAt });

describe('carried totals: a _total=accurate count in paging links (issue #13)', () => {
  it('a token opens for the binding it was minted for, with its count and when it was counted', () => {
    expect(openTotal(key, token, binding, minutes(5))).toEqual({ total: 30, countedAt });
  });

  it('names no one: the token holds the count, the time and the MAC, never the caller or the query', () => {
    // The count, when it was counted (epoch seconds) and a 256-bit MAC: nothing else fits the token's grammar.
    const [count, at, mac, ...rest] = token.split('.');
    expect({ count, at: Number(at), macLength: mac.length, rest }).toEqual({ count: '30', at: countedAt.getTime() / 1000, macLength: 43, rest: [] });
    expect(mac).toMatch(/^[A-Za-z0-9_-]{43}$/);
    // The MAC depends on the binding (another type gives another MAC). It is random-looking base64url, which may hold
    // any short string by chance (it once held "p1"), so only the count and the time are searched for names.
    expect(sealTotal(key, { ...binding, resourceType: 'Condition' }, { total: 30, countedAt })).not.toBe(token);
    for (const secret of ['dr-li', 'cardiology', 'p1', 'attending', '2026-12-01']) expect(`${count}.${at}`).not.toContain(secret);
  });

  it.each([
    ['another count', token.replace(/^30\./, '29.')],
    ['a larger count', token.replace(/^30\./, '3000.')],
    ['an earlier count time', token.replace(/\.(\d+)\./, (_, s: string) => `.${Number(s) - 1}.`)],
    ['a later count time (to live longer)', token.replace(/\.(\d+)\./, (_, s: string) => `.${Number(s) + 3600}.`)],
    ['a changed MAC', token.slice(0, -1) + (token.endsWith('A') ? 'B' : 'A')],
    ['a MAC cut short', token.slice(0, -2)],
  ])('a tampered token (%s) is ignored', (_, tampered) => {
    expect(tampered).not.toBe(token);
    expect(openTotal(key, tampered, binding, minutes(5))).toBeUndefined();
  });

  it('expires an hour after the count, and a count from the future (a clock set back) is not trusted', () => {
    expect(openTotal(key, token, binding, minutes(59))).toBeDefined();
    expect(openTotal(key, token, binding, new Date(countedAt.getTime() + CARRIED_TOTAL_LIFETIME_MS + 1000))).toBeUndefined();
    expect(openTotal(key, token, binding, minutes(-0.5))).toBeDefined();
    expect(openTotal(key, token, binding, minutes(-5))).toBeUndefined();
  });

  it.each<[string, Partial<Actor>]>([
    ['another person', { id: 'dr-wang', practitioner: 'Practitioner/dr-wang' }],
    ['the same sub with another practitioner', { practitioner: 'Practitioner/other' }],
    ['the same person with other roles', { roles: ['attending', 'records-clerk'] }],
    ['the same person in another department', { department: 'oncology' }],
    ['the same person with no department', { department: undefined }],
    ['the same person with narrower SMART scopes', { scopes: ['patient/Observation.rs'] }],
    ['the same person with a launch patient', { patientContext: 'p2' }],
    ['the same person on probation', { licence: 'probation' }],
  ])('a token of one caller is ignored for %s', (_, change) => {
    expect(openTotal(key, token, { ...binding, actor: { ...attending, ...change } }, minutes(5))).toBeUndefined();
  });

  it('roles and scopes bind as sets: the same attributes in another order still open the token', () => {
    const twoRoles = { ...binding, actor: { ...attending, roles: ['attending', 'teacher'], scopes: ['a', 'b'] } };
    const sealed = sealTotal(key, twoRoles, { total: 7, countedAt });
    expect(openTotal(key, sealed, { ...twoRoles, actor: { ...attending, roles: ['teacher', 'attending'], scopes: ['b', 'a'] } }, minutes(1))?.total).toBe(7);
  });

  it.each<[string, Partial<TotalBinding>]>([
    ['another patient', { params: [['patient', 'p2'], ['_total', 'accurate']] }],
    ['one more criterion', { params: [['patient', 'p1'], ['code', '8867-4'], ['_total', 'accurate']] }],
    ['one criterion fewer', { params: [['_total', 'accurate']] }],
    ['another resource type', { resourceType: 'Condition' }],
    ['another policy version', { policyVersion: '2026-12-02' }],
    ['another access filter (a grant opened another patient)', { access: { ...careTeamFilter, condition: { operator: 'in', field: 'patient', value: ['p9'] } } }],
    ['another care window', { access: { ...careTeamFilter, options: { careWindowDays: 7 } } }],
  ])('a token of one question is ignored for %s', (_, change) => {
    expect(openTotal(key, token, { ...binding, ...change }, minutes(5))).toBeUndefined();
  });

  it('a token from another server instance, or from before a restart (another key), is ignored', () => {
    expect(openTotal(randomBytes(32), token, binding, minutes(5))).toBeUndefined();
  });

  it.each(['', '30', '30.1765353600', 'abc', `030.${token.split('.')[1]}.${token.split('.')[2]}`, `-1.${token.split('.').slice(1).join('.')}`, `${token}.x`, 'x'.repeat(10_000)])(
    'a malformed token (%#) is ignored, never an error',
    (malformed) => {
      expect(openTotal(key, malformed, binding, minutes(5))).toBeUndefined();
    },
  );
});

class MovedClock extends Clock {
  at = countedAt;
  now(): Date {
    return this.at;
  }
}

describe('CarriedTotals.forSearch', () => {
  const clock = new MovedClock();
  const policy = { version: '2026-12-01' } as LoadedPolicy;
  const totals = new CarriedTotals(policy, clock);
  const request = (total: SearchRequest['total'], totalToken?: string): SearchRequest => ({
    resourceType: 'Observation',
    criteria: [],
    count: 10,
    offset: 10,
    sort: [],
    total,
    include: [],
    revinclude: [],
    countOnly: false,
    used: [
      ['patient', 'p1'],
      ['_total', total],
      ['_count', '10'],
      ['_offset', '10'],
    ],
    totalToken,
  });

  beforeEach(() => {
    clock.at = countedAt;
  });

  it('carries nothing unless _total=accurate: the other modes never count everything', () => {
    for (const mode of ['estimate', 'none'] as const) {
      const search = totals.forSearch(attending, careTeamFilter, request(mode));
      expect(search.known).toBeUndefined();
      expect(search.tokenFor(30)).toBeUndefined();
    }
  });

  it('the first page mints a token that a later page of the same search reuses, whatever its _count and _offset', () => {
    const first = totals.forSearch(attending, careTeamFilter, request('accurate'));
    expect(first.known).toBeUndefined();
    const minted = first.tokenFor(30);
    const later = { ...request('accurate', minted), count: 5, offset: 20, used: [['patient', 'p1'], ['_total', 'accurate'], ['_count', '5'], ['_offset', '20']] as [string, string][] };
    expect(totals.forSearch(attending, careTeamFilter, later).known?.total).toBe(30);
    expect(first.tokenFor(undefined)).toBeUndefined();
  });

  it('the page the count says is the last is not given it: it reads to the end, so records added since are not hidden', () => {
    const minted = totals.forSearch(attending, careTeamFilter, request('accurate')).tokenFor(30);
    const at = (offset: number, count: number) => totals.forSearch(attending, careTeamFilter, { ...request('accurate', minted), offset, count }).known?.total;
    expect(at(19, 10)).toBe(30);
    expect(at(20, 10)).toBeUndefined();
    expect(at(40, 10)).toBeUndefined();
  });

  it('a reused count keeps the time it was counted: following links never makes it younger', () => {
    const minted = totals.forSearch(attending, careTeamFilter, request('accurate')).tokenFor(30);
    clock.at = minutes(40);
    const reminted = totals.forSearch(attending, careTeamFilter, request('accurate', minted)).tokenFor(30);
    clock.at = minutes(61);
    expect(totals.forSearch(attending, careTeamFilter, request('accurate', reminted)).known).toBeUndefined();
  });

  it('a page that counted anew (the last page knows its total) carries the new count, counted now', () => {
    const minted = totals.forSearch(attending, careTeamFilter, request('accurate')).tokenFor(30);
    clock.at = minutes(40);
    const recounted = totals.forSearch(attending, careTeamFilter, request('accurate', minted)).tokenFor(31);
    clock.at = minutes(61);
    expect(totals.forSearch(attending, careTeamFilter, request('accurate', recounted)).known?.total).toBe(31);
  });

  it('a policy reload between pages makes the token count for nothing', () => {
    const reloading = { version: 'v1' };
    const service = new CarriedTotals(reloading as LoadedPolicy, clock);
    const minted = service.forSearch(attending, careTeamFilter, request('accurate')).tokenFor(30);
    expect(service.forSearch(attending, careTeamFilter, request('accurate', minted)).known?.total).toBe(30);
    reloading.version = 'v2';
    expect(service.forSearch(attending, careTeamFilter, request('accurate', minted)).known).toBeUndefined();
  });

  it('another service instance (another process, a restart) does not accept this one\'s tokens', () => {
    const minted = totals.forSearch(attending, careTeamFilter, request('accurate')).tokenFor(30);
    expect(new CarriedTotals(policy, clock).forSearch(attending, careTeamFilter, request('accurate', minted)).known).toBeUndefined();
  });
});
