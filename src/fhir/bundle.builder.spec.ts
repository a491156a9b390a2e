import { pagingLinks, type PageLinks } from './bundle.builder.js';

const page: PageLinks = {
  url: 'https://ward.example/fhir/Observation',
  params: [
    ['patient', 'p1'],
    ['_total', 'accurate'],
  ],
  count: 10,
  offset: 10,
  total: 30,
  full: true,
};
const query = (url: string | undefined) => new URL(url ?? 'missing:').searchParams;

describe('pagingLinks', () => {
  it('every link of a page carries its total token once, after the paging parameters (issue #13)', () => {
    const links = pagingLinks({ ...page, totalToken: '30.1765353600.mac' });
    expect(links.map((l) => l.relation)).toEqual(['self', 'first', 'previous', 'next']);
    for (const link of links) {
      expect(query(link.url).getAll('_total-token')).toEqual(['30.1765353600.mac']);
      expect([...query(link.url).keys()].at(-1)).toBe('_total-token');
      expect(query(link.url).get('patient')).toBe('p1');
    }
    expect(query(links.find((l) => l.relation === 'next')?.url).get('_offset')).toBe('20');
  });

  it('no token, no parameter: a search that carries no total links as before', () => {
    for (const link of pagingLinks(page)) expect(query(link.url).has('_total-token')).toBe(false);
  });
});
