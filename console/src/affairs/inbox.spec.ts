import { noClaimUnsealFrom as serverNoClaimUnsealFrom } from '../../../src/disputes/domain/dispute-case';
import type { AccessGrant, Amendment, DisputeCase } from './approvals.api';
import { askedUntil, buildInbox, grantCut, grantWaits, noClaimUnsealFrom } from './inbox';

/** The inbox's model (issue #18): one list from four APIs, oldest first; what waits and what does not. */
const grant = (over: Partial<AccessGrant>): AccessGrant => ({
  id: 'g1',
  kind: 'grant',
  grantee: 'dr-wang',
  patientId: 'p1',
  purpose: 'research',
  reason: '研究',
  status: 'requested',
  requestedBy: 'dr-wang',
  requestedUntil: '2027-02-01T00:00:00.000Z',
  validFrom: null,
  validUntil: null,
  decidedBy: null,
  decidedAt: null,
  decisionNote: null,
  extensionUntil: null,
  extensionReason: null,
  reviewedBy: null,
  reviewedAt: null,
  reviewNote: null,
  uses: 0,
  createdAt: '2026-12-06T03:00:00.000Z',
  ...over,
});
const amendment: Amendment = { id: 'a1', document: 'Composition/c1', requestedBy: 'dr-li', reason: '补充', status: 'requested', requestedAt: '2026-12-06T02:00:00.000Z' };
const sealed: DisputeCase = {
  id: 'd1',
  patient: 'p9',
  trigger: 'dispute',
  reason: '异议',
  status: 'sealed',
  openedBy: 'officer-zhou',
  openedAt: '2026-12-06T00:00:00.000Z',
  sealedAt: '2026-12-06T04:00:00.000Z',
  sealedBy: 'officer-zhou',
  inventory: { sealed: 3, pending: 1 },
};

describe('medical affairs inbox', () => {
  it('puts the four kinds in one list, oldest first, each with who raised it and its patient', () => {
    const btg = grant({ id: 'b1', kind: 'break-glass', status: 'active', purpose: 'BTG', grantee: 'dr-ma', requestedBy: 'dr-ma', patientId: 'p3', createdAt: '2026-12-06T01:00:00.000Z' });
    const items = buildInbox({ grants: [grant({})], amendments: [amendment], breakGlass: [btg], sealed: [sealed], documents: new Map([['Composition/c1', { patient: 'p2', title: '病程记录' }]]) });
    expect(items.map((i) => [i.key, i.requester, i.patient])).toEqual([
      ['break-glass:b1', 'dr-ma', 'p3'],
      ['amendment:a1', 'dr-li', 'p2'],
      ['grant:g1', 'dr-wang', 'p1'],
      ['unseal:d1', 'officer-zhou', 'p9'],
    ]);
  });

  it('leaves out what no longer waits: decided grants, decided amendments, reviewed uses, unsealed cases, and cases with a usable unseal approval', () => {
    const items = buildInbox({
      grants: [grant({ status: 'approved', validUntil: '2027-01-01T00:00:00.000Z' }), grant({ id: 'g2', status: 'refused' })],
      amendments: [{ ...amendment, status: 'approved' }],
      breakGlass: [grant({ id: 'b1', kind: 'break-glass', status: 'active', reviewedAt: '2026-12-06T05:00:00.000Z' })],
      sealed: [{ ...sealed, status: 'unsealed' }, { ...sealed, id: 'd2' }],
      hidden: new Set(['unseal:d2']),
    });
    expect(items).toEqual([]);
  });

  it('an approved grant with an extension asked for waits again, for the extension (R-05)', () => {
    const extension = grant({ status: 'approved', validUntil: '2026-12-20T00:00:00.000Z', extensionUntil: '2027-03-01T00:00:00.000Z', extensionReason: '延长随访' });
    expect(grantWaits(extension)).toBe(true);
    const [item] = buildInbox({ grants: [extension] });
    expect(item).toMatchObject({ kind: 'grant', extension: true, subject: '延长随访' });
    expect(askedUntil(extension)).toBe('2027-03-01T00:00:00.000Z');
    expect(grantCut('2027-03-01T00:00:00.000Z', { ...extension, validUntil: '2027-01-19T00:00:00.000Z' })).toBe(true);
    expect(grantCut('2027-01-01T00:00:00.000Z', { ...extension, validUntil: '2027-01-01T00:00:00.000Z' })).toBe(false);
  });

  it('the no-claim date is the server\'s own (R-43), for whole and fractional years', () => {
    for (const [at, years] of [['2026-12-06T04:00:00.000Z', 3], ['2024-02-29T16:00:00.000Z', 3], ['2026-01-31T23:59:59.000Z', 2.5]] as const) {
      expect(noClaimUnsealFrom(at, years).toISOString()).toBe(serverNoClaimUnsealFrom(new Date(at), years).toISOString());
    }
  });
});
