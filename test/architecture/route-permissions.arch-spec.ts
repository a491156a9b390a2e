import 'reflect-metadata';
import { Controller, Get, Post, RequestMethod } from '@nestjs/common';
import { METHOD_METADATA, PATH_METADATA } from '@nestjs/common/constants.js';
import { Permission, ROUTE_PERMISSION, type RoutePermission } from '../../src/fhir/route-permission.js';
import { productionFiles, type SourceFile } from './source-tree.js';

/**
 * Every route of every controller declares its permission (issue #15, the way immich guards its
 * controllers; docs/decisions/0013-layers-and-seams.md): `@Permission.workflow(…)`,
 * `@Permission.record(…)` or `@Permission.public(…)` on the handler, so a route can never be
 * added with no permission at all. Controllers are found by reading src/ (every
 * `*.controller.ts`, and any file declaring `@Controller(`), imported, and walked through the
 * route metadata Nest itself routes by. A controller declares nothing for all its routes at
 * once (no class-level ROUTE_PERMISSION: a route added later must say its own), and a
 * `record(by)` names a class that exists in src/ (the one that decides).
 */

type Constructor = abstract new (...args: never[]) => unknown;

/** A route as Nest registers it, and where it is written. */
interface Route {
  where: string;
  method: string;
  path: string;
  permission: RoutePermission | undefined;
}

const KINDS: RoutePermission['kind'][] = ['workflow', 'record', 'public'];

const joinPath = (...parts: (string | string[] | undefined)[]) =>
  `/${parts
    .map((p) => (Array.isArray(p) ? p.join('|') : (p ?? '')))
    .map((p) => p.replace(/^\/+|\/+$/g, ''))
    .filter(Boolean)
    .join('/')}`;

function controllerFiles(): SourceFile[] {
  return productionFiles().filter((f) => f.path.endsWith('.controller.ts') || /@Controller\(/.test(f.text));
}

async function controllersIn(file: SourceFile): Promise<Constructor[]> {
  const exported = (await import(file.absolute)) as Record<string, unknown>;
  return Object.values(exported).filter((value): value is Constructor => typeof value === 'function' && Reflect.hasMetadata(PATH_METADATA, value));
}

function routesOf(controller: Constructor, file: SourceFile): Route[] {
  const prefix = Reflect.getMetadata(PATH_METADATA, controller) as string | string[] | undefined;
  const proto = controller.prototype as Record<string, unknown>;
  return Object.getOwnPropertyNames(proto)
    .filter((name) => name !== 'constructor' && typeof proto[name] === 'function')
    .map((name) => ({ name, handler: proto[name] as object }))
    .filter(({ handler }) => Reflect.hasMetadata(METHOD_METADATA, handler))
    .map(({ name, handler }) => ({
      where: `${controller.name}.${name} in ${file.path}`,
      method: RequestMethod[Reflect.getMetadata(METHOD_METADATA, handler) as RequestMethod] ?? 'ALL',
      path: joinPath(prefix, Reflect.getMetadata(PATH_METADATA, handler) as string | string[] | undefined),
      permission: Reflect.getMetadata(ROUTE_PERMISSION, handler) as RoutePermission | undefined,
    }));
}

/** A controller with one declared and one undeclared route: the walk must tell them apart. */
@Controller('probe')
class ProbeController {
  @Get('declared')
  @Permission.public('a probe of this test')
  declared() {}

  @Post('undeclared')
  undeclared() {}
}

/** Two record checks: one names a class of src/, one a class that does not exist. */
@Controller('probe-records')
class RecordProbeController {
  @Get('known')
  @Permission.record('SigningService')
  known() {}

  @Get('unknown')
  @Permission.record('NoSuchDecider')
  unknown() {}
}

/** Every class name declared in src/ (`class X`, `abstract class X`). */
const declaredClasses = () => new Set(productionFiles().flatMap((f) => [...f.text.matchAll(/\bclass\s+([A-Z]\w*)/g)].map((m) => m[1])));

/** Record checks whose `by` does not start with a class declared in src/. */
function unknownDeciders(routes: Route[], declared: Set<string>): string[] {
  return routes
    .filter((r) => r.permission?.kind === 'record')
    .filter(({ permission }) => !declared.has(/^[A-Za-z_]\w*/.exec((permission as { by: string }).by.trim())?.[0] ?? ''))
    .map((r) => `${r.method} ${r.path} (${r.where}) is decided by ${JSON.stringify((r.permission as { by: string }).by)}: no such class in src/`);
}

describe('architecture: every route declares its permission (decision 0013)', () => {
  const routes: Route[] = [];
  const found: { file: string; controllers: string[] }[] = [];
  const controllerWide: string[] = [];

  beforeAll(async () => {
    for (const file of controllerFiles()) {
      const controllers = await controllersIn(file);
      found.push({ file: file.path, controllers: controllers.map((c) => c.name) });
      for (const controller of controllers) {
        if (Reflect.hasMetadata(ROUTE_PERMISSION, controller)) controllerWide.push(`${controller.name} in ${file.path} declares ${JSON.stringify(Reflect.getMetadata(ROUTE_PERMISSION, controller))} for the whole controller`);
      }
      for (const controller of controllers) routes.push(...routesOf(controller, file));
    }
  });

  it('the walk tells a declared route from an undeclared one', () => {
    const probe = routesOf(ProbeController, { path: 'test/architecture/route-permissions.arch-spec.ts', absolute: '', text: '' });
    expect(probe.map((r) => [r.method, r.path, r.permission?.kind])).toEqual([
      ['GET', '/probe/declared', 'public'],
      ['POST', '/probe/undeclared', undefined],
    ]);
  });

  it('every controller file exports a Nest controller, and there are routes to check (the walk itself works)', () => {
    expect(found.filter((f) => f.controllers.length === 0).map((f) => `${f.file} declares no exported @Controller class`)).toEqual([]);
    expect(found.length).toBeGreaterThan(0);
    expect(routes.length).toBeGreaterThan(found.length);
  });

  it('every route has @Permission.workflow, .record or .public (chartwarden:route-permission)', () => {
    const missing = routes
      .filter((r) => !r.permission || !KINDS.includes(r.permission.kind))
      .map((r) => `${r.method} ${r.path} (${r.where}) declares no permission: add @Permission.workflow(…), .record(…) or .public(…)`);
    expect(missing).toEqual([]);
  });

  it('a declared permission says what it rests on: a workflow names its action and subject, a record check who decides, a public route why', () => {
    const vague = routes
      .filter((r) => r.permission && KINDS.includes(r.permission.kind))
      .filter(({ permission: p }) =>
        p?.kind === 'workflow' ? !p.action || !p.subject || typeof p.refuse !== 'function' : p?.kind === 'record' ? !p.by?.trim() : !p?.why?.trim(),
      )
      .map((r) => `${r.method} ${r.path} (${r.where}) declares ${JSON.stringify(r.permission)}`);
    expect(vague).toEqual([]);
  });

  it('no controller declares a permission for all its routes at once (each route declares its own)', () => {
    expect(controllerWide).toEqual([]);
  });

  it('a record check names a class that exists in src/ (the one that decides: `record(\'SigningService\')`)', () => {
    const declared = declaredClasses();
    const probe = routesOf(RecordProbeController, { path: 'test/architecture/route-permissions.arch-spec.ts', absolute: '', text: '' });
    expect(unknownDeciders(probe, declared).map((r) => r.split(' (')[0])).toEqual(['GET /probe-records/unknown']);
    expect(unknownDeciders(routes, declared)).toEqual([]);
  });
});
