import 'reflect-metadata';
import { PATH_METADATA } from '@nestjs/common/constants.js';
import { WILDCARD_CONTROLLERS } from '../../src/chartwarden.module.js';
import { wildcardIn } from '../../src/common/http-platform.js';
import { productionFiles } from './source-tree.js';

/**
 * A route path ending in a wildcard is written for Express 5 (`*path`) and fitted to Fastify's
 * router before routes are registered (`fitWildcardRoutes`, decision 0021), for the controllers
 * listed in `WILDCARD_CONTROLLERS`. A wildcard route anywhere else would start on Express and fail
 * on Fastify, the server's platform: every controller of src/ is read for one.
 */
describe('wildcard routes are fitted to the platform (decision 0021)', () => {
  it('every controller whose routes end in a wildcard is listed in WILDCARD_CONTROLLERS, and every one listed has such a route', async () => {
    const withWildcards: string[] = [];
    for (const file of productionFiles().filter((f) => /@Controller\(/.test(f.text))) {
      const exported = (await import(file.absolute)) as Record<string, unknown>;
      for (const value of Object.values(exported)) {
        if (typeof value !== 'function' || !Reflect.hasMetadata(PATH_METADATA, value)) continue;
        const proto = value.prototype as Record<string, unknown>;
        const paths = Object.getOwnPropertyNames(proto)
          .filter((name) => name !== 'constructor' && typeof proto[name] === 'function')
          .map((name) => Reflect.getMetadata(PATH_METADATA, proto[name] as object) as string | string[] | undefined);
        if (paths.some((p) => p !== undefined && wildcardIn(p))) withWildcards.push(value.name);
      }
    }
    expect(withWildcards.sort()).toEqual(WILDCARD_CONTROLLERS.map((c) => c.name).sort());
    // Only the named trailing wildcard is fitted: no route of src/ may use another wildcard form.
    const routePaths = (text: string) => [...text.matchAll(/@(?:Get|Post|Put|Patch|Delete|All)\(([^)]*)\)/g)].flatMap((m) => m[1].match(/'[^'\n]*'/g) ?? []);
    const otherForms = productionFiles().flatMap((f) => routePaths(f.text).filter((p) => p.includes('*') && !/(^'|\/)\*path'$/.test(p)).map((p) => `${f.path}: ${p}`));
    expect(otherForms).toEqual([]);
  });
});
