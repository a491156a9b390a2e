import { handBackWitnessAnswer, WITNESS_MESSAGE, WITNESS_PENDING } from './witness-callback';

/** The popup's side of a witness's sign-in, with a stand-in window: hands back only the answer to the request begun here, only to this origin. */
function popupWindow(pending: unknown, withOpener = true) {
  const storage = new Map<string, string>(pending === undefined ? [] : [[WITNESS_PENDING, JSON.stringify(pending)]]);
  const posted: { message: unknown; targetOrigin: string }[] = [];
  let closed = false;
  const win = {
    sessionStorage: { getItem: (k: string) => storage.get(k) ?? null, removeItem: (k: string) => void storage.delete(k) },
    opener: withOpener ? { postMessage: (message: unknown, targetOrigin: string) => posted.push({ message, targetOrigin }) } : null,
    location: { origin: 'https://emr.example' },
    close: () => void (closed = true),
  } as unknown as Window;
  return { win, storage, posted, closed: () => closed };
}

describe('witness sign-in callback (popup side)', () => {
  it('hands the code back to the opener at this origin only, forgets the state and closes', () => {
    const p = popupWindow({ state: 's-1' });
    expect(handBackWitnessAnswer(new URLSearchParams('code=c-1&state=s-1'), p.win)).toBe(true);
    expect(p.posted).toEqual([{ message: { type: WITNESS_MESSAGE, state: 's-1', code: 'c-1' }, targetOrigin: 'https://emr.example' }]);
    expect([p.storage.has(WITNESS_PENDING), p.closed()]).toEqual([false, true]);
  });

  it('hands back the provider\'s error', () => {
    const p = popupWindow({ state: 's-1' });
    expect(handBackWitnessAnswer(new URLSearchParams('error=access_denied&error_description=no&state=s-1'), p.win)).toBe(true);
    expect(p.posted.map((m) => m.message)).toEqual([{ type: WITNESS_MESSAGE, state: 's-1', error: 'access_denied: no' }]);
  });

  it('leaves any other answer to the officer\'s own sign-in: another state, no witness request, no opener', () => {
    for (const [pending, search, opener] of [
      [{ state: 's-1' }, 'code=c&state=s-2', true],
      [undefined, 'code=c&state=s-1', true],
      [{ state: 's-1' }, 'code=c', true],
      [{ state: 's-1' }, 'code=c&state=s-1', false],
    ] as const) {
      const p = popupWindow(pending, opener);
      expect(handBackWitnessAnswer(new URLSearchParams(search), p.win)).toBe(false);
      expect([p.posted, p.closed()]).toEqual([[], false]);
    }
  });
});
