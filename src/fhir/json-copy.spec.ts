import fc from 'fast-check';
import { copyJson, deepFreeze, frozenCopyJson } from './json-copy.js';

/** Every object and array inside `value`, `value` included. */
function nodesOf(value: unknown, out: object[] = []): object[] {
  if (value && typeof value === 'object') {
    out.push(value);
    for (const child of Object.values(value)) nodesOf(child, out);
  }
  return out;
}

describe('JSON copies (issue #13: the write chain\'s frozen copy, a Bundle entry\'s rewritten references)', () => {
  it('copies a JSON value as structuredClone does: equal, keys in the same order, nothing shared', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        for (const copy of [copyJson(value), frozenCopyJson(value)]) {
          expect(copy).toStrictEqual(structuredClone(value));
          expect(JSON.stringify(copy)).toBe(JSON.stringify(value));
          const originals = new Set(nodesOf(value));
          for (const node of nodesOf(copy)) expect(originals.has(node)).toBe(false);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('freezes every object and array of the frozen copy, and none of the plain copy or of the original', () => {
    const resource = { resourceType: 'Observation', code: { coding: [{ system: 'http://loinc.org', code: '8867-4' }] }, valueQuantity: { value: 72 } };
    const frozen = frozenCopyJson(resource);
    expect(nodesOf(frozen).every((n) => Object.isFrozen(n))).toBe(true);
    expect(nodesOf(copyJson(resource)).some((n) => Object.isFrozen(n))).toBe(false);
    expect(nodesOf(resource).some((n) => Object.isFrozen(n))).toBe(false);
    expect(() => {
      (frozen.code.coding[0] as { code: string }).code = 'changed';
    }).toThrow(TypeError);
    expect(resource.code.coding[0].code).toBe('8867-4');
  });

  it('keeps what structuredClone keeps outside JSON: holes, undefined members, a `__proto__` key, null-prototype objects', () => {
    // eslint-disable-next-line no-sparse-arrays
    const value = { holes: [1, , 3], missing: undefined, bare: Object.assign(Object.create(null) as object, { a: 1 }), ...JSON.parse('{"__proto__": {"polluted": true}}') } as Record<string, unknown>;
    const copy = copyJson(value);
    expect(copy).toStrictEqual(structuredClone(value));
    expect(1 in (copy.holes as unknown[])).toBe(false);
    expect(Object.keys(copy)).toEqual(Object.keys(value));
    // (structuredClone, which copies a `__proto__` key, makes its objects in Node's realm, not the test's.)
    expect(Object.prototype.hasOwnProperty.call(copy, '__proto__')).toBe(true);
    expect(Object.getPrototypeOf(Object.getPrototypeOf(copy))).toBeNull();
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('leaves what is not JSON to structuredClone: a Date is copied as a Date, a function refused as before', () => {
    const when = new Date(0);
    const copy = frozenCopyJson({ when, list: [when] });
    expect(Object.prototype.toString.call(copy.when)).toBe('[object Date]');
    expect(copy.when).not.toBe(when);
    expect(copy.when.getTime()).toBe(0);
    expect(Object.isFrozen(copy.list)).toBe(true);
    expect(() => copyJson({ f: () => 1 })).toThrow(expect.objectContaining({ name: 'DataCloneError' }));
    expect(() => structuredClone({ f: () => 1 })).toThrow(expect.objectContaining({ name: 'DataCloneError' }));
  });

  it('deepFreeze freezes in place and returns its argument', () => {
    const value = { a: [{ b: 1 }] };
    expect(deepFreeze(value)).toBe(value);
    expect(Object.isFrozen(value.a[0])).toBe(true);
  });
});
