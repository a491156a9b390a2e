import { FhirRequestError } from '../fhir/fhir.errors.js';
import { assertAuditSearchParameters, hospitalDateRange, parseAuditSearch, patientsNamed, reportBoundary } from './audit-search.js';

const PAGING = { defaultPageSize: 20, maxPageSize: 100 };
const SHANGHAI = 'Asia/Shanghai';
const pairs = (query: string) => [...new URLSearchParams(query).entries()];

/** The error a call throws, for its expression (the parameter a 400 names). */
function refusal(run: () => unknown): FhirRequestError {
  try {
    run();
  } catch (e) {
    if (e instanceof FhirRequestError) return e;
    throw e;
  }
  throw new Error('no refusal');
}

describe('searching the trail: parameters as criteria (R-22)', () => {
  it('R-22: each parameter is one criterion (AND), its comma-separated values alternatives (OR); system|code keeps the code', () => {
    const search = parseAuditSearch(pairs('patient=Patient/p1,p2&agent=dr-li&action=R,E&subtype=http://x|read&outcome=0,4&entity=Composition/c1/_history/2'), PAGING, SHANGHAI);
    expect(search.criteria).toEqual([
      { on: 'patient', ids: ['p1', 'p2'] },
      { on: 'actor', ids: ['dr-li'] },
      { on: 'action', codes: ['R', 'E'] },
      { on: 'subtype', codes: ['read'] },
      { on: 'outcome', codes: [0, 4] },
      { on: 'entity', type: 'Composition', id: 'c1', version: '2' },
    ]);
    expect(parseAuditSearch(pairs('agent=Practitioner/dr-li'), PAGING, SHANGHAI).criteria).toEqual([{ on: 'practitioner', reference: 'Practitioner/dr-li' }]);
  });

  it('R-22: a date takes ge, gt, le, lt or eq (eq by default), days in the hospital zone', () => {
    const [ge, plain] = parseAuditSearch(pairs('date=ge2026-11-29&date=2026-11-30'), PAGING, SHANGHAI).criteria;
    expect(ge).toMatchObject({ on: 'recorded', prefix: 'ge', range: { low: '2026-11-28T16:00:00.000Z' } });
    expect(plain).toMatchObject({ on: 'recorded', prefix: 'eq' });
  });

  it("R-20/R-22: a date or time sent without an offset is the hospital's (policy settings.timeZone), daylight saving included; one with an offset is read as sent", () => {
    const [berlin] = parseAuditSearch(pairs('date=ge2026-11-29'), PAGING, 'Europe/Berlin').criteria;
    expect(berlin).toMatchObject({ on: 'recorded', prefix: 'ge', range: { low: '2026-11-28T23:00:00.000Z', high: '2026-11-29T22:59:59.999Z' } });
    expect(hospitalDateRange('2026-07-01', 'Europe/Berlin')).toEqual({ low: '2026-06-30T22:00:00.000Z', high: '2026-07-01T21:59:59.999Z' });
    // The day Berlin's clocks go back is 25 hours long; a month is its days in the zone.
    expect(hospitalDateRange('2026-10-25', 'Europe/Berlin')).toEqual({ low: '2026-10-24T22:00:00.000Z', high: '2026-10-25T22:59:59.999Z' });
    expect(hospitalDateRange('2026-03', 'Europe/Berlin')).toEqual({ low: '2026-02-28T23:00:00.000Z', high: '2026-03-31T21:59:59.999Z' });
    expect(hospitalDateRange('2026-07-01T09:30', 'Europe/Berlin')).toEqual({ low: '2026-07-01T07:30:00.000Z', high: '2026-07-01T07:30:59.999Z' });
    for (const zone of [SHANGHAI, 'Europe/Berlin']) {
      expect(hospitalDateRange('2026-07-01T09:30:00+08:00', zone)).toEqual({ low: '2026-07-01T01:30:00.000Z', high: '2026-07-01T01:30:00.999Z' });
      expect(hospitalDateRange('2026-07-01T09:30:00Z', zone)?.low).toBe('2026-07-01T09:30:00.000Z');
    }
    expect(reportBoundary('2026-11-30', 'to', SHANGHAI)).toEqual({ low: '2026-11-29T16:00:00.000Z', high: '2026-11-30T15:59:59.999Z' });
    expect(hospitalDateRange('9999-12-31', SHANGHAI)?.high).toBe('9999-12-31T15:59:59.999Z');
  });

  it('R-22: paging defaults to the server page size, is capped at its maximum, and takes an offset', () => {
    expect(parseAuditSearch([], PAGING, SHANGHAI)).toEqual({ criteria: [], count: 20, offset: 0 });
    expect(parseAuditSearch(pairs('_count=1000&_offset=40'), PAGING, SHANGHAI)).toMatchObject({ count: 100, offset: 40 });
  });

  it.each([
    ['an unknown parameter', () => assertAuditSearchParameters(pairs('code=x')), ['code']],
    ['an outcome that is no AuditEvent outcome', () => parseAuditSearch(pairs('outcome=3'), PAGING, SHANGHAI), ['outcome']],
    ['an entity that is no reference', () => parseAuditSearch(pairs('entity=not a reference'), PAGING, SHANGHAI), ['entity']],
    ['a date that is no date', () => parseAuditSearch(pairs('date=ge-yesterday'), PAGING, SHANGHAI), ['date']],
    ['a negative _count', () => parseAuditSearch(pairs('_count=-1'), PAGING, SHANGHAI), ['_count']],
    ['a report bound that is no date', () => reportBoundary('soon', 'from', SHANGHAI), ['from']],
  ])('R-22: %s is a 400 naming the parameter', (_what, run, expression) => {
    expect(refusal(run).expression).toEqual(expression);
  });

  it('R-20: the patients a search names are read one per parameter, with or without the type', () => {
    expect(patientsNamed(pairs('patient=Patient/p1&action=R&patient=p2'))).toEqual(['p1', 'p2']);
    expect(patientsNamed(pairs('patient=p1,p2'))).toEqual(['p1,p2']);
  });
});
