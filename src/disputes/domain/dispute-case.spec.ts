import type { Bundle, Resource } from '@medplum/fhirtypes';
import { CLOSED_STATUSES } from '../../policy/domain/document-status.js';
import { DisputeError } from '../disputes.errors.js';
import { parseDisputeRequest } from '../dto/dispute.dto.js';
import { inventoryDigest, isComplete, patientWitnessProblems, scopePeriod, statedInventory, withSealedInventory, type InventoryLine } from './dispute-case.js';

const GOVERNED = ['Composition', 'DocumentReference'];
const complete = (r: Record<string, unknown>) => isComplete(r as unknown as Resource, GOVERNED, CLOSED_STATUSES);

describe('dispute case domain (R-40…R-44)', () => {
  it('reads a case; a public incident names its team (R-44)', () => {
    expect(parseDisputeRequest({ patient: 'Patient/p1', reason: ' 纠纷 ', scope: { kind: 'encounters', encounters: ['Encounter/e1', 'e2', 'e1'] } })).toEqual({
      patient: 'p1',
      scope: { kind: 'encounters', encounters: ['e1', 'e2'] },
      trigger: 'dispute',
      reason: '纠纷',
      team: [],
    });
    expect(parseDisputeRequest({ patient: 'p1', reason: 'r' }).scope).toEqual({ kind: 'whole-record' });
    expect(() => parseDisputeRequest({ patient: 'p1', reason: 'r', trigger: 'public-incident' })).toThrow(/names the team/);
    expect(() => parseDisputeRequest({ patient: 'p1', reason: 'r', scope: { kind: 'date-range', from: '2026-11-28', to: '2026-11-01' } })).toThrow(/from ≤ to/);
    expect(() => parseDisputeRequest({})).toThrow(DisputeError);
  });

  it('R-40: the patient side lists every missing confirmation', () => {
    expect(patientWitnessProblems(undefined)).toHaveLength(1);
    expect(patientWitnessProblems({ name: '王', relationship: 'cousin', idDocument: { type: 'id' } })).toEqual([
      expect.stringContaining('relationship'),
      expect.stringContaining('idDocument'),
      expect.stringContaining('confirmed'),
    ]);
    expect(patientWitnessProblems({ name: '王', relationship: 'self', idDocument: { type: 'id', number: '1' }, confirmed: true })).toEqual([]);
  });

  it('R-41: documents are complete once signed; encounters once finished; orders and results once not active or preliminary', () => {
    expect(complete({ resourceType: 'Composition', status: 'preliminary' })).toBe(false);
    expect(complete({ resourceType: 'Composition', status: 'final' })).toBe(true);
    expect(complete({ resourceType: 'DocumentReference', status: 'current', docStatus: 'preliminary' })).toBe(false);
    expect(complete({ resourceType: 'DocumentReference', status: 'current', docStatus: 'final' })).toBe(true);
    expect(complete({ resourceType: 'Encounter', status: 'in-progress' })).toBe(false);
    expect(complete({ resourceType: 'Encounter', status: 'finished' })).toBe(true);
    expect(complete({ resourceType: 'Observation', status: 'preliminary' })).toBe(false);
    expect(complete({ resourceType: 'MedicationRequest', status: 'active' })).toBe(false);
    expect(complete({ resourceType: 'MedicationRequest', status: 'completed' })).toBe(true);
    expect(complete({ resourceType: 'Provenance' })).toBe(true);
  });

  it('R-42: the inventory digest does not depend on line order, and changes with any hash', () => {
    const a: InventoryLine = { type: 'Composition', id: 'c1', version: 2, status: 'sealed', sha256: 'aa' };
    const b: InventoryLine = { type: 'Encounter', id: 'e1', version: 1, status: 'sealed', sha256: 'bb' };
    expect(inventoryDigest([a, b])).toBe(inventoryDigest([b, a]));
    expect(inventoryDigest([a, b])).not.toBe(inventoryDigest([a, { ...b, sha256: 'bc' }]));
    expect(inventoryDigest([a, b])).toMatch(/^[0-9a-f]{64}$/);
  });

  it('R-42: a sealed copy states its inventory digest and pending lines, and they read back; anything unreadable states nothing', () => {
    const bundle: Bundle = { resourceType: 'Bundle', type: 'document', entry: [{ resource: { resourceType: 'Composition', status: 'final', type: {}, date: '2026-12-01', author: [], title: 't' } }] };
    const pending: InventoryLine[] = [{ type: 'Composition', id: 'c-1', version: 3, status: 'pending' }];
    const stated = withSealedInventory(bundle, 'ab'.repeat(32), pending);
    expect(statedInventory(stated)).toEqual({ digest: 'ab'.repeat(32), pending });
    expect(bundle.entry?.[0].resource).not.toHaveProperty('extension');
    expect(statedInventory(bundle)).toBeUndefined();
    const forged = JSON.parse(JSON.stringify(stated).replace('/_history/3', '/_history/x')) as Bundle;
    expect(statedInventory(forged)).toBeUndefined();
  });
  it("R-40: a date-range scope covers its first and last day whole as the hospital's days (policy settings.timeZone), daylight saving included", () => {
    const range = { kind: 'date-range' as const, from: '2026-03-28', to: '2026-03-29' };
    expect(scopePeriod(range, 'Asia/Shanghai')).toEqual({ from: '2026-03-27T16:00:00.000Z', to: '2026-03-29T15:59:59.999Z' });
    // Berlin: UTC+1 on the 28th, UTC+2 from 03:00 on the 29th.
    expect(scopePeriod(range, 'Europe/Berlin')).toEqual({ from: '2026-03-27T23:00:00.000Z', to: '2026-03-29T21:59:59.999Z' });
    expect(scopePeriod({ kind: 'whole-record' }, 'Europe/Berlin')).toBeUndefined();
    expect(scopePeriod({ kind: 'encounters', encounters: ['e1'] }, 'Europe/Berlin')).toBeUndefined();
  });
});
