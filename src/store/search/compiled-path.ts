import {
  AsAtom,
  DotAtom,
  FunctionAtom,
  getElementDefinition,
  getTypedPropertyValueWithoutSchema,
  getTypedPropertyValueWithSchema,
  isEmpty,
  isResource,
  SymbolAtom,
  type Atom,
  type AtomContext,
  type FhirPathAtom,
  type InternalSchemaElement,
  type TypedValue,
} from '@medplum/core';

/*
 * Search parameter expressions evaluated without the interpreter's overhead (issue #13: at bulk
 * load, FHIRPath evaluation was a third of each resource's index extraction). Nearly every R4
 * search expression is a path (`Observation.component.code`), with at most a type filter
 * (`(Observation.value as Quantity)`, `value.as(Quantity)`). Those steps are done here exactly as
 * `@medplum/core` 4.5 does them (`SymbolAtom`, `DotAtom`, `AsAtom`, the `as()` function,
 * `getTypedPropertyValue`), with the property names a choice element may take computed once
 * per element rather than on every lookup; any other node (`where(resolve() is Patient)`) is
 * handed to medplum's own `eval` with the context medplum gives it. The result is the one
 * `evalFhirPathTyped` returns: `compiled-path.spec.ts` compares the two on every R4 parameter.
 */

/** An expression's evaluation: `evalFhirPathTyped(atom, input)`, faster. */
export type CompiledPath = (input: TypedValue[]) => TypedValue[];

type Step = (context: AtomContext, input: TypedValue[]) => TypedValue[];

const compiledPaths = new WeakMap<FhirPathAtom, CompiledPath>();

/** The compiled form of a parsed expression, built once per atom. */
export function compiledPath(atom: FhirPathAtom): CompiledPath {
  let compiled = compiledPaths.get(atom);
  if (!compiled) compiledPaths.set(atom, (compiled = compile(atom)));
  return compiled;
}

function compile(atom: FhirPathAtom): CompiledPath {
  const child = stepOf(atom.child);
  return (input) => {
    // evalFhirPathTyped's context, fresh per call; then FhirPathAtom.eval: each input element on its own, as `$this`.
    const root: AtomContext = { variables: {} };
    let values: TypedValue[];
    if (input.length === 0) values = child(root, []);
    else if (input.length === 1) values = child({ parent: root, variables: { $this: input[0] } }, input);
    else values = input.flatMap((e) => child({ parent: root, variables: { $this: e } }, [e]));
    // evalFhirPathTyped's last step.
    return values.map((v) => ({ type: v.type, value: (v.value as { valueOf(): unknown } | null | undefined)?.valueOf() }));
  };
}

function stepOf(atom: Atom): Step {
  // Not `$this`, `%resource`…, nor a name that reads as a variable off a plain object (`constructor`).
  if (atom instanceof SymbolAtom && !/^[$%]/.test(atom.name) && !(atom.name in Object.prototype)) return symbolStep(atom.name);
  if (atom instanceof DotAtom) {
    const left = stepOf(atom.left);
    const right = stepOf(atom.right);
    return (context, input) => right(context, left(context, input));
  }
  // `x.as(T)`: medplum's `as()` returns its input whatever T is.
  if (atom instanceof FunctionAtom && atom.name === 'as') return (_context, input) => input;
  // `x as T`: the values of type T.
  if (atom instanceof AsAtom && atom.right instanceof SymbolAtom) {
    const left = stepOf(atom.left);
    const type = atom.right.name;
    return (context, input) => left(context, input).filter((e) => e.type === type);
  }
  return (context, input) => atom.eval(context, input);
}

/** SymbolAtom.eval for a name that is no variable: the resource itself when it is of that type, else the property. */
function symbolStep(name: string): Step {
  return (_context, input) => {
    const out: TypedValue[] = [];
    for (const e of input) {
      const value = e.value as unknown;
      if (!value || typeof value !== 'object') continue;
      if (isResource(value, name as never)) {
        out.push(e);
        continue;
      }
      const found = propertyValue(e, name);
      if (Array.isArray(found)) {
        for (const f of found) if (f?.value !== undefined) out.push(f);
      } else if (found?.value !== undefined) out.push(found);
    }
    return out;
  };
}

/** getTypedPropertyValue(input, path) without a profile. */
function propertyValue(input: TypedValue, path: string): TypedValue[] | TypedValue | undefined {
  if (!input.value) return undefined;
  const element = getElementDefinition(input.type, path);
  return element ? valueWithSchema(input, path, element) : getTypedPropertyValueWithoutSchema(input, path);
}

/** The names a value of the element may have (`valueQuantity`, …) with their types, per element. */
const candidatesOf = new WeakMap<InternalSchemaElement, { key: string; extension: string; type: string }[]>();

/**
 * getTypedPropertyValueWithSchema: the first of the element's types whose property the input
 * holds (or holds a primitive extension of: that case, rare, is left to medplum as it is).
 */
function valueWithSchema(input: TypedValue, path: string, element: InternalSchemaElement): TypedValue[] | TypedValue | undefined {
  const types = element.type;
  if (!types || types.length === 0) return undefined;
  let candidates = candidatesOf.get(element);
  if (!candidates) {
    const last = element.path.substring(element.path.lastIndexOf('.') + 1);
    candidates = types.map((t) => {
      const key = last.replace('[x]', capitalize(t.code));
      return { key, extension: `_${key}`, type: t.code };
    });
    candidatesOf.set(element, candidates);
  }
  const value = input.value as Record<string, unknown>;
  let result: unknown;
  let resultType = 'undefined';
  for (const c of candidates) {
    result = value[c.key];
    if (value[c.extension] !== undefined) return getTypedPropertyValueWithSchema(input, path, element);
    if (result !== undefined) {
      resultType = c.type;
      break;
    }
  }
  if (isEmpty(result)) return undefined;
  if (resultType === 'Element' || resultType === 'BackboneElement') resultType = types[0].code;
  if (Array.isArray(result)) return result.map((r) => typed(r, resultType));
  return typed(result, resultType);
}

function typed(value: unknown, type: string): TypedValue {
  return { type: type === 'Resource' && isResource(value) ? value.resourceType : type, value };
}

/** medplum's `capitalize`. */
function capitalize(word: string): string {
  return word ? word.charAt(0).toUpperCase() + word.substring(1) : '';
}
