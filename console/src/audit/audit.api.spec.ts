import { reportQuery } from './report-query';
import { agentOf, auditSearchQuery, detailOf, entitiesOf, patientId, type AuditEvent } from './trail';

/** The auditors' API helpers: the search the form sends (src/audit/audit-search.ts's parameters) and what a page reads from an AuditEvent. */
describe('audit.api', () => {
  it('turns the form into the trail search parameters: patient id, agent, date range as ge/le, outcome, action, subtype, entity, page size', () => {
    const q = new URLSearchParams(
      auditSearchQuery({ patient: ' Patient/p1 ', agent: 'dr-ma', from: '2026-12-01', to: '2026-12-06', outcome: '4', action: 'R', subtype: 'read', entity: 'Composition/c1' }),
    );
    expect([...q]).toEqual([
      ['patient', 'p1'],
      ['agent', 'dr-ma'],
      ['date', 'ge2026-12-01'],
      ['date', 'le2026-12-06'],
      ['outcome', '4'],
      ['action', 'R'],
      ['subtype', 'read'],
      ['entity', 'Composition/c1'],
      ['_count', '20'],
    ]);
    expect(auditSearchQuery({})).toBe('_count=20');
    expect([patientId('Patient/abc'), patientId(' abc '), patientId('')]).toEqual(['abc', 'abc', '']);
  });

  it('asks for the access report by patient id or by 病案号 (R-20), never both; the CSV adds _format', () => {
    expect(reportQuery({ patient: 'p1' }, '2026-12-01', '2026-12-06')).toBe('/audit/access-report?patient=Patient%2Fp1&from=2026-12-01&to=2026-12-06');
    expect(reportQuery({ recordNumber: 'MR 42&x=1' })).toBe('/audit/access-report?recordNumber=MR+42%26x%3D1');
    expect(new URLSearchParams(reportQuery({ recordNumber: '病案-7' }, undefined, undefined, true).split('?')[1]).get('recordNumber')).toBe('病案-7');
    expect(reportQuery({ patient: 'p1' }, undefined, undefined, true)).toBe('/audit/access-report?patient=Patient%2Fp1&_format=csv');
  });

  it('reads who, why, the patient, the records and ChartWarden details from a BALP AuditEvent', () => {
    const event: AuditEvent = {
      resourceType: 'AuditEvent',
      id: '3-7',
      type: { code: '110110' },
      recorded: '2026-12-06T14:00:00.000Z',
      outcome: '0',
      agent: [
        {
          who: { reference: 'Practitioner/dr-ma', identifier: { value: 'dr-ma' } },
          role: [{ coding: [{ code: 'resident' }] }],
          network: { address: '127.0.0.1' },
          purposeOfUse: [{ coding: [{ code: 'BTG' }] }],
        },
      ],
      entity: [
        { what: { reference: 'Patient/p1' }, role: { code: '1' } },
        { what: { reference: 'Composition/c1/_history/1' }, role: { code: '4' } },
      ],
      extension: [{ url: 'x', extension: [{ url: 'breakGlassReason', valueString: '急诊' }, { url: 'httpStatus', valueInteger: 200 }] }],
    };
    expect(agentOf(event)).toEqual({ id: 'dr-ma', practitioner: 'Practitioner/dr-ma', roles: ['resident'], purposes: ['BTG'], address: '127.0.0.1' });
    expect(entitiesOf(event)).toEqual({ patient: 'Patient/p1', records: ['Composition/c1/_history/1'] });
    expect([detailOf(event, 'breakGlassReason'), detailOf(event, 'httpStatus'), detailOf(event, 'rule')]).toEqual(['急诊', '200', undefined]);
  });
});
