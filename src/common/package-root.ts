import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The directory holding ChartWarden's package.json, whether running from `src/` (tests) or
 * `dist/src/` (built), or installed under a host's node_modules. Shipped data files
 * (`fhir-profiles/`, the default policy) are found from here.
 */
export function packageRoot(from: string = import.meta.url): string {
  let dir = dirname(fileURLToPath(from));
  for (;;) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'fhir-profiles'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error('ChartWarden package root (with fhir-profiles/) not found');
    dir = parent;
  }
}
