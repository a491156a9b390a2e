import { failedResult, resultOf, runView, type IntegrityRun } from './integrity-run.js';

describe('integrity runs: what a verifier\'s report means for the run (issue #18)', () => {
  it('R-21: an audit report with no break is intact, counting chains and entries', () => {
    expect(resultOf('audit', { chains: [{}, {}, {}], entries: 120 })).toEqual({ outcome: 'intact', units: 3, entries: 120 });
  });

  it('R-21: an audit report naming a break is broken: broken chains counted, the first break kept with where it is', () => {
    const first = { chain: 2, seq: 5, problem: 'content-altered', detail: 'chain 2: entry 5 does not match its hash' };
    const result = resultOf('audit', { chains: [{}, { broken: first }, { broken: { problem: 'entry-missing', detail: 'x' } }], entries: 80, broken: first });
    expect(result).toEqual({ outcome: 'broken', units: 3, entries: 80, breaks: 2, firstBreak: first });
    expect(result.firstBreak).not.toBe(first);
  });

  it('a break no chain carries (a checkpoint\'s difference) still counts as one', () => {
    expect(resultOf('audit', { chains: [{}], entries: 4, broken: { problem: 'chain-cut', detail: 'against checkpoint' } })).toMatchObject({ outcome: 'broken', breaks: 1 });
  });

  it('R-12: a ledger report counts documents and versions, and its breaks', () => {
    expect(resultOf('ledger', { documents: 4, entries: 10, breaks: [] })).toEqual({ outcome: 'intact', units: 4, entries: 10 });
    const first = { document: 'Composition/a', version: 2, problem: 'entry-missing', detail: 'Composition/a: version 2 has no ledger entry' };
    expect(resultOf('ledger', { documents: 4, entries: 9, broken: first, breaks: [first, first] })).toEqual({ outcome: 'broken', units: 4, entries: 9, breaks: 2, firstBreak: first });
  });

  it('a failure keeps the message only, never blank', () => {
    expect(failedResult(new Error('Connection terminated'))).toEqual({ outcome: 'failed', failure: 'Connection terminated' });
    expect(failedResult(new Error('  '))).toEqual({ outcome: 'failed', failure: 'the verification stopped without saying why' });
    expect(failedResult('timeout')).toEqual({ outcome: 'failed', failure: 'timeout' });
  });

  it('a run reads with counts named for its kind and instants in ISO 8601', () => {
    const base: IntegrityRun = {
      id: 'r1',
      kind: 'ledger',
      startedBy: { via: 'api', id: 'zhao', practitioner: 'Practitioner/zhao', requestId: 'q1' },
      startedAt: new Date('2026-12-01T00:29:15.616Z'),
    };
    expect(runView(base, 'running')).toEqual({
      id: 'r1',
      kind: 'ledger',
      status: 'running',
      scope: 'everything',
      startedBy: base.startedBy,
      startedAt: '2026-12-01T00:29:15.616Z',
      finishedAt: undefined,
      durationMs: undefined,
      checked: undefined,
      breaks: undefined,
      firstBreak: undefined,
      failure: undefined,
    });
    const done: IntegrityRun = { ...base, kind: 'audit', scope: 'since 2026-11-01T00:00:00.000Z', finishedAt: new Date('2026-12-01T00:29:16.000Z'), durationMs: 384, result: { outcome: 'intact', units: 4, entries: 12 } };
    expect(runView(done, 'intact')).toMatchObject({ scope: 'since 2026-11-01T00:00:00.000Z', finishedAt: '2026-12-01T00:29:16.000Z', durationMs: 384, checked: { chains: 4, entries: 12 } });
    expect(runView({ ...done, kind: 'ledger' }, 'intact').checked).toEqual({ documents: 4, versions: 12 });
    expect(runView({ ...done, result: { outcome: 'failed', failure: 'gone' } }, 'failed')).toMatchObject({ checked: undefined, failure: 'gone' });
  });
});
