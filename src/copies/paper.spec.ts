import type { Composition, Organization, Practitioner, Resource } from '@medplum/fhirtypes';
import type { PatientRecordIndex, RecordRef } from '../store/patient-record-index.port.js';
import { nameOf, namesFor, paperTime, personName } from './paper.js';

const stored: Resource[] = [
  { resourceType: 'Practitioner', id: 'dr-wang', name: [{ use: 'old', text: '王建' }, { use: 'official', family: '王', given: ['建国'] }] } as Practitioner,
  { resourceType: 'Practitioner', id: 'rn-li', name: [{ family: '李', given: ['护士'] }] } as Practitioner,
  { resourceType: 'Practitioner', id: 'nameless' } as Practitioner,
  { resourceType: 'Organization', id: 'lab', name: '检验科' } as Organization,
  { resourceType: 'Patient', id: 'p1', name: [{ text: '王小明' }] },
];

function index() {
  const calls: RecordRef[][] = [];
  const records = {
    readMany: async (refs: readonly RecordRef[]) => {
      calls.push([...refs]);
      return stored.filter((r) => refs.some((x) => x.type === r.resourceType && x.id === r.id)).map((resource) => ({ resource, versionId: '1', lastUpdated: '2026-01-01T00:00:00Z' }));
    },
  } as unknown as PatientRecordIndex;
  return { records, calls };
}

describe('signers by name on papers (issue #18)', () => {
  const note: Composition = {
    resourceType: 'Composition',
    id: 'c1',
    status: 'final',
    type: {},
    date: '2026-03-01T00:29:15Z',
    title: '出院记录',
    subject: { reference: 'Patient/p1' },
    contained: [{ resourceType: 'Practitioner', id: 'x', name: [{ text: '内嵌' }] }],
    author: [{ reference: 'Practitioner/dr-wang' }, { reference: 'https://his.example/fhir/Practitioner/rn-li/_history/3' }, { reference: '#x' }],
    attester: [{ mode: 'legal', party: { reference: 'Practitioner/dr-wang' } }, { mode: 'official', party: { reference: 'Organization/lab' } }],
    custodian: { reference: 'Organization/gone' },
    section: [{ author: [{ reference: 'Practitioner/nameless' }] }],
  };

  it('the practitioners, departments and patient a record names are read once, through the index, and named in Han order (the official name)', async () => {
    const { records, calls } = index();
    const names = await namesFor(records, [note], ['Practitioner/rr-clerk']);
    expect(calls).toHaveLength(1);
    expect(calls[0].map((r) => `${r.type}/${r.id}`).sort()).toEqual(['Organization/gone', 'Organization/lab', 'Patient/p1', 'Practitioner/dr-wang', 'Practitioner/nameless', 'Practitioner/rn-li', 'Practitioner/rr-clerk']);
    // The subject by name too; one unknown to the store or without a name is left out.
    expect(names).toEqual(new Map([['Practitioner/dr-wang', '王建国'], ['Practitioner/rn-li', '李护士'], ['Organization/lab', '检验科'], ['Patient/p1', '王小明']]));
  });

  it('a paper prints the name the record was written with, else the store\'s, else the reference: never nothing', async () => {
    const paper = { timeZone: 'Asia/Shanghai', names: await namesFor(index().records, [note]) };
    expect(nameOf({ reference: 'Practitioner/dr-wang' }, paper)).toBe('王建国');
    expect(nameOf({ reference: 'Practitioner/dr-wang', display: '王主任' }, paper)).toBe('王主任');
    expect(nameOf({ reference: 'Practitioner/nameless' }, paper)).toBe('Practitioner/nameless');
    expect(nameOf({ display: '外院医生' }, paper)).toBe('外院医生');
    expect(nameOf(undefined, paper)).toBeUndefined();
    expect(paperTime(note.date, paper)).toBe('2026-03-01 08:29');
  });

  it('nothing to name reads nothing', async () => {
    const { records, calls } = index();
    expect(await namesFor(records, [{ resourceType: 'Basic', id: 'b', code: {}, subject: { reference: 'Group/g1' } }])).toEqual(new Map());
    expect(calls).toEqual([]);
  });

  it('personName: the official name, else the first not marked old; Western names given name first', () => {
    expect(personName([{ use: 'old', text: '旧名' }, { family: '张', given: ['三'] }])).toBe('张三');
    expect(personName([{ family: 'Smith', given: ['John'] }])).toBe('John Smith');
    expect(personName(undefined)).toBeUndefined();
  });
});
